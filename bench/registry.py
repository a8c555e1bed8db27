"""Issue 15 goal 1: the commands that name a model by alias or version, on a SQLite registry,
against a cold ``MlflowClient().get_model_version_by_alias`` on the same registry.

The project: one `lineage run` of a script that registers churn/1, then ``VERSIONS`` - 1 more
versions of churn from that run and three aliases, registered by a child process through
MlflowClient (so the harness never imports mlflow). Every lineage row is a fresh process of the
real console script; it reads the registry live (no cache), with lineage's direct SQLite reader
(lineage/adapters/mlflow_sqlite.py) since the database is at a revision lineage knows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fixtures import LINEAGE, PYTHON, Workspace, sqlite_uri
from report import Section, ms, ratio, timing_cells, verdict
from timing import Summary, alternate, run, timed

BUDGET = 0.1  # each command ≤ this × the cold client lookup by alias
VERSIONS = 60
ALIASES = {"champion": 40, "staging": 55, "challenger": 58}
VERSION = 25  # the version `show NAME/N` names
TRAIN = """\
import os, mlflow
mlflow.set_experiment("churn")
with mlflow.start_run() as run:
    mlflow.log_param("depth", 4)
    mlflow.log_metric("auc", 0.87)
    client = mlflow.MlflowClient()
    client.create_registered_model("churn")
    client.create_model_version("churn", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
"""
REGISTER = """\
import json, logging, sys
logging.disable(logging.WARNING)
from mlflow import MlflowClient
run_id, versions, aliases = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
client = MlflowClient()
for _ in range(versions - 1):
    client.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id)
for alias, version in aliases.items():
    client.set_registered_model_alias("churn", alias, str(version))
print(len(client.search_model_versions("name = 'churn'")))
"""
CLIENT_ALIAS = """\
import sys
from mlflow import MlflowClient
mv = MlflowClient().get_model_version_by_alias("churn", sys.argv[1])
print(f"churn/{mv.version}", mv.run_id)
"""
CLIENT_VERSION = """\
import sys
from mlflow import MlflowClient
mv = MlflowClient().get_model_version("churn", sys.argv[1])
print(f"churn/{mv.version}", mv.run_id)
"""

Log = Callable[[str], None]


def _project(ws: Workspace, log: Log) -> tuple[Path, dict[str, str], str]:
    """The repository, its environment and the md5 of its input."""
    root = ws.fresh("registry")
    repo = root / "repo"
    repo.mkdir()
    env = ws.env(MLFLOW_TRACKING_URI=sqlite_uri(root / "mlflow.db"))
    run(["git", "init", "-q"], cwd=repo, env=env)
    run(["dvc", "init", "-q"], cwd=repo, env=env)
    (repo / "data").mkdir()
    (repo / "data" / "raw.csv").write_text("id,x\n" + "".join(f"{i},{i % 7}\n" for i in range(99)))
    run(["dvc", "add", "-q", "data/raw.csv"], cwd=repo, env=env)
    (repo / "train.py").write_text(TRAIN)
    (repo / ".gitignore").write_text("mlruns/\nmlartifacts/\n")
    run([LINEAGE, "init"], cwd=repo, env=env)
    run(["git", "add", "-A"], cwd=repo, env=env)
    run(["git", "commit", "-q", "-m", "Train churn on data/raw.csv"], cwd=repo, env=env)
    log("registry: `lineage run` of a training script that registers churn/1")
    run([LINEAGE, "run", "--", PYTHON, "train.py"], cwd=repo, env=env)
    record = json.loads(run([LINEAGE, "log", "--json"], cwd=repo, env=env).stdout)[0]
    run_id = str(record["run"])
    log(f"registry: registering churn/2-{VERSIONS} and aliases {ALIASES}")
    count = run(
        [PYTHON, "-c", REGISTER, run_id, str(VERSIONS), json.dumps(ALIASES)], cwd=repo, env=env
    )
    assert count.stdout.split() == [str(VERSIONS)], count.stdout
    md5 = (repo / "data" / "raw.csv.dvc").read_text().split("md5: ")[1][:32]
    return repo, env, md5


def sections(ws: Workspace, *, repeats: int, warmup: int, log: Log) -> list[Section]:
    repo, env, md5 = _project(ws, log)
    champion = f"churn/{ALIASES['champion']}"

    def probe(argv: list[str], expect: str) -> Callable[[], dict[str, float]]:
        return lambda: timed(argv, cwd=repo, env=env, expect=expect)

    cases = {
        "client-alias": probe([PYTHON, "-c", CLIENT_ALIAS, "champion"], champion),
        "client-version": probe([PYTHON, "-c", CLIENT_VERSION, str(VERSION)], f"churn/{VERSION}"),
        "show-alias": probe([LINEAGE, "show", "churn@champion"], f"model {champion}"),
        "show-version": probe([LINEAGE, "show", f"churn/{VERSION}"], f"model churn/{VERSION}"),
        "graph-alias": probe(
            [LINEAGE, "graph", "churn@champion", "--format", "json"], '"@champion"'
        ),
        "impact": probe([LINEAGE, "impact", md5, "--json"], '"challenger"'),
        "reproduce-alias": probe(
            [LINEAGE, "reproduce", "churn@champion", "--dry-run"], f"-> {champion})"
        ),
    }
    s = alternate(cases, repeats=repeats, warmup=warmup, progress=lambda m: log(f"  registry: {m}"))
    w = {k: Summary.of(v["wall"]) for k, v in s.items()}
    ref = w["client-alias"]
    section = Section(
        "Registry lookups on a SQLite registry",
        f"A project whose registry is a SQLite file (MLflow {_mlflow_version(env, repo)}'s "
        f"schema): model churn with {VERSIONS} versions, all made by the one recorded run, and "
        f"aliases {', '.join(f'{a} -> v{v}' for a, v in ALIASES.items())}. Every row is a fresh "
        "process. lineage resolves the alias or version live at each command (no cache), by "
        "reading MLflow's registry tables with sqlite3 once the database's alembic revision is "
        "one it knows. `show` resolves the reference and prints the version's record; `graph "
        "--format json` builds the upstream graph and asks the registry for the model's "
        f"aliases; `impact <md5> --json` finds the {VERSIONS} versions made from the data and "
        "asks for their aliases; `reproduce --dry-run` resolves the alias, plans the "
        "reproduction (commit, data in the DVC cache, command, the Python environment probed "
        "in a child interpreter and compared with the recorded one) and prints the plan. "
        f"Reference: a cold `MlflowClient().get_model_version_by_alias`. Goal: each ≤ {BUDGET}×.",
        ["What", "median ms", "min ms", "n", "ratio", "goal", "result"],
    )
    limit = f"≤ {BUDGET}× (≤ {ms(BUDGET * ref.median)} ms)"
    for key, label in (
        ("show-alias", "`lineage show churn@champion`"),
        ("show-version", f"`lineage show churn/{VERSION}`"),
        ("graph-alias", "`lineage graph churn@champion --format json`"),
        ("impact", f"`lineage impact <md5> --json` ({VERSIONS} versions, their aliases)"),
        ("reproduce-alias", "`lineage reproduce churn@champion --dry-run`"),
    ):
        cell = w[key]
        ok = cell.median <= BUDGET * ref.median
        section.rows.append(
            [label, *timing_cells(cell), ratio(cell.median / ref.median), limit, verdict(ok)]
        )
    section.rows.append(
        [
            f"cold `MlflowClient().get_model_version('churn', '{VERSION}')`",
            *timing_cells(w["client-version"]),
            ratio(w["client-version"].median / ref.median),
            "",
            "",
        ]
    )
    section.rows.append(
        [
            "cold `MlflowClient().get_model_version_by_alias('churn', 'champion')` — reference",
            *timing_cells(ref),
            "1×",
            "",
            "",
        ]
    )
    return [section]


def _mlflow_version(env: dict[str, str], repo: Path) -> str:
    proc = run(
        [PYTHON, "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
        cwd=repo,
        env=env,
    )
    return proc.stdout.strip()
