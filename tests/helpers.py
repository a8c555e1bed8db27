"""Training scripts and small helpers the tests share (real MLflow inside real child processes)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import sh

# A training script: one run with params and metrics; registers `MODEL` when set.
TRAIN = """\
import os, sys, mlflow
mlflow.set_experiment(os.environ.get("EXPERIMENT", "exp"))
depth = int(sys.argv[1]) if len(sys.argv) > 1 else 3
with mlflow.start_run() as run:
    mlflow.log_param("depth", depth)
    mlflow.log_metric("score", depth / 10 + 0.0123456789)
    name = os.environ.get("MODEL")
    if name:
        client = mlflow.MlflowClient()
        try:
            client.create_registered_model(name)
        except Exception:
            pass
        client.create_model_version(name, source=f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id)
print("trained", depth)
"""

GRID = """\
import mlflow
mlflow.set_experiment("grid")
for depth in (2, 4, 6):
    for n in (10, 20):
        with mlflow.start_run():
            mlflow.log_params({"depth": depth, "n": n})
            mlflow.log_metric("score", depth * n / 100)
"""

NESTED = """\
import mlflow
mlflow.set_experiment("nested")
with mlflow.start_run(run_name="parent"):
    mlflow.log_param("search", "cv")
    for fold in range(2):
        with mlflow.start_run(run_name=f"fold-{fold}", nested=True):
            mlflow.log_metric("fold_score", 0.5 + fold / 10)
"""


def write(repo: Path, name: str, text: str) -> Path:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def lineage(
    repo: Path,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `lineage` console script in ``repo``."""
    return sh("lineage", *args, cwd=repo, check=check, env=env, input=input)


def lineage_json(repo: Path, *args: str) -> Any:
    return json.loads(lineage(repo, *args, "--json").stdout)


def commit_all(repo: Path, message: str) -> str:
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", message, cwd=repo)
    return sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()


def repo_state(repo: Path) -> dict[str, str]:
    """What a user would notice changing: HEAD, branch, index, status, refs/heads and stash."""
    return {
        "head": sh("git", "rev-parse", "HEAD", cwd=repo, check=False).stdout,
        "branch": sh("git", "symbolic-ref", "-q", "HEAD", cwd=repo, check=False).stdout,
        "index": sh("git", "ls-files", "-s", cwd=repo).stdout,
        "status": sh("git", "status", "--porcelain=v1", "--untracked-files=all", cwd=repo).stdout,
        "heads": sh("git", "for-each-ref", "refs/heads", "refs/stash", cwd=repo).stdout,
        "diff": sh("git", "diff", cwd=repo).stdout,
    }


def unused_port() -> int:
    """A TCP port nothing listens on (as far as one can tell without racing for it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
