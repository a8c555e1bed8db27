"""A history made WITHOUT lineage, for `lineage import mlflow` and `lineage audit`: plain git,
`dvc repro`, MLflow logging and registration (the training script registers), as a team has it
on the day it adopts lineage. Built once per test session (per xdist worker):

    C1  code, params depth 3, raw v1 (.dvc)       R1 churn/1  @legacy      no dvc.lock yet
    C2  dvc.lock of R1
    C3  params depth 5                             R2 churn/2  @champion    lock consistent
    C4  dvc.lock of R2
    C5  raw v2 (.dvc)                              R3 churn/3  @challenger  lock STALE here
    C6  dvc.lock of R3
        (train.py edited, not committed)           R4 churn/4  @candidate   dirty tree
    C7  branch `experiment`, depth 7 (not merged)  R5 churn/5  @experiment  unmerged branch
    C8  raw v3 (.dvc), never `dvc push`ed          R6 churn/6  @shadow      data gone
    C9  dvc.lock of R6; C10 raw v4; then `dvc gc -w` (raw v1 stays only in the remote)
    C11 `lineage init`; `lineage run -- dvc repro` R7 churn/7  @production  observed, reproduced

main is pushed to a bare `origin`; `experiment` is not.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.conftest import sh
from tests.helpers import commit_all, write
from tests.scenarios import hermetic_env

PREPARE = """\
import pathlib
rows = pathlib.Path("data/raw.csv").read_text().splitlines()
out = pathlib.Path("data/prepared")
out.mkdir(exist_ok=True)
(out / "train.csv").write_text("\\n".join(rows[: len(rows) // 2]) + "\\n")
(out / "test.csv").write_text("\\n".join(rows[len(rows) // 2 :]) + "\\n")
"""

TRAIN = """\
import pathlib, yaml, mlflow
params = yaml.safe_load(open("params.yaml"))["train"]
rows = pathlib.Path("data/prepared/train.csv").read_text().splitlines()
score = len(rows) * params["depth"] / 100
pathlib.Path("model.txt").write_text(f"depth={params['depth']} rows={len(rows)}\\n")
mlflow.set_experiment("churn")
with mlflow.start_run() as run:
    mlflow.log_params(params)
    mlflow.log_metric("score", score)
    client = mlflow.MlflowClient()
    try:
        client.create_registered_model("churn")
    except Exception:
        pass
    client.create_model_version("churn", source=f"runs:/{run.info.run_id}/model",
                                run_id=run.info.run_id)
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, data/raw.csv]
    params: [prepare.split]
    outs: [data/prepared]
  train:
    cmd: python train.py
    deps: [train.py, data/prepared]
    params: [train.depth]
    outs: [model.txt]
"""

ALIASES = {
    1: "legacy",
    2: "champion",
    3: "challenger",
    4: "candidate",
    5: "experiment",
    6: "shadow",
    7: "production",
}


def _raw(rows: int, seed: int) -> str:
    return "id,value\n" + "".join(f"{i},{(i * seed) % 89}\n" for i in range(rows))


@dataclass
class History:
    repo: Path
    env: dict[str, str]
    raw: dict[str, str] = field(default_factory=dict)  # v1.. -> md5
    prepared: dict[str, str] = field(default_factory=dict)  # churn/N -> md5 of what it read
    commits: dict[str, str] = field(default_factory=dict)  # churn/N -> commit MLflow tagged

    def lineage(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return sh("lineage", *args, cwd=self.repo, env=self.env, check=check)

    def sh(self, *args: str) -> str:
        return sh(*args, cwd=self.repo, env=self.env).stdout

    def untouched(self, tmp_path: Path) -> History:
        """A copy of the repository as it was built, before any test imported into it (the
        MLflow store is shared: imports only read it)."""
        built = self.repo.parent / "as-built"
        return replace(self, repo=Path(shutil.copytree(built, tmp_path / "project", symlinks=True)))


def _lock_md5(repo: Path, path: str) -> str:
    import yaml

    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return next(o["md5"] for o in lock["stages"]["prepare"]["outs"] if o["path"] == path)


def build_history(base: Path) -> History:
    """Build the history under ``base`` (a directory of its own)."""
    env = hermetic_env(base)
    repo = base / "project"
    repo.mkdir()
    h = History(repo, env)

    def run(*args: str) -> str:
        return sh(*args, cwd=repo, env=env).stdout

    def head() -> str:
        return run("git", "rev-parse", "HEAD").strip()

    def raw(version: str, rows: int, seed: int) -> None:
        write(repo, "data/raw.csv", _raw(rows, seed))
        run("dvc", "add", "-q", "data/raw.csv")
        h.raw[version] = (repo / "data/raw.csv.dvc").read_text().split("md5: ")[1][:32]

    def train(model: str) -> None:
        h.commits[model] = head()
        run("dvc", "repro", "-q")
        h.prepared[model] = _lock_md5(repo, "data/prepared")

    run("git", "init", "-q")
    run("git", "init", "-q", "--bare", str(base / "origin.git"))
    run("git", "remote", "add", "origin", str(base / "origin.git"))
    run("dvc", "init", "-q")
    run("dvc", "remote", "add", "-d", "storage", str(base / "dvc-remote"))
    write(repo, ".gitignore", "mlruns/\n")
    write(repo, "prepare.py", PREPARE)
    write(repo, "train.py", TRAIN)
    write(repo, "dvc.yaml", PIPELINE)
    write(repo, "params.yaml", "prepare:\n  split: 0.5\ntrain:\n  depth: 3\n")
    raw("v1", 40, 7)
    commit_all(repo, "C1 pipeline, params, raw v1")
    train("churn/1")
    commit_all(repo, "C2 lock of R1")
    run("dvc", "push", "-q")
    write(repo, "params.yaml", "prepare:\n  split: 0.5\ntrain:\n  depth: 5\n")
    commit_all(repo, "C3 depth 5")
    train("churn/2")
    commit_all(repo, "C4 lock of R2")
    run("dvc", "push", "-q")
    raw("v2", 60, 11)
    commit_all(repo, "C5 raw v2")
    train("churn/3")
    commit_all(repo, "C6 lock of R3")
    run("dvc", "push", "-q")
    write(repo, "train.py", TRAIN.replace("/ 100", "/ 99"))  # an edit never committed
    train("churn/4")
    run("git", "checkout", "--", "train.py", "dvc.lock")
    run("git", "checkout", "-q", "-b", "experiment")
    write(repo, "params.yaml", "prepare:\n  split: 0.5\ntrain:\n  depth: 7\n")
    commit_all(repo, "C7 depth 7 on a branch")
    train("churn/5")
    run("git", "checkout", "-q", "-f", "main")
    run("dvc", "checkout", "-q", "--force")
    raw("v3", 30, 13)
    commit_all(repo, "C8 raw v3 (never pushed)")
    train("churn/6")
    commit_all(repo, "C9 lock of R6")
    raw("v4", 20, 17)
    sh("lineage", "init", cwd=repo, env=env)
    commit_all(repo, "C10 raw v4, lineage init")
    sh("lineage", "run", "--", "dvc", "repro", "-q", cwd=repo, env=env)
    commit_all(repo, "C11 lock of R7")
    run("dvc", "push", "-q")
    run("dvc", "gc", "-w", "-f", "-q")
    run("git", "push", "-q", "origin", "main")
    set_aliases = "import mlflow\nc = mlflow.MlflowClient()\n" + "".join(
        f"c.set_registered_model_alias('churn', '{alias}', '{v}')\n" for v, alias in ALIASES.items()
    )
    sh(sys.executable, "-c", set_aliases, cwd=repo, env=env)
    sh("lineage", "reproduce", "churn/7", cwd=repo, env=env)
    shutil.copytree(repo, base / "as-built", symlinks=True)
    return h
