"""lineage.adapters.mlflow against a real MLflow on SQLite (the server path: test_mlflow_server)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lineage.adapters.mlflow import find_session_runs, registered_versions, set_tags
from lineage.adapters.mlflow_registry import model_aliases, resolve_model
from lineage.adapters.mlflow_uri import MlflowStores
from lineage.errors import TrackingUnreachableError
from lineage.records import ModelVersion
from tests.helpers import unused_port

pytestmark = [
    # MLflow 3.17's SQLAlchemy models use `noload`, deprecated in SQLAlchemy 2.1; as an error it
    # breaks mapper configuration for the rest of the process.
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
    # `import mlflow.pyfunc` warns about its own pydantic types (mlflow/types/responses.py).
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]

# --- URIs ---------------------------------------------------------------------------------------


# --- check_reachable ----------------------------------------------------------------------------


# MLflow's own client retries a dead server with exponential backoff for minutes; lineage must
# not. These tests assert no timings: the per-test timeout only turns such a retry loop into a
# failure instead of a stall.


@pytest.mark.timeout(120)
def test_reading_from_a_server_that_is_down_does_not_retry() -> None:
    uri = f"http://127.0.0.1:{unused_port()}"

    for read in (
        lambda: resolve_model(MlflowStores(uri, uri), "churn", alias="champion"),
        lambda: model_aliases(MlflowStores(uri, uri), "churn"),
        lambda: find_session_runs(uri, "s-1"),
        lambda: registered_versions(uri, uri, ["0" * 32]),
    ):
        with pytest.raises(TrackingUnreachableError, match=r"\(connection refused\)"):
            read()


# --- runs ---------------------------------------------------------------------------------------


def test_find_session_runs_reads_back_every_tagged_run_in_every_experiment(
    mlflow_uri: str, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri=mlflow_uri)
    first = client.create_experiment("first", artifact_location=str(tmp_path / "a1"))
    second = client.create_experiment("second", artifact_location=str(tmp_path / "a2"))
    session = {"lineage.session": "s-1"}
    parent = client.create_run(first, run_name="parent", tags=session, start_time=1000)
    child = client.create_run(
        first,
        run_name="child",
        start_time=1001,
        tags={**session, "mlflow.parentRunId": parent.info.run_id},
    )
    other = client.create_run(second, run_name="other", tags=session, start_time=999)
    client.create_run(first, run_name="elsewhere", tags={"lineage.session": "s-2"})
    client.create_run(first, run_name="untagged")
    client.log_param(child.info.run_id, "lr", "0.1")
    for value in (0.5, 0.25):
        client.log_metric(child.info.run_id, "loss", value)
    client.log_metric(child.info.run_id, "nan", math.nan)
    client.log_metric(child.info.run_id, "inf", math.inf)
    client.log_metric(child.info.run_id, "ninf", -math.inf)
    client.set_terminated(child.info.run_id, "FAILED", end_time=2000)
    client.delete_experiment(second)  # still lineage's evidence

    runs = find_session_runs(mlflow_uri, "s-1")

    assert [(r.name, r.experiment_name) for r in runs] == [
        ("other", "second"),
        ("parent", "first"),
        ("child", "first"),
    ]
    assert runs[0].run_id == other.info.run_id
    found = runs[2]
    assert found.run_id == child.info.run_id
    assert found.parent_run_id == parent.info.run_id
    assert found.params == {"lr": "0.1"}
    # MLflow's SQL stores keep ±inf as ±float max (SqlAlchemyStore.sanitize_metric_value).
    assert found.metrics == {
        "loss": 0.25,
        "nan": "NaN",
        "inf": sys.float_info.max,
        "ninf": -sys.float_info.max,
    }
    assert (found.status, found.start_ms, found.end_ms) == ("FAILED", 1001, 2000)
    assert found.experiment_id == first and found.tracking_uri == mlflow_uri
    assert runs[1].parent_run_id is None and runs[1].status == "RUNNING"


def test_find_session_runs_does_not_create_a_missing_store(tmp_path: Path) -> None:
    assert find_session_runs(f"sqlite:///{tmp_path}/none.db", "s-1") == []
    assert not (tmp_path / "none.db").exists()


def test_opening_a_new_store_prints_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()  # exists, no tables: MLflow creates them, and says so
    code = (
        "from lineage.adapters.mlflow import find_session_runs\n"
        f"print(find_session_runs('sqlite:///{tmp_path}/empty.db', 's-1'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "[]\n", "")


def test_set_tags_truncates_long_values(mlflow_uri: str, tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment = client.create_experiment("e", artifact_location=str(tmp_path / "a"))
    run = client.create_run(experiment)

    set_tags(mlflow_uri, run.info.run_id, {"lineage.record": "r1", "long": "x" * 9000})

    tags = client.get_run(run.info.run_id).data.tags
    assert tags["lineage.record"] == "r1" and tags["long"] == "x" * 8000


# --- the model registry -------------------------------------------------------------------------


def identity_model() -> object:
    """A pyfunc model that returns its input."""
    import mlflow.pyfunc

    class Identity(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def predict(
            self, context: object, model_input: list[str], params: dict[str, str] | None = None
        ) -> list[str]:
            # MLflow reads these hints as the model's signature; vaguer ones make it warn.
            return model_input

    return Identity()


def test_registered_versions_finds_models_logged_and_registered_by_runs(
    mlflow_uri: str, tmp_path: Path
) -> None:
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    experiment = mlflow.create_experiment("churn", artifact_location=str(tmp_path / "artifacts"))
    with mlflow.start_run(experiment_id=experiment) as sk_run:
        model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="churn", serialization_format="cloudpickle"
        )
    with mlflow.start_run(experiment_id=experiment) as py_run:
        info = mlflow.pyfunc.log_model(name="model", python_model=identity_model())
    mlflow.register_model(info.model_uri, "churn")
    mlflow.register_model(info.model_uri, "churn-shadow")
    with mlflow.start_run(experiment_id=experiment) as bare_run:
        pass

    found = registered_versions(
        mlflow_uri, mlflow_uri, [sk_run.info.run_id, py_run.info.run_id, bare_run.info.run_id]
    )

    assert found == {
        sk_run.info.run_id: [ModelVersion("churn", 1)],
        py_run.info.run_id: [ModelVersion("churn", 2), ModelVersion("churn-shadow", 1)],
        bare_run.info.run_id: [],
    }


def test_registered_versions_reads_a_separate_registry(tmp_path: Path, mlflow_uri: str) -> None:
    registry = f"sqlite:///{tmp_path}/registry.db"
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=registry)
    experiment = client.create_experiment("e", artifact_location=str(tmp_path / "a"))
    run = client.create_run(experiment)
    client.create_registered_model("m")
    client.create_model_version("m", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)

    assert registered_versions(mlflow_uri, registry, [run.info.run_id]) == {
        run.info.run_id: [ModelVersion("m", 1)]
    }
    assert registered_versions(mlflow_uri, mlflow_uri, [run.info.run_id]) == {run.info.run_id: []}
