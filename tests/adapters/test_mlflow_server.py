"""lineage.adapters.mlflow against a real `mlflow server` on 127.0.0.1 (one per test session)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lineage.adapters.mlflow import find_session_runs, registered_versions
from lineage.adapters.mlflow_registry import ModelNotFoundError, model_aliases, resolve_model
from lineage.adapters.mlflow_uri import MlflowStores, check_reachable
from lineage.errors import TrackingUnreachableError
from lineage.records import ModelVersion
from tests.helpers import unused_port

pytestmark = pytest.mark.filterwarnings(
    # MLflow 3.17's SQLAlchemy models use `noload`, deprecated in SQLAlchemy 2.1.
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

BIN = Path(sys.executable).parent
STARTUP_S = 60


def wait_until_healthy(uri: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"mlflow server not healthy after {STARTUP_S} s:\n{log.read_text()}")


def stop_group(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and every worker it started (they share its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # stragglers, if any
    server.wait()


@contextlib.contextmanager
def serve(backend_uri: str, root: Path) -> Iterator[str]:
    """A real `mlflow server` on 127.0.0.1 over ``backend_uri``, in its own process group;
    yields its URI and stops the whole group afterwards."""
    port = unused_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LINEAGE_"))}
    env.update(HOME=str(root), PYTHONWARNINGS="ignore", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    log = root / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                backend_uri,
                "--default-artifact-root",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(uri, server, log)
        yield uri
    finally:
        stop_group(server)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a real `mlflow server` on a SQLite store, stopped at the end of the session."""
    root = tmp_path_factory.mktemp("mlflow-server")
    with serve(f"sqlite:///{root}/mlflow.db", root) as uri:
        yield uri


@dataclass(frozen=True)
class Served:
    uri: str
    runs: tuple[str, ...]  # runs[i] made version i + 1 of churn-model


@pytest.fixture(scope="module")
def served_model(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """churn-model v1-3 (staging -> 1, champion -> 2) and an empty `fraud`, on the server."""
    client = MlflowClient(tracking_uri=mlflow_server)
    artifacts = tmp_path_factory.mktemp("served-artifacts")
    experiment = client.create_experiment("served", artifact_location=str(artifacts))
    client.create_registered_model("churn-model")
    client.create_registered_model("fraud")
    runs = []
    for _ in range(3):
        run = client.create_run(experiment)
        client.create_model_version(
            "churn-model", f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
        runs.append(run.info.run_id)
    client.set_registered_model_alias("churn-model", "staging", "1")
    client.set_registered_model_alias("churn-model", "champion", "2")
    return Served(mlflow_server, tuple(runs))


def test_check_reachable_passes_for_a_running_server(mlflow_server: str) -> None:
    check_reachable(mlflow_server)


def test_check_reachable_reports_what_the_server_answered(mlflow_server: str) -> None:
    with pytest.raises(TrackingUnreachableError) as caught:
        check_reachable(f"{mlflow_server}/not-mlflow")
    assert caught.value.reason == "HTTP 404 from /health"


RESOLVE = """
import json, sys, time
started = time.perf_counter()
from lineage.adapters.mlflow_registry import resolve_model
from lineage.adapters.mlflow_uri import MlflowStores
stores = MlflowStores(sys.argv[1], sys.argv[1])
version, run_id = resolve_model(stores, "churn-model", alias="champion")
print(json.dumps({"name": version.name, "version": version.version, "run_id": run_id,
                  "mlflow_imported": "mlflow" in sys.modules,
                  "seconds": time.perf_counter() - started}))
"""


def test_resolve_model_by_alias_goes_through_rest_without_importing_mlflow(
    served_model: Served,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", RESOLVE, served_model.uri],
        capture_output=True,
        text=True,
        check=True,
    )

    result = json.loads(proc.stdout)
    assert result["mlflow_imported"] is False
    assert (result["name"], result["version"], result["run_id"]) == (
        "churn-model",
        2,
        served_model.runs[1],
    )


def test_resolve_model_over_rest_sees_an_alias_move(served_model: Served) -> None:
    uri = served_model.uri
    client = MlflowClient(tracking_uri=uri)
    client.set_registered_model_alias("churn-model", "moving", "1")
    assert resolve_model(MlflowStores(uri, uri), "churn-model", alias="moving") == (
        ModelVersion("churn-model", 1),
        served_model.runs[0],
    )

    client.set_registered_model_alias("churn-model", "moving", "3")
    assert resolve_model(MlflowStores(uri, uri), "churn-model", alias="moving") == (
        ModelVersion("churn-model", 3),
        served_model.runs[2],
    )
    assert resolve_model(MlflowStores(uri, uri), "churn-model", version=3) == (
        ModelVersion("churn-model", 3),
        served_model.runs[2],
    )
    client.delete_registered_model_alias("churn-model", "moving")


@pytest.mark.parametrize(
    ("name", "version", "alias", "message"),
    [
        (
            "churn-model",
            None,
            "prod",
            "model 'churn-model' has no alias 'prod'; its aliases are: champion (v2), staging (v1)",
        ),
        ("churn-model", 7, None, "model 'churn-model' has no version 7; versions are 1-3"),
        (
            "churnn",
            None,
            "champion",
            "no registered model named 'churnn'; registered models: churn-model, fraud",
        ),
        (
            "fraud",
            None,
            "champion",
            "model 'fraud' has no alias 'champion'; it has no aliases and no versions yet",
        ),
    ],
)
def test_rest_errors_say_what_exists(
    served_model: Served, name: str, version: int | None, alias: str | None, message: str
) -> None:
    uri = served_model.uri

    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model(MlflowStores(uri, uri), name, version=version, alias=alias)

    assert str(caught.value) == message


def test_model_aliases_over_rest(served_model: Served) -> None:
    uri = served_model.uri
    assert model_aliases(MlflowStores(uri, uri), "churn-model") == {"champion": 2, "staging": 1}


def test_registered_versions_against_the_server(served_model: Served) -> None:
    uri, runs = served_model.uri, served_model.runs

    assert registered_versions(uri, uri, [runs[2], runs[0]]) == {
        runs[2]: [ModelVersion("churn-model", 3)],
        runs[0]: [ModelVersion("churn-model", 1)],
    }


GRID = """
import json, sys
import mlflow

experiment = mlflow.create_experiment(sys.argv[2], artifact_location=sys.argv[1])
ids = {}
with mlflow.start_run(experiment_id=experiment, run_name="cv") as parent:
    ids["cv"] = parent.info.run_id
    for fold in (1, 2):
        with mlflow.start_run(experiment_id=experiment, run_name=f"fold-{fold}",
                              nested=True) as child:
            mlflow.log_param("fold", fold)
            ids[child.info.run_name] = child.info.run_id
print(json.dumps(ids))
"""


def test_find_session_runs_against_the_server(mlflow_server: str, tmp_path: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server, "LINEAGE_SESSION": "served-1"}
    proc = subprocess.run(
        [sys.executable, "-c", GRID, str(tmp_path / "artifacts"), "served-grid"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    ids = json.loads(proc.stdout.splitlines()[-1])  # after MLflow's "View run" lines

    runs = find_session_runs(mlflow_server, "served-1")

    assert {r.name: r.run_id for r in runs} == ids
    assert {r.name: r.parent_run_id for r in runs} == {
        "cv": None,
        "fold-1": ids["cv"],
        "fold-2": ids["cv"],
    }
    assert {r.name: r.params for r in runs}["fold-2"] == {"fold": "2"}
    assert {r.tracking_uri for r in runs} == {mlflow_server}


def test_lineage_run_and_show_against_a_server_with_credentials_in_the_uri(
    mlflow_server: str,
    dvc_repo: Path,
    tmp_path: Path,
) -> None:
    """The whole server path, end to end: record through `lineage run`, resolve an alias over
    REST, and never let the URI's user info reach a record, a tag, the index or the output."""
    from tests.conftest import sh
    from tests.helpers import TRAIN, commit_all, lineage, write

    secret_uri = mlflow_server.replace("http://", "http://alice:s3cr3t-pw@")
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": secret_uri,
        "EXPERIMENT": "served-e2e",
        "MODEL": "e2e-model",
    }
    write(dvc_repo, "train.py", TRAIN)
    lineage(dvc_repo, "init")
    commit_all(dvc_repo, "train")
    run = lineage(dvc_repo, "run", "--", "python", "train.py", "4", env=env)
    assert "s3cr3t" not in run.stderr
    client = MlflowClient(tracking_uri=mlflow_server)
    client.set_registered_model_alias("e2e-model", "champion", "1")

    shown = lineage(dvc_repo, "show", "e2e-model@champion", "--json", env=env)
    doc = json.loads(shown.stdout)
    assert doc["node"]["id"] == "e2e-model/1"
    assert doc["record"]["run"]["tracking_uri"] == mlflow_server
    assert doc["record"]["run"]["params"] == {"depth": "4"}
    run_id = doc["record"]["run"]["run_id"]
    tags = client.get_run(run_id).data.tags
    assert tags["lineage.record"] == doc["record_id"]
    assert not any("s3cr3t" in v for v in tags.values())
    assert "s3cr3t" not in shown.stdout + shown.stderr
    blobs = sh("git", "log", "-p", "refs/lineage/records", cwd=dvc_repo).stdout
    objects = sh("git", "ls-tree", "-r", "refs/lineage/records", cwd=dvc_repo).stdout.split()
    contents = blobs + "".join(
        sh("git", "cat-file", "-p", o, cwd=dvc_repo).stdout for o in objects if len(o) == 40
    )
    assert '"tracking_uri"' in contents and "s3cr3t" not in contents
    index = (dvc_repo / ".git" / "lineage" / "index.sqlite").read_bytes()
    assert b"s3cr3t" not in index and b"alice" not in index
