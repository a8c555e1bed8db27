"""Stores a team points lineage at that it cannot use: a SQL server whose driver lineage's
Python lacks, a URI Python cannot parse, a command-line URL Python cannot parse."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.bad_input.harness import assert_no_traceback, copy_of, refused, run_cli, set_up_repo
from tests.conftest import sh
from tests.scenarios import hermetic_env


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sql-stores")
    env = hermetic_env(base)
    repo = set_up_repo(base / "repo", env)
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    copy = copy_of(template, tmp_path)
    return copy


def env(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


# A driver this machine's lineage Python lacks, for a dialect SQLAlchemy knows.
MISSING = [
    (uri, module)
    for uri, module in [
        ("mysql://ada:s3cr3t@127.0.0.1:3306/mlflow", "MySQLdb"),
        ("mysql+pymysql://ada:s3cr3t@127.0.0.1:3306/mlflow", "pymysql"),
        ("postgresql+pg8000://ada:s3cr3t@127.0.0.1:5432/mlflow", "pg8000"),
    ]
    if importlib.util.find_spec(module) is None
]


@pytest.mark.skipif(not MISSING, reason="every driver tried is installed here")
@pytest.mark.parametrize(
    "command", [["run", "--", "touch", "ran"], ["audit"], ["import", "mlflow"]]
)
def test_a_sql_store_whose_driver_is_missing_is_named_before_anything_runs(
    repo: Path, command: list[str]
) -> None:
    uri, module = MISSING[0]
    result = refused(
        repo,
        *command,
        code=1,
        says=f"the database driver {module} is not installed in lineage's Python",
        env=env(MLFLOW_TRACKING_URI=uri),
    )
    assert not (repo / "ran").exists()
    assert "s3cr3t" not in result.stderr + result.stdout


@pytest.mark.skipif(not MISSING, reason="every driver tried is installed here")
def test_show_answers_beside_a_sql_registry_it_cannot_read(repo: Path) -> None:
    uri, module = MISSING[0]
    sh("lineage", "run", "--", "true", cwd=repo)  # a run, so show reads the registry
    result = run_cli(repo, "show", "HEAD", env=env(MLFLOW_TRACKING_URI=uri))
    assert_no_traceback(result)
    assert result.returncode == 0
    assert f"the database driver {module} is not installed" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout


@pytest.mark.parametrize("variable", ["MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"])
@pytest.mark.parametrize("command", [["run", "--", "touch", "ran"], ["show", "HEAD"], ["audit"]])
def test_a_store_uri_python_cannot_parse_is_named(
    repo: Path, variable: str, command: list[str]
) -> None:
    sh("lineage", "run", "--", "true", cwd=repo)  # a run, so show reads the registry
    result = refused(
        repo,
        *command,
        code=1,
        says=f"{variable} is not a valid URI (Invalid IPv6 URL)",
        env=env(**{variable: "postgresql://ada:s3cr3t@[db/mlflow"}),
    )
    assert not (repo / "ran").exists()
    assert "s3cr3t" not in result.stderr


def test_a_command_line_url_python_cannot_parse_is_recorded_without_its_password(
    repo: Path,
) -> None:
    result = run_cli(repo, "run", "--", "true", "http://ada:s3cr3t@[data/x.csv")
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    run = run_cli(repo, "log").stdout.split()[2]
    shown = run_cli(repo, "show", run).stdout
    assert "http://[data/x.csv" in shown
    assert "s3cr3t" not in shown
