"""MLflow's ``examples/sklearn_elasticnet_wine`` (github.com/mlflow/mlflow): an MLproject whose
``main`` entry point runs ``python train.py {alpha} {l1_ratio}``, a ``python_env.yaml``, a script
that logs the same params itself and registers its model. Here with a second entry point
(``validate``), the CSV tracked by DVC, and a small gradient descent in place of scikit-learn's
ElasticNet (same shape: two float parameters in, rmse/r2/mae out)."""

from __future__ import annotations

import random
from pathlib import Path

MLPROJECT = """\
name: tutorial

python_env: python_env.yaml

entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      l1_ratio: {type: float, default: 0.1}
    command: "python train.py {alpha} {l1_ratio}"
  validate:
    parameters:
      data: {type: string, default: data/wine.csv}
      min_rows: {type: float, default: 10}
    command: "python validate.py {data} {min_rows}"
"""

PYTHON_ENV = """\
python: "3.11"
build_dependencies:
  - pip
dependencies:
  - mlflow
"""

TRAIN = """\
import csv, math, sys
import mlflow

alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
l1_ratio = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
rows = list(csv.DictReader(open("data/wine.csv")))
xs = [(float(r["fixed_acidity"]), float(r["alcohol"])) for r in rows]
ys = [float(r["quality"]) for r in rows]
w = [0.0, 0.0]
for _ in range(100):
    g = [0.0, 0.0]
    for (a, b), y in zip(xs, ys):
        e = w[0] * a + w[1] * b - y
        g[0] += e * a / len(xs)
        g[1] += e * b / len(xs)
    w = [w[i] - 0.001 * g[i] - 0.001 * alpha * l1_ratio for i in range(2)]
pred = [w[0] * a + w[1] * b for a, b in xs]
rmse = math.sqrt(sum((p - y) ** 2 for p, y in zip(pred, ys)) / len(ys))
mae = sum(abs(p - y) for p, y in zip(pred, ys)) / len(ys)
with mlflow.start_run() as run:
    mlflow.log_param("alpha", alpha)
    mlflow.log_param("l1_ratio", l1_ratio)
    mlflow.log_metric("rmse", rmse)
    mlflow.log_metric("mae", mae)
    client = mlflow.MlflowClient()
    try:
        client.create_registered_model("wine-model")
    except Exception:
        pass
    client.create_model_version(
        "wine-model", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    )
print(f"Elasticnet model (alpha={alpha:f}, l1_ratio={l1_ratio:f}): RMSE {rmse}")
"""

VALIDATE = """\
import csv, sys
import mlflow

rows = list(csv.DictReader(open(sys.argv[1])))
with mlflow.start_run():
    mlflow.log_metric("rows", len(rows))
assert len(rows) >= float(sys.argv[2])
"""


def wine_csv(seed: int = 1, n: int = 120) -> str:
    rng = random.Random(seed)
    lines = ["fixed_acidity,alcohol,quality"]
    for _ in range(n):
        a, b = rng.uniform(4, 12), rng.uniform(8, 14)
        lines.append(f"{a:.3f},{b:.3f},{0.3 * a + 0.4 * b + rng.gauss(0, 0.3):.3f}")
    return "\n".join(lines) + "\n"


def write(root: Path) -> None:
    """The project's files (the data unversioned: the test `dvc add`s it)."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "MLproject").write_text(MLPROJECT)
    (root / "python_env.yaml").write_text(PYTHON_ENV)
    (root / "train.py").write_text(TRAIN)
    (root / "validate.py").write_text(VALIDATE)
    (root / "data" / "wine.csv").write_text(wine_csv())
