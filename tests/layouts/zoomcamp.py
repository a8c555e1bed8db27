"""DataTalksClub's mlops-zoomcamp experiment-tracking homework (github.com/DataTalksClub/
mlops-zoomcamp, ``cohorts/2024/02-experiment-tracking/homework``): no DVC, data prepared by one
script, scripts that pick their own tracking store with ``mlflow.set_tracking_uri(
"sqlite:///mlflow.db")`` (relative to where they run, inside the repository, not gitignored),
``mlflow.sklearn.autolog()``, a hyperparameter search, and the best model registered afterwards
by ``register_model.py``, which searches the runs for the best one and registers it.

Here smaller: a synthetic trips CSV committed to git, a random forest of a few trees, and a grid
search whose trials are nested runs under one parent (as hyperopt tutorials log them). Autolog
is told not to log models (``log_models=False``): logging one infers pip requirements for
seconds, and the run it makes is the same either way. For the same reason the registration goes
through ``MlflowClient.create_model_version`` rather than ``mlflow.register_model``, which in
MLflow 3 wants a logged model under the run.
"""

from __future__ import annotations

import random
from pathlib import Path

STORE = 'MLFLOW_TRACKING_URI = "sqlite:///mlflow.db"\n'

PREPROCESS = """\
import csv, os, pickle

rows = list(csv.DictReader(open("data/trips.csv")))
X = [[float(r["distance"]), float(r["passengers"])] for r in rows]
y = [float(r["duration"]) for r in rows]
os.makedirs("output", exist_ok=True)
cut = int(len(X) * 0.7)
for name, part in (("train", slice(0, cut)), ("val", slice(cut, None))):
    with open(f"output/{name}.pkl", "wb") as f:
        pickle.dump((X[part], y[part]), f)
print("prepared", len(X), "trips")
"""

TRAIN = (
    "import pickle\nimport mlflow\nfrom sklearn.ensemble import RandomForestRegressor\n"
    "from sklearn.metrics import mean_squared_error\n\n"
    + STORE
    + """\
mlflow.set_tracking_uri(MLFLOW_TRACKING_URI)
mlflow.set_experiment("nyc-taxi-experiment")
mlflow.sklearn.autolog(log_models=False)

X_train, y_train = pickle.load(open("output/train.pkl", "rb"))
X_val, y_val = pickle.load(open("output/val.pkl", "rb"))
with mlflow.start_run():
    rf = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0)
    rf.fit(X_train, y_train)
    rmse = mean_squared_error(y_val, rf.predict(X_val)) ** 0.5
    mlflow.log_metric("rmse", rmse)
"""
)

HPO = (
    "import pickle\nimport mlflow\nfrom sklearn.ensemble import RandomForestRegressor\n"
    "from sklearn.metrics import mean_squared_error\n\n"
    + STORE
    + """\
mlflow.set_tracking_uri(MLFLOW_TRACKING_URI)
mlflow.set_experiment("random-forest-hyperopt")

X_train, y_train = pickle.load(open("output/train.pkl", "rb"))
X_val, y_val = pickle.load(open("output/val.pkl", "rb"))
with mlflow.start_run(run_name="search"):
    mlflow.log_param("trials", 3)
    for depth in (2, 4, 6):
        with mlflow.start_run(run_name=f"depth-{depth}", nested=True):
            mlflow.log_params({"max_depth": depth, "n_estimators": 5, "random_state": 42})
            rf = RandomForestRegressor(max_depth=depth, n_estimators=5, random_state=42)
            rf.fit(X_train, y_train)
            rmse = mean_squared_error(y_val, rf.predict(X_val)) ** 0.5
            mlflow.log_metric("rmse", rmse)
"""
)

REGISTER = (
    "import sys\nimport mlflow\nfrom mlflow.tracking import MlflowClient\n\n"
    + STORE
    + """\
mlflow.set_tracking_uri(MLFLOW_TRACKING_URI)
client = MlflowClient(tracking_uri=MLFLOW_TRACKING_URI)
experiment = client.get_experiment_by_name("random-forest-hyperopt")
best = client.search_runs(
    experiment_ids=[experiment.experiment_id],
    filter_string="metrics.rmse > 0",
    order_by=["metrics.rmse ASC"],
    max_results=1,
)[0]
try:
    client.create_registered_model("taxi-rf")
except mlflow.exceptions.MlflowException:
    pass  # registered before
version = client.create_model_version(
    "taxi-rf", source=f"runs:/{best.info.run_id}/model", run_id=best.info.run_id
)
client.set_registered_model_alias("taxi-rf", "champion", version.version)
print(best.info.run_id, version.version)
"""
)


def trips_csv(seed: int = 7, n: int = 60) -> str:
    rng = random.Random(seed)
    lines = ["distance,passengers,duration"]
    for _ in range(n):
        d, p = rng.uniform(0.5, 12), rng.randint(1, 4)
        lines.append(f"{d:.2f},{p},{4 + 3.1 * d + 0.5 * p + rng.gauss(0, 1):.2f}")
    return "\n".join(lines) + "\n"


def write(root: Path) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "trips.csv").write_text(trips_csv())
    (root / "preprocess_data.py").write_text(PREPROCESS)
    (root / "train.py").write_text(TRAIN)
    (root / "hpo.py").write_text(HPO)
    (root / "register_model.py").write_text(REGISTER)
    (root / ".gitignore").write_text("output/\n")
