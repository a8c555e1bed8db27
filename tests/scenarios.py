"""Projects built once per test session for the commands that only read them, through real git,
DVC and MLflow and `lineage run`, as a user would.

`recorded`: git + DVC (data/raw.csv, a local remote), `train.py` run twice under `lineage run`,
registering churn/1 and churn/2. `trained`, five runs on two branches:

    main:  Start ── R1 churn/1, R2 churn/2 @champion           (data/raw.csv v1)
             └── More data ── R3 `dvc repro` churn/3             (raw v2 -> data/prepared)
                   └── Ran pipeline ── R4 churn/4 @staging       (raw v2 + data/prepared)
    side:  Start ── Side data ── R5 fraud/1 @champion            (raw v3)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, sh
from tests.helpers import TRAIN, commit_all, lineage, lineage_json, write

PREPARE = (
    "import pathlib\nrows = pathlib.Path('data/raw.csv').read_text().splitlines()\n"
    "pathlib.Path('data/prepared').mkdir(exist_ok=True)\n"
    "pathlib.Path('data/prepared/train.csv').write_text('\\n'.join(rows[:3]))\n"
)
PIPELINE = (
    "stages:\n"
    "  prepare:\n    cmd: python prepare.py\n    deps: [prepare.py, data/raw.csv]\n"
    "    outs: [data/prepared]\n"
    "  train:\n    cmd: python train.py 6\n    deps: [train.py, data/prepared]\n"
    "    outs: [model.txt]\n"
)
SET_ALIASES = (
    "import mlflow\nclient = mlflow.MlflowClient()\n"
    "for name, alias, version in [('churn', 'champion', '2'), ('churn', 'staging', '4'), "
    "('fraud', 'champion', '1')]:\n"
    "    client.set_registered_model_alias(name, alias, version)\n"
)


@dataclass(frozen=True)
class Trained:
    repo: Path
    env: dict[str, str]  # what every `lineage` call on it needs (HOME, MLflow store, PATH)
    runs: dict[str, str]  # R1..R5 -> run id
    created: dict[str, str]  # R1..R5 -> the record's created.at
    raw: dict[str, str]  # v1..v3 -> md5 of data/raw.csv
    prepared: str  # md5 of data/prepared
    commits: dict[str, str]  # subject -> sha


def hermetic_env(base: Path) -> dict[str, str]:
    """The environment conftest's `hermetic` fixture gives each test, for a session fixture."""
    home = base / "home"
    (home / "templates").mkdir(parents=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "MLFLOW_", "LINEAGE_", "DVC_"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Ada Lovelace",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Ada Lovelace",
        GIT_COMMITTER_EMAIL="ada@example.com",
        GIT_TEMPLATE_DIR=str(home / "templates"),
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(home / ".dvc-site"),
        MLFLOW_TRACKING_URI=f"sqlite:///{base / 'mlflow.db'}",
        PYTHONWARNINGS="ignore",
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
    )
    return env


def build_trained(base: Path) -> Trained:
    """Build the scenario under ``base``; the environment is set only while building."""
    env = hermetic_env(base)
    with pytest.MonkeyPatch.context() as patch:
        for key in set(os.environ) - set(env):
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        return _build(base / "repo", env)


def _build(repo: Path, env: dict[str, str]) -> Trained:
    repo.mkdir()

    def run(*argv: str, model: str) -> str:
        lineage(repo, "run", "--", *argv, env={**env, "MODEL": model})
        return str(lineage_json(repo, "log")[0]["run"])

    def dvc_add(text: str) -> str:
        write(repo, "data/raw.csv", text)
        sh("dvc", "add", "-q", "data/raw.csv", cwd=repo)
        return (repo / "data" / "raw.csv.dvc").read_text().split("md5: ")[1][:32]

    sh("git", "init", "-q", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\nmodel.txt\n")
    write(repo, "train.py", TRAIN + "open('model.txt', 'w').write('m')\n")
    write(repo, "prepare.py", PREPARE)
    raw = {"v1": dvc_add("id,value\n1,10\n2,20\n")}
    lineage(repo, "init")
    commits = {"Start": commit_all(repo, "Start")}
    runs = {"R1": run("python", "train.py", "3", model="churn")}
    runs["R2"] = run("python", "train.py", "4", model="churn")

    sh("git", "checkout", "-q", "-b", "side", cwd=repo)
    raw["v3"] = dvc_add("id,value\n7,70\n")
    commits["Side data"] = commit_all(repo, "Side data")
    runs["R5"] = run("python", "train.py", "2", model="fraud")
    sh("git", "checkout", "-q", "main", cwd=repo)

    raw["v2"] = dvc_add("id,value\n1,10\n2,20\n3,30\n4,40\n")
    write(repo, "dvc.yaml", PIPELINE)
    commits["More data"] = commit_all(repo, "More data")
    runs["R3"] = run("dvc", "repro", "-q", model="churn")
    commits["Ran pipeline"] = commit_all(repo, "Ran pipeline")
    runs["R4"] = run("python", "train.py", "7", model="churn")

    sh("python", "-c", SET_ALIASES, cwd=repo)

    created = {}
    prepared = ""
    for name, run_id in runs.items():
        record = lineage_json(repo, "show", run_id)["record"]
        created[name] = record["created"]["at"]
        prepared = next(
            (o["md5"] for o in record["outputs"] if o["path"] == "data/prepared"), prepared
        )
    return Trained(repo, env, runs, created, raw, prepared, commits)


@dataclass(frozen=True)
class Recorded:
    repo: Path
    env: dict[str, str]  # what every `lineage` call on it needs (HOME, MLflow store, PATH)

    def lineage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return lineage(self.repo, *args, check=check, env=self.env)

    def json(self, *args: str) -> Any:
        return json.loads(self.lineage(*args, "--json").stdout)

    def copy(self, tmp_path: Path) -> Recorded:
        """A private copy of the repository (records, index, DVC cache) for a test to change;
        the MLflow store stays shared, so the test must not change that."""
        return Recorded(
            Path(shutil.copytree(self.repo, tmp_path / "repo", symlinks=True)), self.env
        )


def build_recorded(base: Path) -> Recorded:
    """Build the `recorded` project under ``base``; the environment is set only while building."""
    env = hermetic_env(base)
    with pytest.MonkeyPatch.context() as patch:
        for key in set(os.environ) - set(env):
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        repo = base / "repo"
        remote = base / "dvc-remote"
        repo.mkdir()
        remote.mkdir()
        sh("git", "init", "-q", cwd=repo)
        sh("dvc", "init", "-q", cwd=repo)
        sh("dvc", "remote", "add", "-d", "storage", str(remote), cwd=repo)
        write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\n")
        write(repo, "data/raw.csv", "id,value\n1,10\n2,20\n3,30\n")
        sh("dvc", "add", "-q", "data/raw.csv", cwd=repo)
        write(repo, "train.py", TRAIN)
        lineage(repo, "init")
        commit_all(repo, "train")
        for depth in ("3", "5"):
            lineage(repo, "run", "--", "python", "train.py", depth, env={**env, "MODEL": "churn"})
    return Recorded(repo, env)
