"""A DVC pipeline whose stages each log to MLflow, in miniature, with synthetic data.

Shaped on DavidIbrahimG/Data-Pipeline-with-DVC-and-MLflow-for-Machine-Learning (a DVC pipeline
``preprocess -> train -> evaluate`` over ``data/raw/data.csv``, ``params.yaml`` with a section
per stage, ``models/model.pkl``; ``train`` and ``evaluate`` each log to MLflow from inside their
stage), with a feature-engineering stage between preprocess and train that logs to MLflow too,
as such pipelines often do. Here:

* ``preprocess`` (no MLflow): ``data/raw/data.csv`` -> ``data/processed/data.csv``;
* ``featurize`` (one MLflow run): -> ``data/features/features.csv``;
* ``train`` (one MLflow run, registers ``stage-model``): -> ``models/model.pkl``;
* ``evaluate`` (one MLflow run, started by a subprocess of the stage's command): reads the
  model and the features -> ``metrics.json``.

Deterministic, except that ``SALT=x`` changes the model train writes without DVC seeing any
dependency change (a forced rerun then rewrites the model and leaves the rest identical).
"""

from __future__ import annotations

from pathlib import Path

from tests.corpus.project import Project, new_project

MODEL = "stage-model"

PARAMS = """\
preprocess:
  min_value: 2
featurize:
  scale: 3
train:
  weight: 0.5
"""

PIPELINE = """\
stages:
  preprocess:
    cmd: python src/preprocess.py
    deps:
      - data/raw/data.csv
      - src/preprocess.py
    params:
      - preprocess.min_value
    outs:
      - data/processed/data.csv
  featurize:
    cmd: python src/featurize.py
    deps:
      - data/processed/data.csv
      - src/featurize.py
    params:
      - featurize.scale
    outs:
      - data/features/features.csv
  train:
    cmd: python src/train.py
    deps:
      - data/features/features.csv
      - src/train.py
    params:
      - train.weight
    outs:
      - models/model.pkl
  evaluate:
    cmd: python src/evaluate.py
    deps:
      - data/features/features.csv
      - models/model.pkl
      - src/evaluate.py
    metrics:
      - metrics.json:
          cache: false
"""

PREPROCESS = """\
import pathlib, yaml
low = yaml.safe_load(open("params.yaml"))["preprocess"]["min_value"]
rows = [int(x) for x in pathlib.Path("data/raw/data.csv").read_text().split()]
out = pathlib.Path("data/processed/data.csv")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("".join(f"{x}\\n" for x in rows if x >= low))
"""

FEATURIZE = """\
import pathlib, yaml, mlflow
scale = yaml.safe_load(open("params.yaml"))["featurize"]["scale"]
rows = [int(x) for x in pathlib.Path("data/processed/data.csv").read_text().split()]
out = pathlib.Path("data/features/features.csv")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("".join(f"{x},{x * scale}\\n" for x in rows))
mlflow.set_experiment("stage-runs")
with mlflow.start_run(run_name="featurize"):
    mlflow.log_metric("n_features", len(rows))
"""

TRAIN = """\
import json, os, pathlib, yaml, mlflow
weight = yaml.safe_load(open("params.yaml"))["train"]["weight"]
rows = [line.split(",") for line in pathlib.Path("data/features/features.csv").read_text().split()]
fit = sum(int(b) for _, b in rows) / len(rows) * weight
model = pathlib.Path("models/model.pkl")
model.parent.mkdir(parents=True, exist_ok=True)
model.write_text(json.dumps({"fit": fit, "salt": os.environ.get("SALT", "")}))
mlflow.set_experiment("stage-runs")
with mlflow.start_run(run_name="train") as run:
    mlflow.log_metric("fit", fit)
    client = mlflow.MlflowClient()
    if not client.search_registered_models("name = 'stage-model'"):
        client.create_registered_model("stage-model")
    source = f"runs:/{run.info.run_id}/model"
    client.create_model_version("stage-model", source, run_id=run.info.run_id)
"""

EVALUATE = """\
import subprocess, sys
# The evaluation runs in a child process of the stage's command, as a launcher script does.
subprocess.run([sys.executable, "src/score.py"], check=True)
"""

SCORE = """\
import json, pathlib, mlflow
fit = json.loads(pathlib.Path("models/model.pkl").read_text())["fit"]
rows = [line.split(",") for line in pathlib.Path("data/features/features.csv").read_text().split()]
error = sum(abs(int(b) - fit) for _, b in rows) / len(rows)
pathlib.Path("metrics.json").write_text(json.dumps({"error": error}))
mlflow.set_experiment("stage-runs")
with mlflow.start_run(run_name="evaluate"):
    mlflow.log_metric("error", error)
"""


def write(root: Path) -> None:
    files = {
        "params.yaml": PARAMS,
        "dvc.yaml": PIPELINE,
        "src/preprocess.py": PREPROCESS,
        "src/featurize.py": FEATURIZE,
        "src/train.py": TRAIN,
        "src/evaluate.py": EVALUATE,
        "src/score.py": SCORE,
        "data/raw/data.csv": "".join(f"{(i * 7) % 11}\n" for i in range(30)),
        ".gitignore": "mlflow.db\nmlruns/\nmlartifacts/\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def build(base: Path) -> Project:
    """The layout as a committed git + DVC project with `lineage init`; nothing run yet. Its
    MLflow experiment keeps artifacts outside the repository."""
    project = new_project(base)
    write(project.repo)
    (base / "dvc-remote").mkdir()
    project.sh("dvc", "init", "-q")
    project.sh("dvc", "remote", "add", "-d", "storage", str(base / "dvc-remote"))
    project.sh("dvc", "add", "-q", "data/raw/data.csv")
    project.python(
        "import mlflow, sys; "
        f"mlflow.create_experiment('stage-runs', artifact_location={str(base / 'art')!r})"
    )
    project.lineage("init")
    project.commit_all("A pipeline whose stages log to MLflow")
    return project
