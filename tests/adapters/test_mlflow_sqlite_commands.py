"""The commands users type about a model, on a project whose registry is SQLite: answered from
the registry tables directly (no mlflow import), with aliases read live, also while MLflow
writes the registry. (A server registry goes through REST: tests/adapters/test_mlflow_server.py.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import lineage
from tests.scenarios import Recorded, Trained

HEAVY = ("mlflow", "sqlalchemy", "alembic", "dvc")
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", re.MULTILINE)


def _heavy_imports(stderr: str) -> set[str]:
    return {m.split(".")[0] for m in _IMPORTED.findall(stderr)} & set(HEAVY)


def _answer(trained: Trained, *args: str) -> str:
    """Run the real console script with Python's import log on; stdout, after checking that
    it succeeded without importing anything heavy."""
    proc = lineage(trained.repo, *args, env={**trained.env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert _heavy_imports(proc.stderr) == set(), args
    return proc.stdout


def test_show_by_alias_and_by_version_without_importing_mlflow(trained: Trained) -> None:
    assert _answer(trained, "show", "churn@champion").startswith(
        "model churn/2   (churn@champion)\n"
    )
    assert _answer(trained, "show", "churn/3").startswith("model churn/3")
    shown = json.loads(_answer(trained, "show", "churn@staging", "--json"))
    assert shown["node"] == {
        "aliases": {"staging": 4},
        "id": "churn/4",
        "kind": "model",
        "resolved_from": "churn@staging",
    }
    assert shown["record"]["run"]["run_id"] == trained.runs["R4"]


def test_graph_and_impact_list_aliases_without_importing_mlflow(trained: Trained) -> None:
    graph = json.loads(_answer(trained, "graph", "churn@champion", "--format", "json"))
    assert [(n["id"], n["aliases"]) for n in graph["nodes"] if n["kind"] == "model"] == [
        ("model:churn/2", ["champion"])
    ]

    impact = json.loads(_answer(trained, "impact", trained.raw["v2"], "--json"))
    assert sorted((m["id"], m["aliases"]) for m in impact["models"]) == [
        ("model:churn/3", []),
        ("model:churn/4", ["staging"]),
    ]


def test_reproduce_dry_run_by_alias_without_importing_mlflow(trained: Trained) -> None:
    plan = _answer(trained, "reproduce", "churn@champion", "--dry-run")

    assert plan.startswith("Reproduce churn@champion (churn@champion -> churn/2)\n")
    assert f"run       {trained.runs['R2']}" in plan
    assert "  env       Python " in plan  # the rerun's Python, probed in a child interpreter
    assert "; same distributions\n" in plan
    assert plan.endswith("dry run: nothing was run or written\n")


def test_a_wrong_alias_says_what_the_registry_has(trained: Trained) -> None:
    proc = lineage(
        trained.repo,
        "show",
        "churn@prod",
        check=False,
        env={**trained.env, "PYTHONPROFILEIMPORTTIME": "1"},
    )

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[-1] == (
        "lineage: error: model 'churn' has no alias 'prod'; its aliases are: champion (v2), "
        "staging (v4)"
    )
    assert _heavy_imports(proc.stderr) == set()


# A registry being written while it is read

WRITER = """\
import logging, sys
logging.disable(logging.WARNING)
from mlflow import MlflowClient
client = MlflowClient()
run_id, rounds = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
for _ in range(rounds):
    version = client.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id).version
    client.set_registered_model_alias("churn", "moving", version)
    print(version, flush=True)
"""


def test_show_by_alias_while_mlflow_registers_versions_and_moves_the_alias(
    recorded: Recorded, tmp_path: Path
) -> None:
    """A writer registers versions and moves `moving` to each; every `show churn@moving` in
    the meantime answers a version that exists, never an error."""
    private = recorded.copy(tmp_path)
    db = Path(shutil.copy(Path(recorded.env["MLFLOW_TRACKING_URI"][10:]), tmp_path / "mlflow.db"))
    env = {**recorded.env, "MLFLOW_TRACKING_URI": f"sqlite:///{db}"}
    run_id = json.loads(lineage(private.repo, "log", "--json", env=env).stdout)[0]["run"]
    setup = subprocess.run(
        [sys.executable, "-c", WRITER, run_id, "1"], env=env, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stderr
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, run_id, "40"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None and writer.stderr is not None
        assert writer.stdout.readline() == "ready\n"
        answers = []
        while writer.poll() is None or not answers:
            proc = lineage(private.repo, "show", "churn@moving", "--json", check=False, env=env)
            assert (proc.returncode, proc.stderr) == (0, "")
            shown = json.loads(proc.stdout)
            assert shown["record"]["run"]["run_id"] == run_id
            answers.append(shown["node"]["id"])
        written = writer.stdout.read().split()
        assert writer.wait() == 0, writer.stderr.read()

    registered = {f"churn/{v}" for v in ["1", "2", *setup.stdout.split()[1:], *written]}
    assert set(answers) <= registered
    assert len(set(answers)) > 1, "every read happened before or after the writes"
