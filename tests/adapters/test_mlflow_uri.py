"""lineage.adapters.mlflow_uri: MLflow's stores resolved as MLflow resolves them, once, from the
directory lineage runs in; and whether they can be reached, without importing MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from lineage.adapters.mlflow_uri import MlflowStores, check_reachable
from lineage.errors import TrackingUnreachableError
from lineage.redact import redact_uri
from tests.helpers import unused_port


def tracking_uri(environ: Mapping[str, str], cwd: Path) -> str:
    return MlflowStores.resolve(environ, cwd).tracking


def registry_uri(environ: Mapping[str, str], cwd: Path) -> str:
    return MlflowStores.resolve(environ, cwd).registry


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


def test_registry_uri_follows_the_tracking_uri_unless_set(tmp_path: Path) -> None:
    tracking = {"MLFLOW_TRACKING_URI": "sqlite:////x/m.db"}
    assert registry_uri(tracking, tmp_path) == "sqlite:////x/m.db"
    assert registry_uri({}, tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"
    server = {"MLFLOW_TRACKING_URI": "http://h", "MLFLOW_REGISTRY_URI": "sqlite:////r.db"}
    assert registry_uri(server, tmp_path) == "sqlite:////r.db"
    assert registry_uri({"MLFLOW_TRACKING_URI": "databricks"}, tmp_path) == "databricks-uc"
    databricks = {"MLFLOW_TRACKING_URI": "databricks://prof"}
    assert registry_uri(databricks, tmp_path) == "databricks-uc://prof"


def test_a_relative_registry_uri_is_anchored_where_lineage_runs(tmp_path: Path) -> None:
    relative = {"MLFLOW_TRACKING_URI": "sqlite:///t.db", "MLFLOW_REGISTRY_URI": "sqlite:///r.db"}
    assert MlflowStores.resolve(relative, tmp_path) == MlflowStores(
        f"sqlite:///{tmp_path}/t.db", f"sqlite:///{tmp_path}/r.db"
    )


@pytest.mark.timeout(120)
def test_check_reachable_reports_refused_when_no_server_listens() -> None:
    uri = f"http://ada:pw@127.0.0.1:{unused_port()}"

    with pytest.raises(TrackingUnreachableError) as caught:
        check_reachable(uri)

    assert caught.value.reason == "connection refused"
    assert "pw" not in str(caught.value) and caught.value.uri == redact_uri(uri)


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


def test_check_reachable_names_a_sql_server_it_cannot_use_without_its_password() -> None:
    # No driver for this dialect here, or (with one) nothing listens on port 1: either way
    # one error before the command runs, never the password.
    with pytest.raises(TrackingUnreachableError) as raised:
        check_reachable("postgresql://ada:pw@127.0.0.1:1/mlflow")
    message = str(raised.value)
    assert "postgresql://127.0.0.1:1/mlflow" in message and "pw" not in message
    assert "database driver" in message or "connection refused" in message
