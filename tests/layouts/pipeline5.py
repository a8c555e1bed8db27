"""A cookiecutter-data-science project with a five-stage DVC pipeline and MLflow, in the shape of
github.com/Jarcos09/MLops_E38_Final (``src/data/dataset.py``, ``src/data/features.py``,
``src/modeling/train.py``, ``src/modeling/predict.py`` as DVC stages, ``params.yaml``, MLflow
tracking and model registry), with the habits issue 12 found in such projects:

* ``src/modeling/train.py`` reads ``params.yaml`` without declaring it (no ``params:`` and no
  dep), so DVC does not see a change of it and the team reruns with ``dvc repro --force``;
* the MLflow run is started by the evaluation stage (``src/modeling/predict.py``), not by
  training, and a later stage (``src/modeling/register.py``) registers the model from it;
* ``dvc.lock`` is committed one commit after the run it describes;
* a CIFAR stage the project never ran (``src/cifar.py``), which reads the whole raw directory.

Here the stages are a few lines of the standard library (the model a pickled dict), the data
synthetic. ``write(root)`` writes the files; ``NEW_FEATURE`` is an edit of the features script.
"""

from __future__ import annotations

from pathlib import Path

PIPELINE = """\
stages:
  dataset:
    cmd: python src/dataset.py
    deps: [src/dataset.py, data/raw/data.csv]
    outs: [data/processed/dataset.csv]
  features:
    cmd: python src/features.py
    deps: [src/features.py, data/processed/dataset.csv]
    outs: [data/processed/features.csv]
  train:
    cmd: python src/modeling/train.py
    deps: [src/modeling/train.py, data/processed/features.csv]
    outs: [models/model.pkl]
  evaluate:
    cmd: python src/modeling/predict.py
    deps: [src/modeling/predict.py, models/model.pkl, data/processed/features.csv]
    outs:
      - reports/metrics.json: {cache: false}
      - reports/run.txt: {cache: false}
  register:
    cmd: python src/modeling/register.py
    deps: [src/modeling/register.py, reports/run.txt]
  cifar:
    cmd: python src/cifar.py
    deps: [src/cifar.py, data/raw]
    outs: [data/external/cifar]
"""

DATASET = """\
import pathlib
rows = [r for r in pathlib.Path("data/raw/data.csv").read_text().splitlines()[1:] if r]
out = pathlib.Path("data/processed")
out.mkdir(parents=True, exist_ok=True)
(out / "dataset.csv").write_text("".join(r.strip() + "\\n" for r in rows))
"""

FEATURES = """\
import pathlib
rows = [r.split(",") for r in pathlib.Path("data/processed/dataset.csv").read_text().split()]
features = [(float(x), float(y), float(x) ** 2) for x, y in rows]
text = "".join(",".join(f"{v:.4f}" for v in row) + "\\n" for row in features)
pathlib.Path("data/processed/features.csv").write_text(text)
"""

# The features script as the team later edits it: one more feature.
NEW_FEATURE = FEATURES.replace("float(x) ** 2)", "float(x) ** 2, float(x) * float(y))")

TRAIN = """\
import pathlib, pickle, yaml
depth = yaml.safe_load(open("params.yaml"))["train"]["depth"]  # read, never declared
rows = [r.split(",") for r in pathlib.Path("data/processed/features.csv").read_text().split()]
columns = list(zip(*rows))
weights = [round(sum(float(v) for v in c) / len(c) / depth, 6) for c in columns]
pathlib.Path("models").mkdir(exist_ok=True)
pickle.dump({"depth": depth, "weights": weights}, open("models/model.pkl", "wb"))
"""

PREDICT = """\
import json, pathlib, pickle
import mlflow
model = pickle.load(open("models/model.pkl", "rb"))
rows = [r.split(",") for r in pathlib.Path("data/processed/features.csv").read_text().split()]
score = sum(sum(w * float(v) for w, v in zip(model["weights"], r)) for r in rows) / len(rows)
mlflow.set_experiment("pipeline5")
with mlflow.start_run() as run:
    mlflow.log_param("depth", model["depth"])
    mlflow.log_metric("score", score)
pathlib.Path("reports").mkdir(exist_ok=True)
pathlib.Path("reports/metrics.json").write_text(json.dumps({"score": score}))
pathlib.Path("reports/run.txt").write_text(run.info.run_id + "\\n")
"""

REGISTER = """\
import pathlib
import mlflow
run_id = pathlib.Path("reports/run.txt").read_text().strip()
client = mlflow.MlflowClient()
if not client.search_registered_models("name = 'pipeline5'"):
    client.create_registered_model("pipeline5")
client.create_model_version("pipeline5", source=f"runs:/{run_id}/model", run_id=run_id)
"""

CIFAR = """\
raise SystemExit("downloads CIFAR-10: never run in this project")
"""


def raw_csv(rows: int, seed: int) -> str:
    return "x,y\n" + "".join(f"{i},{(i * seed) % 23}\n" for i in range(1, rows + 1))


def write(root: Path) -> None:
    """The project's files (the raw data unversioned: the test `dvc add`s it)."""
    files = {
        "dvc.yaml": PIPELINE,
        "params.yaml": "train:\n  depth: 3\n",
        "src/dataset.py": DATASET,
        "src/features.py": FEATURES,
        "src/modeling/train.py": TRAIN,
        "src/modeling/predict.py": PREDICT,
        "src/modeling/register.py": REGISTER,
        "src/cifar.py": CIFAR,
        "data/raw/data.csv": raw_csv(30, 7),
        ".gitignore": "mlruns/\n",
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
