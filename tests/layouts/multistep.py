"""MLflow's ``examples/multistep_workflow`` (github.com/mlflow/mlflow): an MLproject whose
``main`` entry point is a runner (``main.py``) that calls ``mlflow.run(".", step, parameters=...)``
once per step, inside its own run: load_raw_data -> etl_data -> als -> train_keras, each step its
own MLflow run nested under the runner's, each reading the previous step's artifacts by URI.
Here the steps are small pure-Python computations over synthetic ratings (no Spark, no Keras),
with the same entry points, parameters and artifact hand-over."""

from __future__ import annotations

from pathlib import Path

MLPROJECT = """\
name: multistep_example

entry_points:
  load_raw_data:
    command: "python load_raw_data.py"
  etl_data:
    parameters:
      ratings_csv: path
      max_row_limit: {type: int, default: 100000}
    command: "python etl_data.py --ratings-csv {ratings_csv} --max-row-limit {max_row_limit}"
  als:
    parameters:
      ratings_data: string
      max_iter: {type: int, default: 10}
    command: "python als.py --ratings-data {ratings_data} --max-iter {max_iter}"
  train_keras:
    parameters:
      ratings_data: string
      als_model_uri: string
      hidden_units: {type: int, default: 20}
    command: >-
      python train_keras.py --ratings-data {ratings_data}
      --als-model-uri {als_model_uri} --hidden-units {hidden_units}
  main:
    parameters:
      als_max_iter: {type: int, default: 10}
      keras_hidden_units: {type: int, default: 20}
      max_row_limit: {type: int, default: 100000}
    command: >-
      python main.py --als-max-iter {als_max_iter}
      --keras-hidden-units {keras_hidden_units} --max-row-limit {max_row_limit}
"""

# Shared by the steps: where an artifact URI points on a local store.
LOCAL = """\
def local(uri):
    return uri[len("file://"):] if uri.startswith("file://") else uri
"""

MAIN = """\
import argparse, os
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--als-max-iter", type=int, default=10)
parser.add_argument("--keras-hidden-units", type=int, default=20)
parser.add_argument("--max-row-limit", type=int, default=100000)
args = parser.parse_args()


def run(entrypoint, parameters):
    print(f"Launching new run for entrypoint={entrypoint} and parameters={parameters}")
    submitted = mlflow.run(".", entrypoint, parameters=parameters, env_manager="local")
    return mlflow.tracking.MlflowClient().get_run(submitted.run_id)


with mlflow.start_run():
    raw = run("load_raw_data", {})
    ratings_csv = os.path.join(raw.info.artifact_uri, "ratings-csv-dir")
    etl = run("etl_data", {"ratings_csv": ratings_csv, "max_row_limit": args.max_row_limit})
    ratings_data = os.path.join(etl.info.artifact_uri, "ratings-parquet-dir")
    als = run("als", {"ratings_data": ratings_data, "max_iter": str(args.als_max_iter)})
    als_model_uri = os.path.join(als.info.artifact_uri, "als-model")
    run("train_keras", {"ratings_data": ratings_data, "als_model_uri": als_model_uri,
                        "hidden_units": args.keras_hidden_units})
"""

LOAD_RAW_DATA = """\
import os, random, tempfile
import mlflow

rng = random.Random(7)
with mlflow.start_run():
    out = tempfile.mkdtemp()
    os.makedirs(os.path.join(out, "ratings-csv-dir"))
    with open(os.path.join(out, "ratings-csv-dir", "ratings.csv"), "w") as f:
        f.write("userId,movieId,rating\\n")
        for _ in range(300):
            f.write(f"{rng.randrange(20)},{rng.randrange(30)},{rng.choice([1, 2, 3, 4, 5])}\\n")
    mlflow.log_artifacts(os.path.join(out, "ratings-csv-dir"), "ratings-csv-dir")
"""

ETL_DATA = (
    LOCAL
    + """\
import argparse, os, tempfile
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--ratings-csv")
parser.add_argument("--max-row-limit", type=int)
args = parser.parse_args()
with mlflow.start_run():
    rows = open(os.path.join(local(args.ratings_csv), "ratings.csv")).read().splitlines()
    kept = rows[: args.max_row_limit + 1]
    out = tempfile.mkdtemp()
    with open(os.path.join(out, "ratings.csv"), "w") as f:
        f.write("\\n".join(kept) + "\\n")
    mlflow.log_artifacts(out, "ratings-parquet-dir")
"""
)

ALS = (
    LOCAL
    + """\
import argparse, json, os, tempfile
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--ratings-data")
parser.add_argument("--max-iter", type=int)
args = parser.parse_args()
rows = [line.split(",") for line in
        open(os.path.join(local(args.ratings_data), "ratings.csv")).read().splitlines()[1:]]
ratings = [(u, m, float(r)) for u, m, r in rows]
users = {u: 3.0 for u, _, _ in ratings}
for _ in range(args.max_iter):  # alternate towards each user's mean rating
    for u in users:
        mine = [r for v, _, r in ratings if v == u]
        users[u] = (users[u] + sum(mine) / len(mine)) / 2
mse = sum((users[u] - r) ** 2 for u, _, r in ratings) / len(ratings)
with mlflow.start_run():
    mlflow.log_metric("mse", mse)
    out = tempfile.mkdtemp()
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(users, f, sort_keys=True)
    mlflow.log_artifacts(out, "als-model")
print("als mse", mse)
"""
)

TRAIN_KERAS = (
    LOCAL
    + """\
import argparse, json, os
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--ratings-data")
parser.add_argument("--als-model-uri")
parser.add_argument("--hidden-units", type=int)
args = parser.parse_args()
users = json.load(open(os.path.join(local(args.als_model_uri), "model.json")))
rows = [line.split(",") for line in
        open(os.path.join(local(args.ratings_data), "ratings.csv")).read().splitlines()[1:]]
shrink = args.hidden_units / (args.hidden_units + 1)
mse = sum((users[u] * shrink - float(r)) ** 2 for u, _, r in rows) / len(rows)
with mlflow.start_run():
    mlflow.log_metric("test_mse", mse)
print("keras mse", mse)
"""
)

STEPS = ("load_raw_data", "etl_data", "als", "train_keras")


def write(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "MLproject").write_text(MLPROJECT)
    (root / "main.py").write_text(MAIN)
    (root / "load_raw_data.py").write_text(LOAD_RAW_DATA)
    (root / "etl_data.py").write_text(ETL_DATA)
    (root / "als.py").write_text(ALS)
    (root / "train_keras.py").write_text(TRAIN_KERAS)
