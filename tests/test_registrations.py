"""Versions registered after their run was recorded: caught up by the commands that show models,
kept as records, answered offline."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.corpus.project import Project, new_project
from tests.helpers import TRAIN, unused_port

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

REGISTER_LATER = """
import sys, mlflow
client = mlflow.MlflowClient()
try:
    client.create_registered_model("late")
except mlflow.exceptions.MlflowException:
    pass
v = client.create_model_version("late", source=f"runs:/{sys.argv[1]}/model", run_id=sys.argv[1])
client.set_registered_model_alias("late", "champion", v.version)
print(v.version)
"""


def registrations(project: Project) -> list[dict[str, object]]:
    listed = project.sh("git", "ls-tree", "-r", "--name-only", "refs/lineage/records").stdout
    found = []
    for name in listed.split():
        doc = json.loads(project.sh("git", "show", f"refs/lineage/records:{name}").stdout)
        if doc["kind"] == "registration":
            found.append(doc)
    return found


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = new_project(tmp_path_factory.mktemp("late"))
    (p.repo / "train.py").write_text(TRAIN)
    (p.repo / ".gitignore").write_text("mlruns/\n")
    p.sh("dvc", "init", "-q")
    (p.repo / "data").mkdir()
    (p.repo / "data" / "raw.csv").write_text("id,value\n1,10\n")
    p.sh("dvc", "add", "-q", "data/raw.csv")
    p.lineage("init")
    p.commit_all("train")
    p.lineage("run", "--", "python", "train.py", "3")  # registers nothing
    run = p.json("log")[0]["run"]
    p.facts.update(run=run, version=int(p.sh("python", "-c", REGISTER_LATER, run).stdout))
    return p


def test_a_version_registered_after_the_run_is_shown_with_its_run(project: Project) -> None:
    shown = project.json("show", "late@champion")
    assert shown["record"]["run"]["run_id"] == project.facts["run"]

    (found,) = registrations(project)
    assert found["run"] == project.facts["run"]
    assert found["model"] == {"name": "late", "version": project.facts["version"]}
    assert found["evidence"] == "observed"
    assert str(found["registered"]).endswith("Z")

    # Learnt once: asking again writes nothing new.
    project.json("show", "late@champion")
    project.json("impact", "data/raw.csv")
    assert len(registrations(project)) == 1


def test_impact_and_the_run_itself_name_the_later_version(project: Project) -> None:
    impact = project.json("impact", "data/raw.csv")
    assert [(m["name"], m["version"]) for m in impact["models"]] == [
        ("late", project.facts["version"])
    ]
    late = f"late/{project.facts['version']}"
    assert [r["models"] for r in impact["runs"]] == [[late]]
    text = project.lineage("show", project.facts["run"]).stdout
    assert f"-> produced   model {late}" in text
    assert [r["models"] for r in project.json("log")] == [[late]]


def test_audit_finds_the_record_of_a_later_version(project: Project) -> None:
    audit = json.loads(project.lineage("audit", "late@champion", "--json", check=False).stdout)
    (row,) = audit["versions"]
    assert row["run"] == project.facts["run"] and row["record"]
    checks = {c["name"]: c["result"] for c in row["checks"]}
    assert checks["lineage"] == "pass"


def test_a_registry_that_stops_answering_is_named_with_when_it_last_did(
    project: Project, tmp_path: Path
) -> None:
    """The time of the last good read is kept per registry, rewritten at most once a minute,
    and named when the same registry later cannot be read."""
    copy = tmp_path / "registry.db"
    shutil.copyfile(project.env["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"), copy)
    registry = f"sqlite:///{copy}"
    log = project.repo / ".git" / "lineage" / "registry-read.json"
    project.sh("lineage", "impact", "data/raw.csv", MLFLOW_REGISTRY_URI=registry)
    read_at = json.loads(log.read_text())[registry]
    assert read_at.startswith("20") and read_at.endswith("Z")
    inode = log.stat().st_ino
    project.sh("lineage", "impact", "data/raw.csv", MLFLOW_REGISTRY_URI=registry)
    assert log.stat().st_ino == inode  # read again within the minute: the file is left alone
    assert json.loads(log.read_text())[registry] == read_at

    copy.write_bytes(b"not a database, whatever its name says\n" * 100)
    result = project.sh(
        "lineage", "impact", "data/raw.csv", "--json", MLFLOW_REGISTRY_URI=registry, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["models"]  # answered from the records
    assert f"the model registry {registry} could not be read" in result.stderr
    assert f"versions registered after training since it was last read at {read_at} " in (
        result.stderr
    )
    assert json.loads(log.read_text())[registry] == read_at  # a failed read is not a read

    stale = {**json.loads(log.read_text()), registry: "2026-01-01T00:00:00.000Z"}
    log.write_text(json.dumps(stale))
    shutil.copyfile(project.env["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"), copy)
    project.sh("lineage", "impact", "data/raw.csv", MLFLOW_REGISTRY_URI=registry)
    assert json.loads(log.read_text())[registry] > read_at  # older than a minute: rewritten
    assert not list(log.parent.glob("registry-read.json.*.tmp"))


def test_an_unreachable_registry_still_answers_from_the_records(project: Project) -> None:
    project.lineage("impact", "data/raw.csv")  # read the registry once, while it answers
    down = f"http://127.0.0.1:{unused_port()}"
    result = project.sh(
        "lineage", "impact", "data/raw.csv", "--json", MLFLOW_REGISTRY_URI=down, check=False
    )
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)["models"]
    assert [(m["name"], m["version"]) for m in models] == [("late", project.facts["version"])]
    assert f"the model registry {down} could not be read" in result.stderr
    assert "versions registered after training may be missing" in result.stderr


REGISTER_ELSEWHERE = """
import sys, mlflow
mlflow.set_experiment("exp")
with mlflow.start_run() as run:
    mlflow.log_metric("score", 0.5)
client = mlflow.MlflowClient(registry_uri=sys.argv[1])  # the script picks its own registry
client.create_registered_model("own")
client.create_model_version("own", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
"""


def _garbage_file(tmp_path: Path) -> tuple[str, str]:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database\n" * 100)
    uri = f"sqlite:///{garbage}"
    return uri, f"{uri} cannot be used: {garbage} is not a SQLite database; check"


def _server_down(tmp_path: Path) -> tuple[str, str]:
    port = unused_port()
    return (
        f"http://ada:s3cr3t@127.0.0.1:{port}",
        f"http://127.0.0.1:{port} cannot be reached (connection refused); start the server or fix",
    )


def _sql_without_driver(tmp_path: Path) -> tuple[str, str]:
    if importlib.util.find_spec("pg8000") is not None:
        pytest.skip("pg8000 is installed here")
    return (
        "postgresql+pg8000://ada:s3cr3t@127.0.0.1:5432/mlflow",
        "postgresql+pg8000://127.0.0.1:5432/mlflow cannot be used: the database driver pg8000 "
        "is not installed in lineage's Python",
    )


@pytest.mark.parametrize(
    "unreadable", [_garbage_file, _server_down, _sql_without_driver], ids=lambda f: f.__name__
)
def test_a_run_whose_registry_cannot_be_read_is_recorded_and_its_versions_come_later(
    tmp_path: Path, unreadable: Callable[[Path], tuple[str, str]]
) -> None:
    """lineage's registry (set apart from tracking) cannot be read, the script registers in a
    good one: the run is recorded (the warning says so, not that it was lost, and names the
    registry's variable), and its version is recorded once a command reads the good one."""
    p = new_project(tmp_path)
    (p.repo / "register.py").write_text(REGISTER_ELSEWHERE)
    (p.repo / ".gitignore").write_text("*.db\nmlruns/\nmlartifacts/\n")
    p.lineage("init")
    p.commit_all("register")
    registry, why = unreadable(tmp_path)
    good = p.env["MLFLOW_TRACKING_URI"]

    result = p.sh(
        "lineage", "run", "--", "python", "register.py", good, MLFLOW_REGISTRY_URI=registry
    )

    (run,) = [r["run"] for r in p.json("log")]
    assert f"recorded 1 run(s) [{run[:12]}]" in result.stderr
    shown = why.partition(" cannot ")[0]
    assert f"the model registry {shown} could not be read (the MLflow model registry {why} " in (
        result.stderr
    )
    assert (
        f"MLFLOW_REGISTRY_URI); run(s) {run} were recorded without the model versions they "
        "registered: once it can be read, the next `lineage show`, `graph` or `impact` records "
        "them"
    ) in result.stderr
    assert "not recorded" not in result.stderr and "Traceback" not in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout
    assert registrations(p) == []

    failed = p.sh("lineage", "show", "own/1", MLFLOW_REGISTRY_URI=registry, check=False)
    assert failed.returncode == 1
    (error,) = failed.stderr.splitlines()  # one cause, one line: no catch-up warning before it
    assert error.startswith(f"lineage: error: the MLflow model registry {why} ")
    assert error.endswith("MLFLOW_REGISTRY_URI")

    shown_doc = p.json("show", "own/1")  # lineage's registry is the good one again
    assert shown_doc["record"]["run"]["run_id"] == run
    assert [(r["run"], r["model"]["name"]) for r in registrations(p)] == [(run, "own")]
