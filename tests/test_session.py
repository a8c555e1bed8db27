"""lineage.session: the directory `lineage run` shares with its child, and the MLflow import that
starts only once the child reached MLflow or ran for a while (real threads, real files)."""

from __future__ import annotations

import threading
from pathlib import Path

from lineage.session import MlflowPreloader, Session, environment_name, marker_name


def test_a_session_is_a_fresh_directory_the_child_is_told_about(tmp_path: Path) -> None:
    first, second = Session.new(tmp_path), Session.new(tmp_path)
    assert first.id != second.id and first.directory == tmp_path / "sessions" / first.id
    assert first.variables() == {
        "LINEAGE_SESSION": first.id,
        "LINEAGE_SESSION_DIR": str(first.directory),
    }
    assert not first.directory.exists() and not first.reached_mlflow()
    first.open()
    assert first.directory.is_dir() and not first.reached_mlflow()
    first.close()
    assert not first.directory.exists()


def test_the_plugins_files_say_mlflow_was_reached_and_which_environments_ran(
    tmp_path: Path,
) -> None:
    session = Session.new(tmp_path)
    session.open()
    (session.directory / marker_name(42)).write_text("")
    for pid in (7, 42):
        (session.directory / environment_name(pid)).write_text("{}")
    (session.directory / ".environment-9-x.tmp").write_text("half written")
    assert session.reached_mlflow()
    assert [p.name for p in session.environment_files()] == [
        "environment-42.json",
        "environment-7.json",
    ]


def test_the_preloader_waits_for_the_marker_or_the_grace_period(tmp_path: Path) -> None:
    session = Session.new(tmp_path)
    session.open()
    loaded = threading.Event()

    class Patient(MlflowPreloader):
        GRACE_S = 3600.0  # only the marker can start it
        POLL_S = 0.01

    preloader = Patient(session, loaded.set)
    assert not loaded.wait(0.1)  # no marker yet, and the grace period is long
    (session.directory / marker_name(1)).write_text("")
    assert loaded.wait(10)
    preloader.stop()

    stopped = threading.Event()
    Patient(Session.new(tmp_path), stopped.set).stop()  # a child over at once: no import
    assert not stopped.wait(0.1)
