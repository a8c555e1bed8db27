"""Issue 4's questions over the large store: `lineage impact` of a data md5 and `lineage graph
--format json` of a model version, cold processes, against answering a comparable question
through `MlflowClient.search_runs` (tag filter, the reference of the queries goal); and
`lineage graph --format svg` of a graph of about 500 nodes (through the real `dot`).

DVC has no tool that answers either question across history: `dvc dag` draws the pipeline of
the checked-out commit only, and no DVC command maps a data hash to the runs or models that used
it. So there is no DVC row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import fixtures
from fixtures import LINEAGE, PYTHON, Workspace
from report import Section, ms, ratio, timing_cells, verdict
from timing import Summary, alternate, run, timed

from lineage.adapters import git
from lineage.adapters.store import Store

SVG_RUNS = 460
QUERY_BUDGET = 0.05  # as the queries goal: milliseconds, offline, vs a cold MLflow lookup
CLIENT_SEARCH = """\
import sys
from mlflow import MlflowClient
uri, experiment, key, value = sys.argv[1:5]
runs = MlflowClient(uri).search_runs([experiment], filter_string=f"tags.`{key}` = '{value}'")
print("found", len(runs))
"""

Log = Callable[[str], None]


def sections(
    ws: Workspace,
    rs: fixtures.RecordsStore,
    runs: fixtures.RunsStore,
    *,
    repeats: int,
    warmup: int,
    log: Log,
) -> list[Section]:
    env = ws.env()
    repo = rs.repo
    model = f"churn/{max(1, rs.n // 20)}"  # churn/5000 of 100,000 records (~1 run in 10 made one)
    impact = [LINEAGE, "impact", rs.md5, "--json", "--no-aliases"]
    graph = [LINEAGE, "graph", model, "--format", "json", "--no-aliases"]
    # The SVG case: a commit with SVG_RUNS runs under it and their model versions (~1 in 10).
    svg_repo = ws.fresh("graph-500")
    run(["git", "init", "-q", svg_repo], cwd=svg_repo, env=env)
    run(["git", "commit", "-q", "--allow-empty", "-m", "Train"], cwd=svg_repo, env=env)
    sha = run(["git", "rev-parse", "HEAD"], cwd=svg_repo, env=env).stdout.strip()
    made, beside = fixtures.fresh_records(SVG_RUNS, sha, seed=4_242_424)
    Store(git.discover(svg_repo)).append(made + beside)
    big = [LINEAGE, "graph", sha, "--downstream", "--format", "json", "--no-aliases"]
    svg_path = ws.scratch / "graph-500.svg"
    svg = [*big[:-3], "--format", "svg", "-o", svg_path, "--no-aliases"]
    affected = json.loads(run(impact, cwd=repo, env=env).stdout)
    drawn = json.loads(run(big, cwd=svg_repo, env=env).stdout)
    shown = json.loads(run(graph, cwd=repo, env=env).stdout)
    n_nodes, n_edges = len(drawn["nodes"]), len(drawn.get("edges") or drawn.get("links") or [])
    log(f"graphs: impact finds {len(affected.get('runs', []))} runs; svg graph {n_nodes} nodes")

    def probe(argv: list[object], where: Path = repo) -> Callable[[], dict[str, float]]:
        return lambda: timed(argv, cwd=where, env=env)  # type: ignore[arg-type]

    tag = ["lineage.record", runs.record]
    cases = {
        "impact": probe(impact),
        "graph-json": probe(graph),
        "svg": probe(svg, svg_repo),
        "client-search": probe([PYTHON, "-c", CLIENT_SEARCH, runs.uri, runs.experiment_id, *tag]),
    }
    s = alternate(cases, repeats=repeats, warmup=warmup, progress=lambda m: log(f"  graphs: {m}"))
    w = {k: Summary.of(v["wall"]) for k, v in s.items()}
    ref = w["client-search"]
    section = Section(
        f"Graph and impact over {rs.n:,} records",
        f"The queries goal's store ({rs.n:,} records, index built). `impact` of a data md5 read "
        f"by {rs.runs_of_md5} runs (every run and model version made from it, transitively; "
        f"{len(affected.get('runs', []))} runs and {len(affected.get('models', []))} model "
        f"versions), `graph --format json` of model version {model} (upstream; "
        f"{len(shown['nodes'])} nodes), and `graph <commit> --downstream --format svg` of a "
        f"commit with {SVG_RUNS} runs under it, in a store of its own ({n_nodes} nodes, "
        f"{n_edges} edges), each a fresh process with "
        f"`--no-aliases` (the offline answer; aliases add one registry call per model name). "
        f"Reference: a cold `MlflowClient(sqlite).search_runs` by tag over {runs.n:,} runs. "
        f"Goal for the two queries: ≤ {QUERY_BUDGET}× the reference, like the other queries.",
        ["What", "median ms", "min ms", "n", "ratio", "goal", "result"],
    )
    limit = f"≤ {QUERY_BUDGET}× (≤ {ms(QUERY_BUDGET * ref.median)} ms)"
    for key, label in (
        ("impact", f"`lineage impact <md5> --json` ({rs.runs_of_md5} runs read it)"),
        ("graph-json", f"`lineage graph {model} --format json`"),
    ):
        cell = w[key]
        ok = cell.median <= QUERY_BUDGET * ref.median
        section.rows.append(
            [label, *timing_cells(cell), ratio(cell.median / ref.median), limit, verdict(ok)]
        )
    section.rows.append(
        [
            f"`lineage graph <commit> --format svg -o …` ({n_nodes} nodes, through `dot`)",
            *timing_cells(w["svg"]),
            ratio(w["svg"].median / ref.median),
            "",
            "",
        ]
    )
    section.rows.append(
        [
            f"cold `MlflowClient(sqlite).search_runs` by tag ({runs.n:,} runs) — reference",
            *timing_cells(ref),
            "1×",
            "",
            "",
        ]
    )
    return [section]
