"""Shared fixtures: every test gets its own HOME, git identity and config, and MLflow store.

Everything here is real: git repositories in tmp_path, `dvc init` with a local directory
remote, MLflow on SQLite. Only the environment around them is pinned.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def sh(
    *args: str | Path,
    cwd: Path,
    env: dict[str, str] | None = None,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a real command and return its output; fail loudly with its stderr."""
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        text=True,
        capture_output=True,
        input=input,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    templates = tmp_path_factory.mktemp("git-templates")
    for var in list(os.environ):
        if var.startswith(("GIT_", "MLFLOW_", "LINEAGE_", "DVC_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_TEMPLATE_DIR", str(templates))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(home / ".dvc-site"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")  # children's warnings are not ours
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A git repository with one commit holding src/train.py and README.md."""
    repo = tmp_path / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    (repo / "src").mkdir()
    (repo / "src" / "train.py").write_text("print('training')\n")
    (repo / "README.md").write_text("# demo\n")
    (repo / ".gitignore").write_text("mlflow.db\nmlruns/\nmlartifacts/\n")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "Initial commit", cwd=repo)
    return repo


@pytest.fixture
def dvc_repo(git_repo: Path, tmp_path: Path) -> Path:
    """git_repo plus `dvc init`, a local directory remote, and data/raw.csv tracked by DVC."""
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    sh("dvc", "init", "-q", cwd=git_repo)
    sh("dvc", "remote", "add", "-d", "storage", str(remote), cwd=git_repo)
    (git_repo / "data").mkdir()
    (git_repo / "data" / "raw.csv").write_text("id,value\n1,10\n2,20\n3,30\n")
    sh("dvc", "add", "-q", "data/raw.csv", cwd=git_repo)
    sh("git", "add", "-A", cwd=git_repo)
    sh("git", "commit", "-q", "-m", "Track raw data with DVC", cwd=git_repo)
    return git_repo


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite tracking store whose artifacts stay inside tmp_path."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    yield uri
    shutil.rmtree(tmp_path / "mlartifacts", ignore_errors=True)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A project trained five times, shared by the read-only commands' tests (tests/scenarios.py).
    Tests must not change it; run `lineage` on it with ``env=trained.env``."""
    from tests.scenarios import build_trained

    return build_trained(tmp_path_factory.mktemp("trained"))


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A DVC project with two recorded runs that made churn/1 and churn/2 (tests/scenarios.py),
    shared by the tests that only read it. Run `lineage` on it with ``recorded.lineage(...)``;
    a test that changes it works on a copy (``recorded.copy(tmp_path)``)."""
    from tests.scenarios import build_recorded

    return build_recorded(tmp_path_factory.mktemp("recorded"))


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Seven MLflow runs made without lineage, one with it (tests/history.py), for `import
    mlflow` and `audit`; they import into it (idempotently) and must change nothing else."""
    from tests.history import build_history

    return build_history(tmp_path_factory.mktemp("history"))
