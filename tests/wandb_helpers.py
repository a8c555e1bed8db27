"""W&B scripts and environments the tests share: the real ``wandb`` package, offline."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import sh
from tests.helpers import lineage, write
from tests.scenarios import Recorded, hermetic_env

# Two runs in one process (``reinit``), nested config, a summary, a dataset and a model logged.
TWO_RUNS = """\
import sys, wandb
for depth in (3, 5):
    run = wandb.init(project="churn", entity="acme", name=f"depth-{depth}", group="grid",
                     job_type="train", config={"lr": 0.1, "model": {"depth": depth}},
                     reinit="finish_previous")
    run.log({"loss": 1.0})
    run.log({"loss": 1.0 / depth, "acc": 0.5 + depth / 100})
    run.summary["best"] = depth / 10
    data = wandb.Artifact("raw", type="dataset")
    data.add_file("data/raw.csv")
    run.log_artifact(data)
    model = wandb.Artifact("churn-model", type="model")
    model.add_file("src/train.py")
    run.log_artifact(model, aliases=["candidate"])
    run.finish()
print("trained")
"""

# One run, its depth from argv, for reproduce: the same argv gives the same summary.
ONE_RUN = """\
import sys, wandb
depth = int(sys.argv[1]) if len(sys.argv) > 1 else 3
run = wandb.init(project="churn", config={"depth": depth})
run.summary["score"] = depth / 10
art = wandb.Artifact("raw", type="dataset")
art.add_file("data/raw.csv")
run.log_artifact(art)
run.finish()
"""


def wandb_env(home: Path, **more: str) -> dict[str, str]:
    """The environment of a child that runs W&B offline with its own HOME (W&B stages
    artifacts under ~/.local/share/wandb)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
    )
    env.update(more)
    return env


# The command `lineage run` records in the `captured` scenario: two W&B runs in one process
# logging the DVC-tracked data as an artifact, an MLflow run beside them, and a child process
# shaped like a sweep agent (WANDB_SWEEP_ID set) that starts two more.
MIXED = """\
import os, subprocess, sys, mlflow, wandb
for depth in (3, 5):
    run = wandb.init(project="churn", entity="acme", name=f"depth-{depth}", group="grid",
                     job_type="train", config={"lr": 0.1, "model": {"depth": depth}},
                     reinit="finish_previous")
    run.log({"loss": 1.0 / depth})
    run.summary["best"] = depth / 10
    data = wandb.Artifact("raw", type="dataset")
    data.add_file("data/raw.csv")
    run.log_artifact(data)
    model = wandb.Artifact("churn-model", type="model")
    model.add_file("train.py")
    run.log_artifact(model)
    run.finish()
mlflow.set_experiment("beside")
with mlflow.start_run():
    mlflow.log_metric("score", 0.5)
subprocess.run([sys.executable, "sweep.py"], env={**os.environ, "WANDB_SWEEP_ID": "sw33p"},
               check=True)
print("trained")
"""

SWEEP = """\
import wandb
for lr in (0.1, 0.2):
    run = wandb.init(config={"lr": lr}, reinit="finish_previous")
    run.summary["score"] = lr
    run.finish()
"""


def build_captured(base: Path) -> Recorded:
    """A DVC project whose one `lineage run` made four W&B runs and one MLflow run (MIXED)."""
    env = {**wandb_env(base / "home"), **hermetic_env(base)}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    repo = base / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo, env=env)
    sh("dvc", "init", "-q", cwd=repo, env=env)
    write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\nwandb/\n")
    write(repo, "data/raw.csv", "id,value\n1,10\n2,20\n3,30\n")
    sh("dvc", "add", "-q", "data/raw.csv", cwd=repo, env=env)
    write(repo, "train.py", MIXED)
    write(repo, "sweep.py", SWEEP)
    lineage(repo, "init", env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "train", cwd=repo, env=env)
    ran = lineage(repo, "run", "--", "python", "train.py", env=env)
    (base / "run.stderr").write_text(ran.stderr)  # what the user saw, for the tests
    return Recorded(repo, env)


def build_unwrapped(base: Path) -> Recorded:
    """A DVC project where ONE_RUN ran twice without lineage (depth 4, then 6), before
    `lineage init`: the history `import wandb` takes in."""
    env = {**wandb_env(base / "home"), **hermetic_env(base)}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    repo = base / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo, env=env)
    sh("dvc", "init", "-q", cwd=repo, env=env)
    write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\nwandb/\n")
    write(repo, "data/raw.csv", "id,value\n1,10\n2,20\n3,30\n")
    sh("dvc", "add", "-q", "data/raw.csv", cwd=repo, env=env)
    write(repo, "train.py", ONE_RUN)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "train", cwd=repo, env=env)
    for depth in ("4", "6"):
        sh("python", "train.py", depth, cwd=repo, env=env)
    lineage(repo, "init", env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "lineage init", cwd=repo, env=env)
    return Recorded(repo, env)
