"""A SQLite registry read directly: the same answer as MlflowClient, or None to ask it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lineage.adapters.mlflow_registry import version_sources
from lineage.adapters.mlflow_sqlite import version_sources as read_directly
from lineage.adapters.mlflow_uri import MlflowStores
from lineage.model_version import ModelVersion

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


def test_versions_and_their_runs_as_the_client_has_them(mlflow_uri: str, tmp_path: Path) -> None:
    client = MlflowClient(mlflow_uri)
    experiment = client.create_experiment("e", artifact_location=str(tmp_path / "a"))
    runs = [client.create_run(experiment).info.run_id for _ in range(3)]
    client.create_registered_model("m")
    for run in runs:
        client.create_model_version("m", source=f"runs:/{run}/model", run_id=run)
    client.create_model_version("m", source=str(tmp_path / "a"))  # from a path: no run
    client.delete_model_version("m", "2")  # its row stays, marked Deleted_Internal

    found = read_directly(mlflow_uri, {})

    assert found is not None
    assert sorted(((v, run) for v, run, _ in found), key=str) == [
        (ModelVersion("m", 1), runs[0]),
        (ModelVersion("m", 3), runs[2]),
    ]
    by_client = {
        (ModelVersion(v.name, int(v.version)), v.run_id, v.creation_timestamp)
        for v in client.search_model_versions()
        if v.run_id
    }
    assert set(found) == by_client
    assert set(version_sources(MlflowStores(mlflow_uri, mlflow_uri))) == by_client


def test_what_it_does_not_know_is_left_to_the_client(mlflow_uri: str, tmp_path: Path) -> None:
    MlflowClient(mlflow_uri).search_experiments()  # creates the schema
    assert read_directly(mlflow_uri, {"MLFLOW_WORKSPACE": "team-a"}) is None
    assert read_directly(f"sqlite:///{tmp_path / 'none.db'}", {}) is None
    assert read_directly("http://127.0.0.1:5000", {}) is None
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE model_versions(name TEXT, version INTEGER)")
    assert read_directly(f"sqlite:///{other}", {}) is None
