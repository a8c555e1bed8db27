from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from lineage.environment import (
    ALLOWED_VARIABLES,
    _name_and_version,
    capture,
    capture_interpreter,
    from_json,
    to_json,
)

SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
    "MLFLOW_TRACKING_PASSWORD": "mlflow-password-value",
    "MLFLOW_TRACKING_TOKEN": "mlflow-token-value",
    "DATABASE_URL": "postgresql://ada:db-password-value@db/prod",
}


def test_capture_describes_this_interpreter() -> None:
    env = capture({})

    assert env.python == platform.python_version()
    assert env.implementation == "CPython"
    assert env.platform == f"{platform.system()}-{platform.machine()}"
    assert env.packages["mlflow"] == importlib.metadata.version("mlflow")
    assert env.packages["pytest"] == importlib.metadata.version("pytest")
    assert env.packages["scikit-learn"] == importlib.metadata.version("scikit-learn")  # normalised
    lines = "".join(f"{name}=={env.packages[name]}\n" for name in sorted(env.packages))
    assert env.packages_hash == "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    assert env.variables == {}
    assert env.source == "child"


def test_each_distribution_is_named_as_importlib_metadata_names_it(tmp_path: Path) -> None:
    """The probe reads only each metadata file's header block; every distribution of this
    environment (~200 .dist-info directories), and the older .egg-info forms (a directory
    with PKG-INFO, a single file), get the name and version importlib.metadata parses out of
    the whole file."""
    long = "Description-Content-Type: text/markdown\n\n" + "A long description.\n" * 5000
    (tmp_path / "eggdir-1.0.egg-info").mkdir()
    (tmp_path / "eggdir-1.0.egg-info" / "PKG-INFO").write_text(
        "Metadata-Version: 1.1\nName: eggdir\nVersion: 1.0\n" + long
    )
    (tmp_path / "eggfile-2.0.egg-info").write_text(
        "Metadata-Version: 1.1\nName: EggFile\nVersion: 2.0\n" + long
    )
    (tmp_path / "wheel-3.0.dist-info").mkdir()
    (tmp_path / "wheel-3.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: wheel-thing\nVersion: 3.0rc1\n" + long
    )
    made = list(importlib.metadata.distributions(path=[str(tmp_path)]))
    assert sorted(_name_and_version(d) for d in made) == [
        ("EggFile", "2.0"),
        ("eggdir", "1.0"),
        ("wheel-thing", "3.0rc1"),
    ]
    dists = [*importlib.metadata.distributions(), *made]
    assert len(dists) > 50
    assert [_name_and_version(d) for d in dists] == [(d.metadata["Name"], d.version) for d in dists]


def test_only_allow_listed_variables_are_recorded_and_uris_lose_their_credentials() -> None:
    environ = {
        **SECRETS,
        "PYTHONHASHSEED": "0",
        "CUDA_VISIBLE_DEVICES": "1",
        "MLFLOW_TRACKING_URI": "https://ada:uri-password-value@mlflow.example.com?token=uri-tok",
        "HOME": "/home/ada",
    }

    env = capture(environ)

    assert set(env.variables) <= set(ALLOWED_VARIABLES)
    assert env.variables == {
        "PYTHONHASHSEED": "0",
        "CUDA_VISIBLE_DEVICES": "1",
        "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
    }
    text = to_json(env)
    for secret in (
        "aws-secret-value",
        "mlflow-password-value",
        "mlflow-token-value",
        "db-password-value",
        "uri-password-value",
        "uri-tok",
    ):
        assert secret not in text


def test_json_round_trips() -> None:
    env = capture({"TZ": "UTC"})

    assert from_json(to_json(env)) == env
    assert json.loads(to_json(env))["variables"] == {"TZ": "UTC"}


@pytest.mark.parametrize("text", ["[]", '{"python": "3.11"}', "not json"])
def test_from_json_refuses_what_is_not_an_environment(text: str) -> None:
    with pytest.raises(ValueError):
        from_json(text)


def test_another_interpreter_reports_the_same_environment_as_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**SECRETS, "OMP_NUM_THREADS": "2"}.items():
        monkeypatch.setenv(name, value)

    assert capture_interpreter(sys.executable) == capture()


def test_capture_interpreter_needs_no_lineage_in_the_target(tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"

    env = capture_interpreter(str(python), environ={"LANG": "C.UTF-8", "HOME": str(tmp_path)})

    assert env is not None
    assert env.python == platform.python_version()
    assert "lineage" not in env.packages and "mlflow" not in env.packages
    assert env.variables == {"LANG": "C.UTF-8"}


def test_capture_interpreter_ignores_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `python -c` puts the cwd on sys.path; a stray .dist-info there is not installed.
    (tmp_path / "stray-1.0.dist-info").mkdir()
    (tmp_path / "stray-1.0.dist-info" / "METADATA").write_text("Name: stray\nVersion: 1.0\n")
    monkeypatch.chdir(tmp_path)

    env = capture_interpreter(sys.executable)

    assert env is not None and "stray" not in env.packages


@pytest.mark.parametrize("python", ["/nonexistent/python", "false"])
def test_capture_interpreter_returns_none_when_the_interpreter_fails(python: str) -> None:
    assert capture_interpreter(python) is None


def test_capture_interpreter_gives_up_after_its_timeout(tmp_path: Path) -> None:
    slow = tmp_path / "slow-python"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)

    assert capture_interpreter(str(slow), timeout=0.5) is None
