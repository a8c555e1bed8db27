"""The run context plugin, loaded by MLflow itself in real child processes."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lineage.adapters.mlflow import find_session_runs, find_session_runs_with_stages
from lineage.environment import capture_interpreter, from_json
from lineage.session import Session, StoreUse
from tests.conftest import sh

pytestmark = pytest.mark.filterwarnings(
    # MLflow 3.17's SQLAlchemy models use `noload`, deprecated in SQLAlchemy 2.1.
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

GRID = """
import json, sys
import mlflow

experiment = mlflow.create_experiment("grid", artifact_location=sys.argv[1])
ids = {}
for lr in (0.1, 0.01, 0.001):
    with mlflow.start_run(experiment_id=experiment, run_name=f"lr-{lr}") as run:
        mlflow.log_param("lr", lr)
        mlflow.log_metric("loss", lr * 10)
        ids[run.info.run_name] = run.info.run_id
with mlflow.start_run(experiment_id=experiment, run_name="cv") as parent:
    ids["cv"] = parent.info.run_id
    for fold in (1, 2):
        with mlflow.start_run(experiment_id=experiment, run_name=f"fold-{fold}",
                              nested=True) as child:
            mlflow.log_metric("acc", 0.5 + fold / 10)
            ids[child.info.run_name] = child.info.run_id
print(json.dumps(ids))
"""

ONE_RUN = """
import json, sys
import mlflow

experiment = mlflow.create_experiment("one", artifact_location=sys.argv[1])
with mlflow.start_run(experiment_id=experiment) as run:
    pass
print(json.dumps(mlflow.get_run(run.info.run_id).data.tags))
"""


def run_python(script: str, *args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def lineage_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k.startswith("lineage.")}


def test_the_plugin_is_registered_with_mlflow() -> None:
    (entry,) = [
        e
        for e in importlib.metadata.entry_points(group="mlflow.run_context_provider")
        if e.name == "lineage"
    ]
    assert entry.value == "lineage.mlflow_plugin:LineageRunContextProvider"


def test_every_run_a_wrapped_command_starts_is_tagged_and_found(
    mlflow_uri: str, tmp_path: Path
) -> None:
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    env = {
        **os.environ,
        "LINEAGE_SESSION": "s-42",
        "LINEAGE_COMMIT": "a" * 40,
        "LINEAGE_SNAPSHOT": "b" * 40,
        "LINEAGE_DIRTY": "true",
        "LINEAGE_SESSION_DIR": str(session_dir),
    }

    ids = json.loads(run_python(GRID, str(tmp_path / "artifacts"), cwd=tmp_path, env=env))

    client = MlflowClient(tracking_uri=mlflow_uri)
    for run_id in ids.values():
        assert lineage_tags(client.get_run(run_id).data.tags) == {
            "lineage.session": "s-42",
            "lineage.commit": "a" * 40,
            "lineage.snapshot": "b" * 40,
            "lineage.dirty": "true",
        }
    runs = find_session_runs(mlflow_uri, "s-42")
    assert {r.name: r.run_id for r in runs} == ids
    by_name = {r.name: r for r in runs}
    assert by_name["lr-0.01"].params == {"lr": "0.01"}
    assert by_name["lr-0.01"].metrics == {"loss": 0.1}
    assert by_name["fold-2"].metrics == {"acc": 0.7}
    assert by_name["fold-1"].parent_run_id == by_name["fold-2"].parent_run_id == ids["cv"]
    assert by_name["cv"].parent_run_id is None and by_name["lr-0.1"].parent_run_id is None
    assert {r.experiment_name for r in runs} == {"grid"}
    assert {r.status for r in runs} == {"FINISHED"}
    assert find_session_runs(mlflow_uri, "s-43") == []


def test_the_wrapped_interpreter_leaves_its_environment_once(
    mlflow_uri: str, tmp_path: Path
) -> None:
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    env = {
        **os.environ,
        "LINEAGE_SESSION": "s-1",
        "LINEAGE_SESSION_DIR": str(session_dir),
        "PYTHONHASHSEED": "0",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
    }

    run_python(GRID, str(tmp_path / "artifacts"), cwd=tmp_path, env=env)

    # Six runs, one process: one marker, one environment file, a store note per run, no
    # temporary left.
    notes = sorted(p.name for p in session_dir.glob("store-*"))
    pid = next(session_dir.glob("started-*")).name.removeprefix("started-")
    assert notes == sorted(f"store-{pid}-{n}.json" for n in range(1, 7))
    assert Session("s-1", session_dir).started_runs() == [StoreUse(mlflow_uri, mlflow_uri)] * 6
    marker, written = sorted(
        (p for p in session_dir.iterdir() if not p.name.startswith("store-")),
        key=lambda p: p.name.startswith("env"),
    )
    assert marker.name.startswith("started-") and marker.read_text() == ""
    assert written.name == f"environment-{marker.name.removeprefix('started-')}.json"
    assert "aws-secret-value" not in written.read_text()
    recorded = from_json(written.read_text())
    assert recorded.variables["PYTHONHASHSEED"] == "0"
    assert recorded == capture_interpreter(sys.executable, environ=env)


def test_a_broken_session_directory_does_not_break_training(
    mlflow_uri: str, tmp_path: Path
) -> None:
    env = {**os.environ, "LINEAGE_SESSION": "s-1", "LINEAGE_SESSION_DIR": str(tmp_path / "missing")}

    tags = json.loads(run_python(ONE_RUN, str(tmp_path / "a"), cwd=tmp_path, env=env))

    assert lineage_tags(tags) == {"lineage.session": "s-1"}


def test_a_run_started_without_the_wrapper_in_a_lineage_repo_gets_the_commit(
    mlflow_uri: str, git_repo: Path, tmp_path: Path
) -> None:
    (git_repo / ".lineage").mkdir()
    (git_repo / ".lineage" / "config.toml").write_text("")
    head = sh("git", "rev-parse", "HEAD", cwd=git_repo).stdout.strip()
    env = dict(os.environ)

    tags = json.loads(run_python(ONE_RUN, str(tmp_path / "a"), cwd=git_repo / "src", env=env))
    assert lineage_tags(tags) == {
        "lineage.commit": head,
        "lineage.dirty": "false",
        "lineage.observed": "tags-only",
    }

    # A committed store that changed (a team that `git add -A`ed its mlflow.db) is not code.
    (git_repo / "mlflow.db").write_bytes(b"v1")
    sh("git", "add", "-f", "mlflow.db", cwd=git_repo)
    sh("git", "commit", "-q", "-m", "store", cwd=git_repo)
    (git_repo / "mlflow.db").write_bytes(b"v2")
    store_run = ONE_RUN.replace('"one"', '"store"')
    tags = json.loads(run_python(store_run, str(tmp_path / "s"), cwd=git_repo, env=env))
    assert lineage_tags(tags)["lineage.dirty"] == "false"

    (git_repo / "src" / "train.py").write_text("print('changed')\n")
    (git_repo / "untracked.txt").write_text("not code\n")
    tags = json.loads(
        run_python(ONE_RUN.replace('"one"', '"two"'), str(tmp_path / "b"), cwd=git_repo, env=env)
    )
    assert lineage_tags(tags)["lineage.dirty"] == "true"


def test_no_lineage_tags_where_lineage_is_not_set_up(
    mlflow_uri: str, git_repo: Path, tmp_path: Path
) -> None:
    tags = json.loads(run_python(ONE_RUN, str(tmp_path / "a"), cwd=git_repo, env=dict(os.environ)))

    assert lineage_tags(tags) == {}
    assert tags["mlflow.user"]  # MLflow's own context providers still ran


OWN_STORE = """
import sys
import mlflow

mlflow.set_tracking_uri(sys.argv[2])
experiment = mlflow.create_experiment("own", artifact_location=sys.argv[1])
with mlflow.start_run(experiment_id=experiment):
    mlflow.log_metric("m", 1.0)
"""


@pytest.mark.parametrize(
    ("chosen", "noted"),
    [
        ("sqlite:///other.db", "sqlite:///{cwd}/other.db"),
        ("file:./mlruns", "file://{cwd}/mlruns"),
    ],
)
def test_a_store_the_script_chose_is_noted_absolute(
    mlflow_uri: str, tmp_path: Path, chosen: str, noted: str
) -> None:
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "LINEAGE_SESSION": "s-1",
        "LINEAGE_SESSION_DIR": str(session_dir),
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }

    run_python(OWN_STORE, str(tmp_path / "artifacts"), chosen, cwd=work, env=env)

    expected = noted.format(cwd=work)
    assert Session("s-1", session_dir).started_runs() == [StoreUse(expected, expected)]


RESUME = """
import mlflow

with mlflow.start_run() as run:  # resumes MLFLOW_RUN_ID, as an MLproject entry point does
    mlflow.log_metric("m", 2.0)
"""


def test_a_resumed_run_is_noted_with_its_store(mlflow_uri: str, tmp_path: Path) -> None:
    # `mlflow run` creates the run in the launcher and hands it over through MLFLOW_RUN_ID;
    # no run context provider is asked about it, so only the note can tell lineage.
    client = MlflowClient(mlflow_uri)
    experiment = client.create_experiment("projects", artifact_location=str(tmp_path / "a"))
    created = client.create_run(experiment).info.run_id
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    env = {
        **os.environ,
        "LINEAGE_SESSION": "s-1",
        "LINEAGE_SESSION_DIR": str(session_dir),
        "MLFLOW_RUN_ID": created,
        "MLFLOW_TRACKING_URI": mlflow_uri,
    }

    run_python(RESUME, cwd=tmp_path, env=env)

    session = Session("s-1", session_dir)
    assert session.resumed_runs() == {created: StoreUse(mlflow_uri, None)}
    assert session.started_runs() == []  # no run was started: the provider was never asked
    assert session.reached_mlflow()
    assert client.get_run(created).data.metrics == {"m": 2.0}


def test_credentials_in_a_chosen_store_never_reach_the_session_directory(
    tmp_path: Path,
) -> None:
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    env = {
        **os.environ,
        "LINEAGE_SESSION": "s-1",
        "LINEAGE_SESSION_DIR": str(session_dir),
        "MLFLOW_RUN_ID": "0123456789abcdef0123456789abcdef",
        "MLFLOW_TRACKING_URI": "https://ada:s3cret@mlflow.example.com/?token=abc",
    }

    # Importing MLflow is enough: the provider notes the run it will resume at registration.
    run_python("import mlflow", cwd=tmp_path, env=env)

    noted = Session("s-1", session_dir).resumed_runs()
    assert noted == {
        "0123456789abcdef0123456789abcdef": StoreUse("https://mlflow.example.com/", None)
    }
    assert "s3cret" not in "".join(p.read_text() for p in session_dir.iterdir())


IN_A_SUBPROCESS = """
import subprocess, sys
# A stage's command that trains in a child process: DVC_STAGE is inherited.
subprocess.run([sys.executable, "-c", sys.argv[1], sys.argv[2]], check=True)
"""


def test_a_run_started_inside_a_dvc_stage_or_its_subprocess_names_the_stage(
    mlflow_uri: str, tmp_path: Path
) -> None:
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    env = {
        **os.environ,
        "LINEAGE_SESSION": "s-1",
        "LINEAGE_SESSION_DIR": str(session_dir),
        "DVC_STAGE": "sub/dvc.yaml:train",  # what DVC sets for a stage's command
    }

    script = IN_A_SUBPROCESS
    tags = json.loads(run_python(script, ONE_RUN, str(tmp_path / "a"), cwd=tmp_path, env=env))
    del env["DVC_STAGE"]
    outside = json.loads(run_python(ONE_RUN.replace('"one"', '"two"'), str(tmp_path / "b"),
                                     cwd=tmp_path, env=env))  # fmt: skip

    assert lineage_tags(tags) == {"lineage.session": "s-1", "lineage.stage": "sub/dvc.yaml:train"}
    assert lineage_tags(outside) == {"lineage.session": "s-1"}
    session = Session("s-1", session_dir)
    assert sorted(use.stage or "" for use in session.started_runs()) == ["", "sub/dvc.yaml:train"]
    assert session.stages_seen() == {"sub/dvc.yaml:train"}
    found = find_session_runs_with_stages(mlflow_uri, "s-1")
    assert sorted(stage or "" for _, stage in found) == ["", "sub/dvc.yaml:train"]


def test_a_run_resumed_inside_a_dvc_stage_is_noted_with_the_stage(
    mlflow_uri: str, tmp_path: Path
) -> None:
    client = MlflowClient(mlflow_uri)
    experiment = client.create_experiment("projects", artifact_location=str(tmp_path / "a"))
    created = client.create_run(experiment).info.run_id
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    env = {
        **os.environ,
        "LINEAGE_SESSION": "s-1",
        "LINEAGE_SESSION_DIR": str(session_dir),
        "MLFLOW_RUN_ID": created,
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "DVC_STAGE": "train",
    }

    run_python(RESUME, cwd=tmp_path, env=env)

    session = Session("s-1", session_dir)
    assert session.resumed_runs() == {created: StoreUse(mlflow_uri, None, stage="train")}
    assert session.stages_seen() == {"train"}
