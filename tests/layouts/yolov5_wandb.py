"""Ultralytics YOLOv5's Weights & Biases logging in miniature, with synthetic data.

Taken from ultralytics/yolov5 (``train.py``, ``utils/loggers/wandb/wandb_utils.py``): ``wandb.init``
with the options as its ``config``, ``project="YOLOv5"`` (when ``--project`` is the default
``runs/train``), ``job_type="Training"`` and ``resume="allow"``; checkpoints written to
``runs/train/exp/weights/last.pt``; and after every epoch ``log_model``: an artifact named after
the run, ``run_<run id>_model``, of type ``model``, holding ``last.pt``, logged with the aliases
``latest``, ``last``, ``epoch N`` and ``best`` on a best epoch, else an empty alias (``""``), as
YOLOv5 does. So one run logs several versions of one model, and ``best`` stays on an older one.

The dataset (``data/coco128.yaml`` naming ``datasets/coco128``) is tracked by DVC here; YOLOv5
downloads it beside the repository. The "training" is a deterministic sum over the label files:
a rerun writes the same weights, epoch by epoch.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import sh
from tests.helpers import write

DATA_YAML = """\
# COCO128 in miniature (synthetic): YOLOv5's dataset file shape
path: datasets/coco128
train: images/train2017
val: images/train2017
names:
  0: person
  1: bicycle
"""

WANDB_UTILS = """\
import wandb
from pathlib import Path


class WandbLogger:
    def __init__(self, opt, job_type="Training"):
        self.wandb_run = wandb.init(
            config=vars(opt),
            resume="allow",
            project="YOLOv5" if opt.project == "runs/train" else Path(opt.project).stem,
            entity=opt.entity,
            name=opt.name if opt.name != "exp" else None,
            job_type=job_type,
            allow_val_change=True,
        ) if not wandb.run else wandb.run
        self.current_epoch = 0

    def log_model(self, path, opt, epoch, fitness_score, best_model=False):
        model_artifact = wandb.Artifact(
            "run_" + wandb.run.id + "_model",
            type="model",
            metadata={"original_url": str(path), "epochs_trained": epoch + 1,
                      "project": opt.project, "total_epochs": opt.epochs,
                      "fitness_score": fitness_score},
        )
        model_artifact.add_file(str(path / "last.pt"), name="last.pt")
        wandb.log_artifact(
            model_artifact,
            aliases=["latest", "last", "epoch " + str(self.current_epoch),
                     "best" if best_model else ""],
        )

    def log(self, log_dict):
        wandb.log(log_dict)

    def finish_run(self):
        wandb.run.finish()
"""

TRAIN = """\
import argparse
from pathlib import Path

import yaml

from utils.loggers.wandb.wandb_utils import WandbLogger

parser = argparse.ArgumentParser()
parser.add_argument("--data", default="data/coco128.yaml")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--project", default="runs/train")
parser.add_argument("--name", default="exp")
parser.add_argument("--entity", default=None)
opt = parser.parse_args()

data = yaml.safe_load(Path(opt.data).read_text())
labels = sorted((Path(data["path"]) / "labels" / "train2017").glob("*.txt"))
boxes = [line.split() for f in labels for line in f.read_text().splitlines()]
save_dir = Path(opt.project) / opt.name
weights = save_dir / "weights"
weights.mkdir(parents=True, exist_ok=True)
logger = WandbLogger(opt)
best_fitness = 0.0
for epoch in range(opt.epochs):
    logger.current_epoch = epoch + 1
    # Fitness rises, then falls in the last epoch: `best` stays on epoch 2.
    fitness = round(len(boxes) * (epoch + 1) / (10.0 * (1 + 3 * (epoch == 2))), 4)
    (weights / "last.pt").write_text(f"epoch={epoch} boxes={len(boxes)} fitness={fitness}\\n")
    best = fitness > best_fitness
    best_fitness = max(best_fitness, fitness)
    logger.log({"metrics/mAP_0.5": fitness, "epoch": epoch})
    logger.log_model(weights, opt, epoch, fitness, best_model=best)
logger.finish_run()
print(f"best fitness {best_fitness}")
"""


def write_project(repo: Path) -> None:
    """The files: YOLOv5's shape, synthetic labels for 4 images."""
    # W&B's own directory is left to `lineage init --gitignore`, whose entries do not ignore
    # utils/loggers/wandb/ (a bare `wandb/` line would: the logger's code never committed).
    write(repo, ".gitignore", "runs/\n*.pt\n")
    write(repo, "data/coco128.yaml", DATA_YAML)
    write(repo, "utils/__init__.py", "")
    write(repo, "utils/loggers/__init__.py", "")
    write(repo, "utils/loggers/wandb/__init__.py", "")
    write(repo, "utils/loggers/wandb/wandb_utils.py", WANDB_UTILS)
    write(repo, "train.py", TRAIN)
    for n in range(4):
        stem = f"datasets/coco128/labels/train2017/{n:012d}"
        write(
            repo, f"{stem}.txt", "".join(f"{k % 2} 0.5 0.5 0.{n + 1} 0.2\n" for k in range(n + 1))
        )
        write(repo, f"datasets/coco128/images/train2017/{n:012d}.jpg", f"jpeg {n}\n")


def build(repo: Path, env: dict[str, str]) -> None:
    """git + DVC (``datasets/coco128`` added as one directory), ``lineage init --gitignore``,
    one commit."""
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo, env=env)
    sh("dvc", "init", "-q", cwd=repo, env=env)
    write_project(repo)
    sh("dvc", "add", "-q", "datasets/coco128", cwd=repo, env=env)
    sh("lineage", "init", "--gitignore", cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "YOLOv5 with W&B logging", cwd=repo, env=env)
