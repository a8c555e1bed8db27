"""lineage.adapters.mlflow_registry on a real SQLite registry: versions and aliases resolved
live, and errors that say what the registry does have. (The server path:
tests/adapters/test_mlflow_server.py.)"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lineage.adapters import mlflow_sqlite
from lineage.adapters.mlflow_registry import (
    ModelNotFoundError,
    _ClientRegistry,
    _DirectRegistry,
    _explain,
    model_aliases,
    resolve_model,
)
from lineage.adapters.mlflow_uri import MlflowStores
from lineage.model_version import ModelVersion

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


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

    assert resolve_model(MlflowStores(uri, uri), "churn-model", version=4) == (
        ModelVersion("churn-model", 4),
        runs[3],
    )
    assert resolve_model(MlflowStores(uri, uri), "churn-model", alias="champion") == (
        ModelVersion("churn-model", 3),
        runs[2],
    )


def test_resolve_model_follows_an_alias_when_it_moves(
    churn_registry: Registry, tmp_path: Path
) -> None:
    uri = churn_registry.uri
    client = MlflowClient(tracking_uri=uri)
    client.set_registered_model_alias("churn-model", "moving", "1")
    assert resolve_model(MlflowStores(uri, uri), "churn-model", alias="moving")[0].version == 1

    client.set_registered_model_alias("churn-model", "moving", "4")
    assert resolve_model(MlflowStores(uri, uri), "churn-model", alias="moving")[0].version == 4
    client.delete_registered_model_alias("churn-model", "moving")


# (name, version, alias) -> what the error says
WRONG_REFERENCES = [
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
]


@pytest.mark.parametrize(("name", "version", "alias", "message"), WRONG_REFERENCES)
def test_resolve_model_says_what_exists_when_the_reference_is_wrong(
    churn_registry: Registry, name: str, version: int | None, alias: str | None, message: str
) -> None:
    uri = churn_registry.uri

    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model(MlflowStores(uri, uri), name, version=version, alias=alias)

    assert str(caught.value) == message
    assert (caught.value.name, caught.value.version, caught.value.alias) == (name, version, alias)


@pytest.mark.parametrize(("name", "version", "alias", "message"), WRONG_REFERENCES)
def test_the_client_and_the_direct_reader_say_the_same(
    churn_registry: Registry, name: str, version: int | None, alias: str | None, message: str
) -> None:
    """resolve_model reads this registry directly; MlflowClient, which answers the registries
    lineage does not read itself, explains a wrong reference in the same words."""
    uri = churn_registry.uri
    reader = mlflow_sqlite.open_registry(uri, {})
    assert reader is not None
    with contextlib.closing(reader):
        direct = str(_explain(_DirectRegistry(reader), uri, name, version=version, alias=alias))
    client = _ClientRegistry(MlflowClient(tracking_uri=uri), uri, "tracking store")

    assert str(_explain(client, uri, name, version=version, alias=alias)) == direct == message


def test_resolve_model_in_a_registry_that_does_not_exist_yet(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/none.db"

    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model(MlflowStores(uri, uri), "churn", alias="champion")

    assert str(caught.value) == (
        f"no registered model named 'churn'; the registry {uri} has no registered models yet"
    )
    assert not (tmp_path / "none.db").exists()


def test_model_aliases(churn_registry: Registry) -> None:
    uri = churn_registry.uri

    assert model_aliases(MlflowStores(uri, uri), "churn-model") == {"champion": 3, "staging": 2}
    assert model_aliases(MlflowStores(uri, uri), "fraud") == {}
    with pytest.raises(ModelNotFoundError, match="no registered model named 'x'"):
        model_aliases(MlflowStores(uri, uri), "x")
