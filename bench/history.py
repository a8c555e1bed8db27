"""Issue 6: `lineage import mlflow` of 10,000 runs from a real `mlflow server` on 127.0.0.1,
against the bare paging of `MlflowClient.search_runs` over the same runs (the floor: what
reading them costs at all), goal ≤ 1.5×; and `lineage audit` of 50 aliased model versions.

Every import sample starts from a repository with no records (reset untimed before it), so it
writes all 10,000 inferred records; "again" samples import into a repository that already has
them (the idempotent path: read everything, write nothing).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import fixtures
from fixtures import LINEAGE, PYTHON, Workspace
from report import Section, ratio, timing_cells, verdict
from timing import Summary, alternate, run, timed

IMPORT_BUDGET = 1.5
ALIASED = 50
PAGE_ALL = """\
import sys
from mlflow import MlflowClient
client, n, token = MlflowClient(sys.argv[1]), 0, None
while True:
    page = client.search_runs([sys.argv[2]], max_results=1000, page_token=token)
    n += len(page)
    token = page.token
    if not token:
        break
print("found", n)
"""
REGISTER = """\
import sys
from mlflow import MlflowClient
client = MlflowClient(sys.argv[1])
runs = client.search_runs([sys.argv[2]], max_results=int(sys.argv[3]))
client.create_registered_model("audited")
for i, run in enumerate(runs, 1):
    v = client.create_model_version("audited", source=f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id)
    client.set_registered_model_alias("audited", f"a{i}", v.version)
print("registered", len(runs))
"""

Log = Callable[[str], None]


def sections(
    ws: Workspace, runs: fixtures.RunsStore, *, repeats: int, warmup: int, log: Log
) -> list[Section]:
    base = ws.fresh("history")
    db = base / "mlflow.db"
    shutil.copy(runs.db, db)
    env = ws.env()
    repo, again_repo = base / "repo", base / "again"
    for path in (repo, again_repo):
        run(["git", "init", "-q", path], cwd=base, env=env)
        # `import mlflow` refuses a repository with no commit (nothing MLflow names is in it).
        run(["git", "commit", "-q", "--allow-empty", "-m", "Start"], cwd=path, env=env)
        run([LINEAGE, "init"], cwd=path, env=env)

    def reset(path: Path) -> None:
        run(["git", "update-ref", "-d", "refs/lineage/records"], cwd=path, env=env, check=False)
        shutil.rmtree(path / ".git" / "lineage", ignore_errors=True)

    log("history: starting mlflow server")
    with fixtures.MlflowServer(ws, f"sqlite:///{db}", base / "artifacts") as srv:
        server_env = {**env, "MLFLOW_TRACKING_URI": srv.url}
        importing = [LINEAGE, "import", "mlflow", "--experiment", "churn", "--json"]
        first = json.loads(run(importing, cwd=again_repo, env=server_env).stdout)
        if first["written"] != runs.n:
            raise RuntimeError(f"import wrote {first['written']} records, expected {runs.n}")

        def fresh_import() -> dict[str, float]:
            reset(repo)
            return timed(importing, cwd=repo, env=server_env)

        cases = {
            "import": fresh_import,
            "again": lambda: timed(importing, cwd=again_repo, env=server_env),
            "floor": lambda: timed(
                [PYTHON, "-c", PAGE_ALL, srv.url, runs.experiment_id],
                cwd=base,
                env=env,
                expect=f"found {runs.n}",
            ),
        }
        s = alternate(
            cases, repeats=repeats, warmup=warmup, progress=lambda m: log(f"  history: {m}")
        )

        log(f"history: registering {ALIASED} aliased versions")
        run([PYTHON, "-c", REGISTER, srv.url, runs.experiment_id, str(ALIASED)], cwd=base, env=env)
        run(importing, cwd=again_repo, env=server_env)  # the versions join their runs' records
        auditing = ["sh", "-c", f"{LINEAGE} audit audited --json >/dev/null; exit 0"]
        checked = run(
            [LINEAGE, "audit", "audited", "--json"], cwd=again_repo, env=server_env, check=False
        )
        n_audited = len(json.loads(checked.stdout)["versions"])
        a = alternate(
            {"audit": lambda: timed(auditing, cwd=again_repo, env=server_env)},
            repeats=repeats,
            warmup=warmup,
            progress=lambda m: log(f"  audit: {m}"),
        )
    w = {k: Summary.of(v["wall"]) for k, v in s.items()}
    audit = Summary.of(a["audit"]["wall"])
    floor = w["floor"]
    section = Section(
        f"`lineage import mlflow` of {runs.n:,} runs; `lineage audit` of {n_audited} versions",
        f"A real `mlflow server` (`--workers 1`, jobs off) on 127.0.0.1 over a copy of the "
        f"SQLite store of {runs.n:,} finished runs (params, metrics, tags; no git commit tags, "
        f"so no data is inferred). Import into a repository with no records (reset untimed "
        f"before each sample) writes {runs.n:,} inferred records; the floor is a fresh `python` "
        f"paging `MlflowClient.search_runs` over the same experiment, 1,000 a page. Goal: "
        f"import ≤ {IMPORT_BUDGET}× the floor. Then {ALIASED} versions of a model are "
        f"registered from those runs, each with its own alias, and `lineage audit` checks them "
        f"all (default scope: aliased versions; through the server: registry listing, one "
        f"batched runs query).",
        ["What", "median ms", "min ms", "n", "vs floor", "goal", "result"],
    )
    section.rows += [
        [
            f"`lineage import mlflow --experiment churn` ({runs.n:,} new records)",
            *timing_cells(w["import"]),
            ratio(w["import"].median / floor.median),
            f"≤ {IMPORT_BUDGET}×",
            verdict(w["import"].median <= IMPORT_BUDGET * floor.median),
        ],
        [
            "the same import again (nothing new: idempotent)",
            *timing_cells(w["again"]),
            ratio(w["again"].median / floor.median),
            "",
            "",
        ],
        [
            f"floor: `MlflowClient(http://…).search_runs` paging all {runs.n:,} runs",
            *timing_cells(floor),
            "1×",
            "",
            "",
        ],
        [f"`lineage audit` of {n_audited} aliased versions", *timing_cells(audit), "", "", ""],
    ]
    return [section]
