"""Benchmark lineage against its performance goals; see bench/README.md.

.venv/bin/python bench/run.py [--quick | --smoke] [--only NAME[,NAME]] [--records N] [--runs N]
                              [--repeats N] [--out docs/benchmarks.md] [--work DIR] [--rebuild]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import exports
import fixtures
import graphs
import history
import hooks
import registry
import report
import reproduce
import scale
import sync
import team
from fixtures import LINEAGE, PYTHON, TRIVIAL, Workspace
from report import MISS, Section, ms, ratio, timing_cells, verdict
from timing import HEAVY, Summary, alternate, import_profile, paired, timed

from lineage.adapters import git
from lineage.adapters.store import Store

ROOT = fixtures.BENCH.parent
PRE_CHILD_BUDGET_S = 0.150  # goal (a): lineage run may add this much before the child starts
QUERY_BUDGET = 0.05  # goal (b): a query may take this fraction of a cold MlflowClient lookup
APPENDS = 50  # in-process Store.append samples
# What --only can pick: the baselines, goals (a) `lineage run`, (b) queries, (c) imports,
# `graph`/`impact` (bench/graphs.py), `export openlineage`/`export prov` (bench/exports.py),
# `import mlflow`/`audit` (bench/history.py), `import
# mlflow` through a PostgreSQL-backed server (bench/team.py), `lineage reproduce`
# (bench/reproduce.py), `lineage push`/`pull` (bench/sync.py), the pre-commit hook against
# DVC's (bench/hooks.py), the same measures at 100,000 and 1,000,000 records (bench/scale.py)
# and model lookups on a SQLite registry (bench/registry.py). A full run does all of them, in
# this order.
PARTS = (
    "baselines",
    "run",
    "queries",
    "imports",
    "graphs",
    "exports",
    "history",
    "team",
    "reproduce",
    "sync",
    "hooks",
    "scale",
    "registry",
)
LOAD = "load average (1, 5, 15 min) before / after"

# One cold MlflowClient lookup in a fresh process: the run whose tag KEY = VALUE.
CLIENT_SEARCH = """\
import sys
from mlflow import MlflowClient
uri, experiment, key, value = sys.argv[1:5]
runs = MlflowClient(uri).search_runs([experiment], filter_string=f"tags.`{key}` = '{value}'")
print("found", len(runs), runs[0].info.run_id if runs else "-")
"""
CLIENT_GET = """\
import sys
from mlflow import MlflowClient
run = MlflowClient(sys.argv[1]).get_run(sys.argv[2])
print("found 1", run.info.run_id)
"""
# The same facts through MLflow's REST API, with nothing but the standard library.
REST_SEARCH = """\
import json, sys, urllib.request
url, experiment, key, value = sys.argv[1:5]
body = {"experiment_ids": [experiment], "filter": f"tags.`{key}` = '{value}'", "max_results": 10}
request = urllib.request.Request(url + "/api/2.0/mlflow/runs/search",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=60) as response:
    runs = json.load(response).get("runs", [])
print("found", len(runs), runs[0]["info"]["run_id"] if runs else "-")
"""
REST_GET = """\
import json, sys, urllib.request
url, run_id = sys.argv[1:3]
with urllib.request.urlopen(f"{url}/api/2.0/mlflow/runs/get?run_id={run_id}", timeout=60) as r:
    run = json.load(r)["run"]
print("found 1", run["info"]["run_id"])
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def progress(name: str) -> Callable[[str], None]:
    return lambda message: log(f"  {name}: {message}")


def probe(
    argv: list[str | Path], *, cwd: Path, env: dict[str, str], expect: str | None = None
) -> Callable[[], dict[str, float]]:
    return lambda: timed(argv, cwd=cwd, env=env, expect=expect)


def append_timings(
    store: Store,
    fresh: tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]],
) -> Summary:
    """Median of ``Store.append([one record])`` in this process (the first 3 are warm-ups)."""
    records, beside = fresh
    store.append(beside)  # the environment record the runs name, as `lineage run` stores it
    for record in records[:3]:  # warm: first pygit2 open, first git calls
        store.append([record])
    samples = []
    for record in records[3:]:
        start = time.perf_counter()
        store.append([record])
        samples.append(time.perf_counter() - start)
    return Summary.of(samples)


# Baselines


def baselines(ws: Workspace, repeats: int, warmup: int) -> Section:
    repo = fixtures.small_repo(ws, "baseline")
    env = ws.env()
    samples = alternate(
        {
            "python": probe([PYTHON, "-c", "pass"], cwd=repo, env=env),
            "commit": probe(
                ["git", "commit", "-q", "--allow-empty", "-m", "bench"], cwd=repo, env=env
            ),
            "pygit2": probe([PYTHON, "-c", "import pygit2"], cwd=repo, env=env),
            "mlflow": probe([PYTHON, "-c", "import mlflow"], cwd=repo, env=env),
            "help": probe([LINEAGE, "--help"], cwd=repo, env=env),
        },
        repeats=repeats,
        warmup=warmup,
        progress=progress("baselines"),
    )
    head = git.discover(repo)
    commit = fixtures.run(["git", "rev-parse", "HEAD"], cwd=repo, env=env).stdout.strip()
    append = append_timings(Store(head), fixtures.fresh_records(APPENDS + 3, commit, seed=7))
    labels = {
        "python": "`python -c pass` (interpreter start)",
        "commit": "`git commit` (no hooks, small repo)",
        "pygit2": "`python -c 'import pygit2'`",
        "mlflow": "`python -c 'import mlflow'`",
        "help": "`lineage --help`",
    }
    section = Section(
        "Baselines",
        "Reference costs measured in the same session (fresh processes, "
        "alternated), and one in-process cost.",
        ["What", "median ms", "min ms", "n"],
    )
    for key, label in labels.items():
        section.rows.append([label, *timing_cells(Summary.of(samples[key]["wall"]))])
    section.rows.append(
        [
            f"`Store.append` of 1 record, in process, small store (over {APPENDS})",
            *timing_cells(append),
        ]
    )
    return section


# Goal (a): lineage run overhead


def goal_a(ws: Workspace, repeats: int, warmup: int) -> Section:
    log("goal (a): building the git + DVC repository")
    fx = fixtures.run_repo(ws)
    env = ws.env(MLFLOW_TRACKING_URI=fx.uri)
    cwd = fx.repo
    cases = {
        "bare": probe([PYTHON, "train.py"], cwd=cwd, env=env, expect="bench-t end"),
        "wrapped": probe(
            [LINEAGE, "run", "--", "python", "train.py"], cwd=cwd, env=env, expect="bench-t end"
        ),
        "bare-trivial": probe([PYTHON, "-c", TRIVIAL], cwd=cwd, env=env, expect="bench-t"),
        "wrapped-trivial": probe(
            [LINEAGE, "run", "--", "python", "-c", TRIVIAL], cwd=cwd, env=env, expect="bench-t"
        ),
        "lookup": probe(
            [PYTHON, "-c", CLIENT_SEARCH, fx.uri, "0", "lineage.session", "0123456789abcdef"],
            cwd=cwd,
            env=env,
            expect="found",
        ),
    }
    s = alternate(cases, repeats=repeats, warmup=warmup, progress=progress("goal (a)"))
    bare, wrapped = s["bare"], s["wrapped"]
    tbare, twrapped = s["bare-trivial"], s["wrapped-trivial"]
    lookup = Summary.of(s["lookup"]["wall"])
    pre = Summary.of(paired(bare["start"], wrapped["start"]))
    in_child = Summary.of(
        paired(
            [e - b for b, e in zip(bare["start"], bare["end"], strict=True)],
            [e - b for b, e in zip(wrapped["start"], wrapped["end"], strict=True)],
        )
    )
    post = Summary.of(
        paired(
            [w - e for w, e in zip(bare["wall"], bare["end"], strict=True)],
            [w - e for w, e in zip(wrapped["wall"], wrapped["end"], strict=True)],
        )
    )
    total = Summary.of(paired(bare["wall"], wrapped["wall"]))
    tpre = Summary.of(paired(tbare["start"], twrapped["start"]))
    tpost = Summary.of(
        paired(
            [w - st for w, st in zip(tbare["wall"], tbare["start"], strict=True)],
            [w - st for w, st in zip(twrapped["wall"], twrapped["start"], strict=True)],
        )
    )
    bare_wall, wrapped_wall = Summary.of(bare["wall"]), Summary.of(wrapped["wall"])
    budget = f"≤ {PRE_CHILD_BUDGET_S * 1000:.0f} ms"
    section = Section(
        "Goal (a): `lineage run` overhead",
        "A git + DVC repository set up with `lineage init` (one small `.dvc`-tracked file), a "
        "training script doing `import mlflow; with mlflow.start_run(): "
        'mlflow.log_metric("m", 1.0)` against a SQLite store outside the repository. '
        "Bare `python train.py` vs `lineage run -- python train.py`, alternated. The child "
        "prints `time.time()` as its first and last statements: *pre-child* is how much later "
        "the child's first line ran under `lineage run` than bare (same interpreter start on "
        "both sides, so it cancels), *post-child* is how much longer the process lived after "
        "the child's last line than bare, *in-child* how much longer the child itself took. "
        "Differences are paired within a round. Goal: pre-child ≤ 150 ms; post-child ≤ one "
        "cold `MlflowClient().search_runs(...)` in a fresh process against the same store.",
        ["What", "median ms", "min ms", "n", "ratio", "goal", "result"],
    )
    rows = section.rows
    rows.append(["`python train.py` (bare)", *timing_cells(bare_wall), "1×", "", ""])
    rows.append(
        [
            "`lineage run -- python train.py`",
            *timing_cells(wrapped_wall),
            ratio(wrapped_wall.median / bare_wall.median),
            "",
            "",
        ]
    )
    rows.append(
        [
            "↳ added in total (paired)",
            *timing_cells(total),
            "",
            f"≤ {ms(PRE_CHILD_BUDGET_S + lookup.median)} ms",
            verdict(total.median <= PRE_CHILD_BUDGET_S + lookup.median),
        ]
    )
    rows.append(
        [
            "↳ pre-child: child's first line later by",
            *timing_cells(pre),
            "",
            budget,
            verdict(pre.median <= PRE_CHILD_BUDGET_S),
        ]
    )
    rows.append(["↳ in-child: child ran longer by", *timing_cells(in_child), "", "", ""])
    rows.append(
        [
            "↳ post-child: process outlived the child's last line by",
            *timing_cells(post),
            ratio(post.median / lookup.median) + " lookup",
            "≤ 1× lookup",
            verdict(post.median <= lookup.median),
        ]
    )
    rows.append(
        [
            "cold `MlflowClient().search_runs(...)`, fresh process, same store",
            *timing_cells(lookup),
            "1× lookup",
            "",
            "",
        ]
    )
    rows.append(
        [
            "`python -c <print time>` (bare, trivial child)",
            *timing_cells(Summary.of(tbare["wall"])),
            "",
            "",
            "",
        ]
    )
    rows.append(
        [
            "`lineage run -- python -c <print time>`",
            *timing_cells(Summary.of(twrapped["wall"])),
            "",
            "",
            "",
        ]
    )
    rows.append(
        [
            "↳ pre-child (trivial child)",
            *timing_cells(tpre),
            "",
            budget,
            verdict(tpre.median <= PRE_CHILD_BUDGET_S),
        ]
    )
    rows.append(
        [
            "↳ post-child (trivial child: no MLflow run, no environment file)",
            *timing_cells(tpost),
            ratio(tpost.median / lookup.median) + " lookup",
            "≤ 1× lookup",
            verdict(tpost.median <= lookup.median),
        ]
    )
    section.notes += [
        "The bare side also runs in a `lineage init`-ed repository, so lineage's MLflow "
        "run-context plugin is active there too (one `git status` for the tags-only path); "
        "under `lineage run` it instead writes the interpreter's environment file "
        "(the in-child row).",
        "With the trivial child, lineage finds no environment file and probes the interpreter "
        "itself (an extra `python` process) before reading MLflow back.",
    ]
    return section


# Goal (b): queries on a large store


def goal_b(
    ws: Workspace, n_records: int, n_runs: int, repeats: int, warmup: int, index_builds: int
) -> tuple[Section, fixtures.RecordsStore]:
    rs = fixtures.records_store(ws, n_records, progress("records"))
    runs = fixtures.mlflow_runs_store(ws, n_runs, progress("mlflow runs"))
    env = ws.env()
    repo = rs.repo
    query = [LINEAGE, "log", "-n", "20"]

    log(f"goal (b): cold index builds over {rs.n:,} records ({index_builds}x)")
    builds = []
    for _ in range(index_builds):
        fixtures.remove_index(repo)
        builds.append(timed(query, cwd=repo, env=env)["wall"])
        log(f"  cold build: {builds[-1]:.1f} s")
    build = Summary.of(builds)
    index_mb = (repo / ".git" / "lineage" / "index.sqlite").stat().st_size / 1e6

    store = Store(git.discover(repo))
    fresh, beside = fixtures.fresh_records(repeats + 1, rs.commit, seed=10**7)
    store.append(beside)
    fixtures.run(query, cwd=repo, env=env)  # level again before the first catch-up
    extra = iter(fresh)

    def catch_up() -> dict[str, float]:
        store.append([next(extra)])  # untimed: the index is now one record behind
        return timed(query, cwd=repo, env=env)

    inc = alternate(
        {"catch-up": catch_up, "warm": probe(query, cwd=repo, env=env)},
        repeats=repeats,
        warmup=0,
        progress=progress("catch-up"),
    )

    log("goal (b): starting mlflow server")
    with fixtures.MlflowServer(ws, runs.uri, ws.scratch / "mlflow-runs" / "artifacts") as srv:
        tag = ["lineage.record", runs.record]
        expect = f"found 1 {runs.run_id}"
        cases = {
            "show-run": probe([LINEAGE, "show", rs.run_id], cwd=repo, env=env, expect=rs.run_id),
            "show-commit": probe([LINEAGE, "show", rs.commit], cwd=repo, env=env, expect=rs.commit),
            "show-data": probe([LINEAGE, "show", rs.md5], cwd=repo, env=env, expect=rs.md5),
            "log": probe(query, cwd=repo, env=env),
            "client-search": probe(
                [PYTHON, "-c", CLIENT_SEARCH, runs.uri, runs.experiment_id, *tag],
                cwd=repo,
                env=env,
                expect=expect,
            ),
            "client-get": probe(
                [PYTHON, "-c", CLIENT_GET, runs.uri, runs.run_id], cwd=repo, env=env, expect=expect
            ),
            "server-search": probe(
                [PYTHON, "-c", CLIENT_SEARCH, srv.url, runs.experiment_id, *tag],
                cwd=repo,
                env=env,
                expect=expect,
            ),
            "rest-search": probe(
                [PYTHON, "-c", REST_SEARCH, srv.url, runs.experiment_id, *tag],
                cwd=repo,
                env=env,
                expect=expect,
            ),
            "rest-get": probe(
                [PYTHON, "-c", REST_GET, srv.url, runs.run_id], cwd=repo, env=env, expect=expect
            ),
        }
        s = alternate(cases, repeats=repeats, warmup=warmup, progress=progress("goal (b)"))
    w = {k: Summary.of(v["wall"]) for k, v in s.items()}
    ref, rest = w["client-search"], w["rest-search"]
    section = Section(
        f"Goal (b): queries over {rs.n:,} records",
        f"A store of {rs.n:,} synthetic records shaped like real ones (~{rs.record_bytes:,} "
        f"bytes each: distinct MLflow run ids, 5 data inputs from per-path version pools, 6 "
        f"params, 4 metrics, a model version for 1 in 10, this venv's environment stored as "
        f"lineage stores it, one per 20,000 runs; "
        f"{rs.commits:,} commits), appended in batches of {fixtures.BATCH} with `Store.append` "
        f"and packed with `git gc`; the index was built by one `lineage log` before timing. "
        f"Compared with a cold lookup of the same kind of fact in an MLflow store of "
        f"{runs.n:,} runs (SQLite, built with `MlflowClient`), from a fresh process. "
        f"Goal: each query ≤ {QUERY_BUDGET}× the cold `MlflowClient` lookup "
        f"(search_runs by tag on SQLite, the reference row).",
        ["What", "median ms", "min ms", "n", "ratio", "vs REST", "goal", "result"],
    )
    limit = f"≤ {QUERY_BUDGET}× (≤ {ms(QUERY_BUDGET * ref.median)} ms)"
    labels = {
        "show-run": f"`lineage show <run id>` ({rs.n:,} records)",
        "show-commit": f"`lineage show <commit sha>` ({rs.runs_of_commit} runs at it)",
        "show-data": f"`lineage show <data md5>` (read by {rs.runs_of_md5} runs)",
        "log": "`lineage log -n 20`",
    }
    for key, label in labels.items():
        cell = w[key]
        section.rows.append(
            [
                label,
                *timing_cells(cell),
                ratio(cell.median / ref.median),
                ratio(cell.median / rest.median),
                limit,
                verdict(cell.median <= QUERY_BUDGET * ref.median),
            ]
        )
    others = {
        "client-search": f"cold `MlflowClient(sqlite).search_runs` by `lineage.record` tag "
        f"({runs.n:,} runs) — reference",
        "client-get": "cold `MlflowClient(sqlite).get_run(run_id)`",
        "server-search": "cold `MlflowClient(http://…).search_runs` by tag, `mlflow server`",
        "rest-search": "REST `runs/search` by tag from a fresh `python` (urllib)",
        "rest-get": "REST `runs/get` from a fresh `python` (urllib)",
    }
    for key, label in others.items():
        cell = w[key]
        section.rows.append(
            [
                label,
                *timing_cells(cell),
                ratio(cell.median / ref.median),
                ratio(cell.median / rest.median),
                "",
                "",
            ]
        )
    catch, warm = Summary.of(inc["catch-up"]["wall"]), Summary.of(inc["warm"]["wall"])
    section.rows += [
        [
            "index: cold build from scratch (`lineage log -n 20`, no index.sqlite)",
            *timing_cells(build),
            "",
            "",
            "",
            "",
        ],
        [
            "index: catch-up after appending 1 record (`lineage log -n 20`)",
            *timing_cells(catch),
            ratio(catch.median / ref.median),
            "",
            "",
            "",
        ],
        [
            "index: no change since last query (`lineage log -n 20`, same pairs)",
            *timing_cells(warm),
            ratio(warm.median / ref.median),
            "",
            "",
            "",
        ],
    ]
    section.notes += [
        f"index.sqlite after the build: {index_mb:,.0f} MB for {rs.n:,} records.",
        "The server ran with `--workers 1` and `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false` (its "
        "idle job consumers otherwise take ~half a core from everything timed beside it) on "
        "127.0.0.1 in its own process group, over a copy of the same SQLite store, and was "
        "stopped (whole group) before the next goal.",
    ]
    return section, rs


# Goal (c): no heavy imports on the read-only paths


def goal_c(ws: Workspace, rs: fixtures.RecordsStore) -> Section:
    env = ws.env()
    commands = {
        "lineage --help": ["--help"],
        "lineage log": ["log"],
        "lineage show <commit>": ["show", rs.commit],
        "lineage show <run id>": ["show", rs.run_id],
        "lineage show <data md5>": ["show", rs.md5],
    }
    section = Section(
        "Goal (c): read-only commands never import mlflow, dvc or networkx",
        "Each command run once as `python -X importtime -m lineage ...` in the store of goal "
        "(b) with the index up to date; *imports* is the sum of every module's own import "
        "time (the self column). pygit2 is shown too: the index promises no pygit2 import "
        "when the store's tip has not moved.",
        [
            "Command",
            "imports ms",
            *HEAVY,
            "pygit2",
            "5 most expensive packages: ms (modules)",
            "result",
        ],
    )
    for label, args in commands.items():
        log(f"goal (c): {label}")
        profile = import_profile(args, cwd=rs.repo, env=env, python=PYTHON)
        heavy = [profile.imported(m) for m in HEAVY]
        top = ", ".join(
            f"{pkg} {ms(total)} ({count})" for pkg, count, total in profile.by_package()[:5]
        )
        section.rows.append(
            [
                f"`{label}`",
                ms(profile.total_s),
                *("**yes**" if h else "no" for h in heavy),
                "yes" if profile.imported("pygit2") else "no",
                top,
                verdict(not any(heavy)),
            ]
        )
    return section


def _parts(value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in PARTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown part(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(PARTS)}"
        )
    return names


def _sizes(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(n.replace("_", "")) for n in value.split(",") if n.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1000:
        raise argparse.ArgumentTypeError("expected sizes of 1000 or more, like 100000,1000000")
    return tuple(sorted(set(sizes)))


def records_with_index(ws: Workspace, n_records: int) -> fixtures.RecordsStore:
    """Goal (b)'s store with its index built, for goal (c) when goal (b) is not run."""
    rs = fixtures.records_store(ws, n_records, progress("records"))
    log(f"building the index over {rs.n:,} records (untimed)")
    fixtures.run([LINEAGE, "log", "-n", "20"], cwd=rs.repo, env=ws.env())
    return rs


def smoke_sizes() -> None:
    """``--smoke``: every part's fixed sizes made tiny (these constants are read when a part
    runs), so that the whole benchmark runs in a few minutes."""
    global APPENDS
    APPENDS = 3
    graphs.SVG_RUNS = 20
    history.ALIASED = 3
    registry.VERSIONS = 5
    registry.ALIASES = {"champion": 3, "staging": 4, "challenger": 5}
    registry.VERSION = 2
    reproduce.BIG_MB = hooks.BIG_MB = 2
    reproduce.SMALL_FILES = hooks.SMALL_FILES = 50
    reproduce.SIZES_MB = (1, 2)
    scale.APPENDS = 3
    scale.ARRIVING = 100
    sync.N_RECORDS = 200


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller stores, fewer repeats (under ~3 minutes)"
    )
    parser.add_argument(
        "--records",
        type=int,
        help="lineage records in the store of goal (b) (default 100,000; 10,000 with --quick)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        help="MLflow runs in the store of goal (b) (default 10,000; 1,000 with --quick)",
    )
    parser.add_argument(
        "--repeats", type=int, help="recorded rounds per comparison (default 7; 3 with --quick)"
    )
    parser.add_argument(
        "--index-builds", type=int, help="cold index builds to time (default 2; 1 with --quick)"
    )
    parser.add_argument(
        "--scale-sizes",
        type=_sizes,
        metavar="N[,N]",
        help="store sizes of the scale part (default 100000,1000000; 10000,100000 with --quick)",
    )
    parser.add_argument(
        "--only",
        type=_parts,
        metavar="NAME[,NAME]",
        help=f"run only these parts ({', '.join(PARTS)}); the tables go to stdout, and with "
        "--out replace only these parts' sections of that report",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="markdown report to write (default docs/benchmarks.md; none with --only, and "
        "with --only an existing report keeps its other parts' sections)",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="delete the work directory (cached stores included) first",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every part on tiny inputs, one round, to check that the benchmark still runs "
        "(tests/test_bench.py does, in the suite); its numbers mean nothing, and it writes no "
        "report unless --out says where",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="where the stores are built and cached (default bench/.work; bench/.work-smoke "
        "with --smoke, whose tiny stores would otherwise be taken for the real ones)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        smoke_sizes()
    small = args.quick or args.smoke
    n_records = args.records or (1_000 if args.smoke else 10_000 if small else 100_000)
    n_runs = args.runs or (50 if args.smoke else 1_000 if small else 10_000)
    repeats = args.repeats or (1 if args.smoke else 3 if small else 7)
    index_builds = args.index_builds or (1 if small else 2)
    warmup = 0 if small else 1
    parts = args.only or PARTS
    out = args.out or (None if args.only or args.smoke else ROOT / "docs" / "benchmarks.md")
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"

    work = args.work or (fixtures.WORK.with_name(".work-smoke") if args.smoke else fixtures.WORK)
    if args.rebuild:
        shutil.rmtree(work, ignore_errors=True)
    ws = Workspace(work.resolve())
    ws.enter()
    # Users run lineage from byte-compiled modules; with PYTHONDONTWRITEBYTECODE set (as in
    # some sandboxes and CI images) every edited module would be recompiled in every timed
    # process, ~10 ms for cli.py alone. compileall writes the .pyc files regardless.
    compileall.compile_dir(ROOT / "lineage", quiet=1)
    started = time.perf_counter()
    facts = report.machine_facts()
    load_before = report.load_average()
    stores = (
        f"{n_records:,} records, {n_runs:,} MLflow runs, "
        if {"queries", "imports"} & set(parts)
        else ""
    )
    log(f"{mode} run of {', '.join(parts)}: {stores}{repeats} rounds; work in {ws.root}")

    sections: list[Section] = []

    def emit(section: Section, part: str) -> None:
        section.part = part
        sections.append(section)
        print(report.to_text(section), flush=True)

    base = baselines(ws, repeats, warmup) if "baselines" in parts else None
    if "run" in parts:
        emit(goal_a(ws, repeats, warmup), "run")
    rs: fixtures.RecordsStore | None = None
    if "queries" in parts:
        section_b, rs = goal_b(ws, n_records, n_runs, repeats, warmup, index_builds)
        emit(section_b, "queries")
    if "imports" in parts:
        emit(goal_c(ws, rs or records_with_index(ws, n_records)), "imports")
    if base is not None:
        if rs is not None:
            log("baseline: Store.append on the large store")
            big_append = append_timings(
                Store(git.discover(rs.repo)),
                fixtures.fresh_records(APPENDS + 3, rs.commit, seed=10**8),
            )
            base.rows.append(
                [
                    f"`Store.append` of 1 record, in process, {rs.n:,}-record store (over "
                    f"{APPENDS})",
                    *timing_cells(big_append),
                ]
            )
        else:
            base.notes.append("`Store.append` on the large store: only timed with `queries`.")
        emit(base, "baselines")
        sections.insert(0, sections.pop())  # the report opens with the baselines
    if "graphs" in parts:
        rs = rs or records_with_index(ws, n_records)
        mlflow_runs = fixtures.mlflow_runs_store(ws, n_runs, progress("mlflow runs"))
        # A round takes ~3 s here; twice the rounds steady the medians of ~100 ms commands,
        # which one busy round moves by 10% (two full runs of the same query code: 121, 160 ms).
        for section in graphs.sections(
            ws, rs, mlflow_runs, repeats=2 * repeats, warmup=warmup, log=log
        ):
            emit(section, "graphs")
    if "exports" in parts:
        rs = rs or records_with_index(ws, n_records)
        log(f"exports: openlineage and prov of {rs.n:,} records")
        for section in exports.sections(ws, rs, repeats=repeats, log=progress("exports")):
            emit(section, "exports")
    if "history" in parts:
        mlflow_runs = fixtures.mlflow_runs_store(ws, n_runs, progress("mlflow runs"))
        log(f"history: import of {mlflow_runs.n:,} runs from an mlflow server, and audit")
        for section in history.sections(ws, mlflow_runs, repeats=repeats, warmup=warmup, log=log):
            emit(section, "history")
    if "team" in parts:
        log(f"team: import of {n_runs:,} runs from an mlflow server on PostgreSQL")
        for section in team.sections(
            ws, n_runs, repeats=repeats, warmup=warmup, log=progress("team")
        ):
            emit(section, "team")
    if "reproduce" in parts:
        log("reproduce: building the repositories")
        for section in reproduce.sections(ws, repeats=repeats, warmup=warmup, quick=small, log=log):
            emit(section, "reproduce")
    if "sync" in parts:
        log(f"sync: push and pull of {sync.N_RECORDS:,} records")
        for section in sync.sections(ws, repeats=repeats, warmup=warmup, log=log):
            emit(section, "sync")
    if "hooks" in parts:
        log("hooks: pre-commit hook cost, lineage's vs DVC's")
        for section in hooks.sections(
            ws, repeats=repeats, warmup=warmup, quick=small, log=progress("hooks")
        ):
            emit(section, "hooks")
    if "scale" in parts:
        sizes = args.scale_sizes or (
            scale.SMOKE_SIZES if args.smoke else scale.QUICK_SIZES if args.quick else scale.SIZES
        )
        log(f"scale: stores of {', '.join(f'{n:,}' for n in sizes)} records")
        for section in scale.sections(
            ws, sizes, n_runs, repeats=repeats, warmup=warmup, log=progress("scale")
        ):
            emit(section, "scale")

    if "registry" in parts:
        log("registry: model lookups by alias and version on a SQLite registry")
        for section in registry.sections(ws, repeats=repeats, warmup=warmup, log=log):
            emit(section, "registry")

    elapsed = time.perf_counter() - started
    setup = {
        "mode": mode,
        **({"parts": ", ".join(parts)} if args.only else {}),
        **(
            {"records / MLflow runs": f"{n_records:,} / {n_runs:,}"}
            if {"queries", "imports"} & set(parts)
            else {}
        ),
        "rounds per comparison": f"{repeats} (+{warmup} unrecorded warm-up round)",
        LOAD: f"{load_before} / {report.load_average()}",
        "benchmark wall time": f"{elapsed / 60:.1f} min",
        "command": "`"
        + " ".join(["python bench/run.py", *(sys.argv[1:] if argv is None else argv)])
        + "`",
    }
    if report.machine_facts()["lineage"] != facts["lineage"]:
        setup["caution (source)"] = (
            "lineage's source changed while the benchmark ran: later "
            "sections measured newer code than the digest above"
        )
    # The load before we started is other work; afterwards it includes our own processes.
    others = float(load_before.split()[0]) if load_before != "?" else 0.0
    if others >= (os.cpu_count() or 1):
        setup["caution"] = (
            f"the machine was busy before the benchmark started (1-minute load "
            f"average {others:.1f} on {os.cpu_count()} CPUs): absolute times "
            "are inflated and noisy; ratios between alternated commands hold "
            "up better"
        )
    missed = [s.title for s in sections if MISS in s.verdicts]
    outcome = f"missed: {'; '.join(missed)}" if missed else "every goal passed"
    if out is None:
        print(f"lineage: {facts['lineage']}")
        for key in (LOAD, "caution", "caution (source)"):
            if key in setup:
                print(f"{key}: {setup[key]}")
        log(f"done in {elapsed / 60:.1f} min (no report written: --only without --out); {outcome}")
        return 0
    out = out if out.is_absolute() else Path.cwd() / out
    out.parent.mkdir(parents=True, exist_ok=True)
    run_line = (
        f"Run: {facts['date (UTC)']} UTC, commit {report.commit(ROOT)}, {setup['mode']} mode, "
        f"load average before / after {setup[LOAD]}."
    )
    for section in sections:
        section.run_line = run_line
    if args.only and out.exists():
        text = report.merged_document(
            out.read_text(encoding="utf-8"), sections, facts, setup, parts=parts, order=PARTS
        )
    else:
        text = report.document(sections, facts, setup)
    out.write_text(text, encoding="utf-8")
    log(f"wrote {os.path.relpath(out)} in {elapsed / 60:.1f} min; {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
