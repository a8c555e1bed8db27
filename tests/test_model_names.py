"""Every name MLflow accepts works in every REF form, and the hints lineage prints run in a shell.

The name is the one a real project registered from a notebook-driven pipeline
("ProjectExp1 - RandomForestClassifier"): spaces and a dash, as MLflow allows. Before, show,
graph, diff, reproduce and audit's scope could not reference it, and audit's hint could not work.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from tests.conftest import sh
from tests.helpers import TRAIN, commit_all, lineage, write

NAME = "ProjectExp1 - RandomForestClassifier"


@pytest.fixture
def spaced(dvc_repo: Path, mlflow_uri: str) -> Path:
    """Two versions of a model whose name has spaces; version 2 holds @champion."""
    write(dvc_repo, "train.py", TRAIN)
    lineage(dvc_repo, "init")
    commit_all(dvc_repo, "train")
    for depth in ("3", "5"):
        env = {**os.environ, "MODEL": NAME}
        lineage(dvc_repo, "run", "--", "python", "train.py", depth, env=env)
    sh(
        "python",
        "-c",
        f"import mlflow; mlflow.MlflowClient().set_registered_model_alias({NAME!r}, "
        "'champion', '2')",
        cwd=dvc_repo,
    )
    return dvc_repo


def test_every_command_takes_a_model_name_with_spaces(spaced: Path) -> None:
    shown = json.loads(lineage(spaced, "show", f"{NAME}@champion", "--json").stdout)
    assert shown["node"]["kind"] == "model"
    assert shown["node"]["id"] == f"{NAME}/2"
    assert shown["record"]["run"]["params"] == {"depth": "5"}
    first = json.loads(lineage(spaced, "show", f"models:/{NAME}/1", "--json").stdout)
    assert first["node"]["id"] == f"{NAME}/1"

    graph = json.loads(lineage(spaced, "graph", f"{NAME}@champion", "--format", "json").stdout)
    labels = [n["label"] for n in graph["nodes"] if n["kind"] == "model"]
    assert labels == [[f"{NAME} v2", "@champion"]]

    diff = lineage(spaced, "diff", f"{NAME}/1", f"{NAME}@champion").stdout
    assert "depth" in diff and "3" in diff and "5" in diff

    plan = lineage(spaced, "reproduce", f"{NAME}@champion", "--dry-run").stdout
    assert "python train.py 5" in plan

    scoped = lineage(spaced, "audit", NAME, "--json", check=False)
    rows = json.loads(scoped.stdout)["versions"]
    assert [r["model"] for r in rows] == [f"{NAME}/2"]


def test_audit_hint_is_a_command_a_shell_runs(spaced: Path) -> None:
    audited = lineage(spaced, "audit", f"{NAME}@champion", check=False).stdout
    hint = next(line for line in audited.splitlines() if "never reproduced" in line)
    command = hint.split("`")[1]
    assert command == f"lineage reproduce '{NAME}/2'"
    # the hint, as a shell splits it, plans the reproduction of the audited version
    planned = lineage(spaced, *shlex.split(command)[1:], "--dry-run").stdout
    assert "python train.py 5" in planned
