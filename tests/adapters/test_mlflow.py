"""lineage.adapters.mlflow against a real MLflow on SQLite (the server path: test_mlflow_server)."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lineage.adapters.mlflow import (
    ModelNotFoundError,
    check_reachable,
    find_session_runs,
    model_aliases,
    redact_argv,
    redact_uri,
    registered_versions,
    registry_uri,
    resolve_model,
    set_tags,
    tracking_uri,
)
from lineage.errors import TrackingUnreachableError
from lineage.records import ModelVersion

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


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://user:secret@host:5000", "http://host:5000"),
        ("https://token@mlflow.example.com/prefix", "https://mlflow.example.com/prefix"),
        ("http://host:5000", "http://host:5000"),
        ("https://host/api?token=abc&experiment=3", "https://host/api?experiment=3"),
        ("https://host/x?X-Amz-Signature=1&X-Amz-Credential=2&a=b", "https://host/x?a=b"),
        ("https://host/?Password=p&API_KEY=k&Auth=x&client_secret=s", "https://host/"),
        ("postgresql://ada:pw@db:5432/mlflow", "postgresql://db:5432/mlflow"),
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db"),
        ("sqlite:////abs/path/mlflow.db", "sqlite:////abs/path/mlflow.db"),
        ("file:///home/ada/mlruns", "file:///home/ada/mlruns"),
        ("/home/ada/mlruns", "/home/ada/mlruns"),
        ("databricks", "databricks"),
        ("databricks://profile", "databricks://profile"),
    ],
)
def test_redact_uri(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_redact_argv_strips_credentials_wherever_a_url_appears() -> None:
    argv = [
        "python",
        "train.py",
        "--tracking-uri=http://ada:pw@host:5000",
        "--db",
        "postgresql://ada:pw@db/x",
        "--lr",
        "0.1",
        "DSN=https://h/?token=t&a=1",
    ]

    assert redact_argv(argv) == (
        "python",
        "train.py",
        "--tracking-uri=http://host:5000",
        "--db",
        "postgresql://db/x",
        "--lr",
        "0.1",
        "DSN=https://h/?a=1",
    )


def test_tracking_uri_defaults_like_mlflow_to_an_absolute_sqlite_file(tmp_path: Path) -> None:
    assert tracking_uri({}, tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"
    assert tracking_uri({"MLFLOW_TRACKING_URI": ""}, tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"


def test_tracking_uri_keeps_using_an_mlruns_directory_that_holds_experiments(
    tmp_path: Path,
) -> None:
    (tmp_path / "mlruns" / "0").mkdir(parents=True)
    assert tracking_uri({}, tmp_path).startswith("sqlite:")  # empty: MLflow ignores it

    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    assert tracking_uri({}, tmp_path) == (tmp_path / "mlruns").as_uri()


def test_tracking_uri_from_the_environment_with_relative_stores_made_absolute(
    tmp_path: Path,
) -> None:
    assert tracking_uri({"MLFLOW_TRACKING_URI": "http://h:5000"}, tmp_path) == "http://h:5000"
    assert tracking_uri({"MLFLOW_TRACKING_URI": "sqlite:///db/m.db"}, tmp_path) == (
        f"sqlite:///{tmp_path}/db/m.db"
    )
    assert tracking_uri({"MLFLOW_TRACKING_URI": "sqlite:////x/m.db"}, tmp_path) == (
        "sqlite:////x/m.db"
    )
    assert tracking_uri({"MLFLOW_TRACKING_URI": "sqlite:///m.db?mode=ro"}, tmp_path) == (
        f"sqlite:///{tmp_path}/m.db?mode=ro"
    )
    assert tracking_uri({"MLFLOW_TRACKING_URI": "mlruns"}, tmp_path) == f"{tmp_path}/mlruns"
    assert tracking_uri({"MLFLOW_TRACKING_URI": "databricks"}, tmp_path) == "databricks"


def test_registry_uri_follows_the_tracking_uri_unless_set() -> None:
    assert registry_uri({}, "sqlite:////x/m.db") == "sqlite:////x/m.db"
    assert registry_uri({"MLFLOW_REGISTRY_URI": "sqlite:////r.db"}, "http://h") == "sqlite:////r.db"
    assert registry_uri({}, "databricks") == "databricks-uc"
    assert registry_uri({}, "databricks://prof") == "databricks-uc://prof"


# --- check_reachable ----------------------------------------------------------------------------


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# MLflow's own client retries a dead server with exponential backoff for minutes; lineage must
# not. These tests assert no timings: the per-test timeout only turns such a retry loop into a
# failure instead of a stall.


@pytest.mark.timeout(120)
def test_check_reachable_reports_refused_when_no_server_listens() -> None:
    uri = f"http://ada:pw@127.0.0.1:{unused_port()}"

    with pytest.raises(TrackingUnreachableError) as caught:
        check_reachable(uri)

    assert caught.value.reason == "connection refused"
    assert "pw" not in str(caught.value) and caught.value.uri == redact_uri(uri)


@pytest.mark.timeout(120)
def test_reading_from_a_server_that_is_down_does_not_retry() -> None:
    uri = f"http://127.0.0.1:{unused_port()}"

    for read in (
        lambda: resolve_model(uri, uri, "churn", alias="champion"),
        lambda: model_aliases(uri, uri, "churn"),
        lambda: find_session_runs(uri, "s-1"),
        lambda: registered_versions(uri, uri, ["0" * 32]),
    ):
        with pytest.raises(TrackingUnreachableError, match=r"\(connection refused\)"):
            read()


def test_check_reachable_accepts_a_sqlite_file_mlflow_can_create(tmp_path: Path) -> None:
    check_reachable(f"sqlite:///{tmp_path}/new.db")
    assert not (tmp_path / "new.db").exists()


def test_check_reachable_refuses_sqlite_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(TrackingUnreachableError) as caught:
        check_reachable(f"sqlite:///{tmp_path}/nope/mlflow.db")
    assert caught.value.reason == f"directory {tmp_path}/nope does not exist"


def test_check_reachable_for_file_stores(tmp_path: Path) -> None:
    check_reachable(str(tmp_path / "a" / "mlruns"))
    check_reachable((tmp_path / "mlruns").as_uri())
    (tmp_path / "plain").write_text("")
    with pytest.raises(TrackingUnreachableError, match="cannot be created"):
        check_reachable(str(tmp_path / "plain" / "mlruns"))


def test_check_reachable_accepts_what_it_cannot_check_cheaply() -> None:
    check_reachable("databricks")
    check_reachable("postgresql://ada:pw@127.0.0.1:1/mlflow")


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


@dataclass(frozen=True)
class Registry:
    uri: str
    runs: tuple[str, ...]  # run_ids[i] made version i + 1 of churn-model


@pytest.fixture(scope="module")
def churn_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """churn-model v1-4 (staging -> 2, champion -> 3), fraud with no versions, on SQLite."""
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("churn", artifact_location=str(root / "artifacts"))
    client.create_registered_model("churn-model")
    client.create_registered_model("fraud")
    runs = []
    for _ in range(4):
        run = client.create_run(experiment)
        client.create_model_version(
            "churn-model", f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
        runs.append(run.info.run_id)
    client.set_registered_model_alias("churn-model", "staging", "2")
    client.set_registered_model_alias("churn-model", "champion", "3")
    return Registry(uri, tuple(runs))


def test_resolve_model_by_version_and_by_alias(churn_registry: Registry) -> None:
    uri, runs = churn_registry.uri, churn_registry.runs

    assert resolve_model(uri, uri, "churn-model", version=4) == (
        ModelVersion("churn-model", 4),
        runs[3],
    )
    assert resolve_model(uri, uri, "churn-model", alias="champion") == (
        ModelVersion("churn-model", 3),
        runs[2],
    )


def test_resolve_model_follows_an_alias_when_it_moves(
    churn_registry: Registry, tmp_path: Path
) -> None:
    uri = churn_registry.uri
    client = MlflowClient(tracking_uri=uri)
    client.set_registered_model_alias("churn-model", "moving", "1")
    assert resolve_model(uri, uri, "churn-model", alias="moving")[0].version == 1

    client.set_registered_model_alias("churn-model", "moving", "4")
    assert resolve_model(uri, uri, "churn-model", alias="moving")[0].version == 4
    client.delete_registered_model_alias("churn-model", "moving")


@pytest.mark.parametrize(
    ("name", "version", "alias", "message"),
    [
        (
            "churn-model",
            None,
            "prod",
            "model 'churn-model' has no alias 'prod'; its aliases are: champion (v3), staging (v2)",
        ),
        ("churn-model", 7, None, "model 'churn-model' has no version 7; versions are 1-4"),
        (
            "churnn",
            1,
            None,
            "no registered model named 'churnn'; registered models: churn-model, fraud",
        ),
        (
            "churnn",
            None,
            "champion",
            "no registered model named 'churnn'; registered models: churn-model, fraud",
        ),
        ("fraud", 1, None, "model 'fraud' has no version 1; it has no versions yet"),
        (
            "fraud",
            None,
            "champion",
            "model 'fraud' has no alias 'champion'; it has no aliases and no versions yet",
        ),
    ],
)
def test_resolve_model_says_what_exists_when_the_reference_is_wrong(
    churn_registry: Registry, name: str, version: int | None, alias: str | None, message: str
) -> None:
    uri = churn_registry.uri

    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model(uri, uri, name, version=version, alias=alias)

    assert str(caught.value) == message
    assert (caught.value.name, caught.value.version, caught.value.alias) == (name, version, alias)


def test_resolve_model_in_a_registry_that_does_not_exist_yet(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/none.db"

    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model(uri, uri, "churn", alias="champion")

    assert str(caught.value) == (
        f"no registered model named 'churn'; the registry {uri} has no registered models yet"
    )
    assert not (tmp_path / "none.db").exists()


def test_model_aliases(churn_registry: Registry) -> None:
    uri = churn_registry.uri

    assert model_aliases(uri, uri, "churn-model") == {"champion": 3, "staging": 2}
    assert model_aliases(uri, uri, "fraud") == {}
    with pytest.raises(ModelNotFoundError, match="no registered model named 'x'"):
        model_aliases(uri, uri, "x")
