"""Train the churn classifier, write models/model.pkl and metrics.json, log to MLflow.

Deterministic: a seeded RandomForest with n_jobs=1 on the same prepared data gives
the same model.pkl bytes and the same metrics (written at full float precision).

MLflow is configured from the environment only (MLFLOW_TRACKING_URI, ...); this
script never sets a tracking URI.  Other environment variables:

    CHURN_EXPERIMENT   experiment name            (default "churn")
    CHURN_MODEL_NAME   registered model name      (default "churn-model")
    CHURN_REGISTER     "0" to log the model without registering a version
"""
import json
import logging
import os
import pickle
from importlib.metadata import version

import mlflow
import mlflow.sklearn
import pandas as pd
import yaml
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

PREPARED = os.path.join("data", "prepared")
MODEL_PATH = os.path.join("models", "model.pkl")
METRICS_PATH = "metrics.json"

TARGET = "churned"
NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls"]
CATEGORICAL = {
    "contract": ["month-to-month", "one-year", "two-year"],
    "internet_service": ["dsl", "fiber-optic", "none"],
}
FEATURES = NUMERIC + list(CATEGORICAL)
# Given explicitly, MLflow skips inferring requirements, which loads the model in a
# subprocess and costs ~4 s; mlflow itself is added by MLflow.
PIP_REQUIREMENTS = [
    f"{package}=={version(package)}"
    for package in ("scikit-learn", "cloudpickle", "numpy", "pandas", "scipy")
]
DTYPES = {
    "customer_id": str,
    "tenure_months": "float64",
    "monthly_charges": "float64",
    "total_charges": "float64",
    "support_calls": "float64",
    "contract": str,
    "internet_service": str,
    TARGET: "int64",
}


class _DropCloudpickleCaution(logging.Filter):
    """Drop the one warning MLflow logs on every non-skops sklearn save.

    skops refuses a RandomForest, so cloudpickle is a deliberate choice here;
    every other mlflow.sklearn message still gets through.
    """

    def filter(self, record):
        return not record.getMessage().startswith(
            "Saving scikit-learn models in the pickle or cloudpickle format"
        )


logging.getLogger("mlflow.sklearn").addFilter(_DropCloudpickleCaution())


def load(name):
    df = pd.read_csv(os.path.join(PREPARED, f"{name}.csv"), dtype=DTYPES)
    return df[FEATURES], df[TARGET]


def build_model(params):
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", NUMERIC),
            (
                "categorical",
                OneHotEncoder(categories=list(CATEGORICAL.values()), handle_unknown="ignore"),
                list(CATEGORICAL),
            ),
        ]
    )
    forest = RandomForestClassifier(
        n_estimators=int(params["n_estimators"]),
        max_depth=None if params.get("max_depth") is None else int(params["max_depth"]),
        random_state=int(params["seed"]),
        n_jobs=1,
    )
    return Pipeline([("encode", encode), ("forest", forest)])


def flatten(params, prefix=""):
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def main():
    with open("params.yaml", encoding="utf-8") as f:
        all_params = yaml.safe_load(f)

    X_train, y_train = load("train")
    X_test, y_test = load("test")

    model = build_model(all_params["train"])
    model.fit(X_train, y_train)

    proba = model.predict_proba(X_test)[:, 1]
    predicted = model.predict(X_test)
    metrics = {
        "roc_auc": float(roc_auc_score(y_test, proba)),
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1": float(f1_score(y_test, predicted)),
    }

    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    with open(MODEL_PATH, "wb") as f:
        pickle.dump(model, f, protocol=4)
    with open(METRICS_PATH, "w", encoding="utf-8") as f:
        # json writes floats with repr(): the shortest text that round-trips exactly.
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")

    register = os.environ.get("CHURN_REGISTER", "1") != "0"
    model_name = os.environ.get("CHURN_MODEL_NAME", "churn-model")

    mlflow.set_experiment(os.environ.get("CHURN_EXPERIMENT", "churn"))
    with mlflow.start_run() as run:
        mlflow.log_params(flatten(all_params))
        mlflow.log_metrics(metrics)
        mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="cloudpickle",
            signature=infer_signature(X_train, predicted),
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=model_name if register else None,
        )

    print(
        f"run {run.info.run_id}: "
        + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
    )


if __name__ == "__main__":
    main()
