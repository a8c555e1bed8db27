"""lineage.adapters.tool_stores: which paths are the stores of MLflow, DVC and W&B (pure rules;
the git, capture, hook and init tests use them against real repositories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage.adapters.mlflow_uri import MlflowStores, sqlite_uri
from lineage.adapters.tool_stores import ToolStores

STORES = [
    "mlflow.db",
    "src/mlflow.db",  # MLflow started in a subdirectory
    "mlflow.db-journal",
    "src/mlflow.db-wal",
    "mlruns/0/meta.yaml",
    "src/mlruns/1/abc/artifacts/model.txt",
    "mlartifacts/1/abc/artifacts/model.pkl",
    "wandb/offline-run-20260101_000000-abc/files/output.log",
    "nested/wandb/debug.log",
    "nested/wandb/debug-internal.log",
    "wandb/latest-run",
    "wandb/run-20260101_000000-abc/run-abc.wandb",
    "src/wandb/sweep-sw33p/config-abc.yaml",
    "wandb/",  # a wholly untracked wandb directory, as `git status` lists it
    ".dvc/cache/files/md5/ab/cdef",
    ".dvc/tmp/lock",
    "sub/.dvc/tmp/rwlock",  # `dvc init --subdir`
]
CODE = [
    "train.py",
    "src/mlflow_utils.py",
    "mlflow.dbx",
    "docs/mlruns.md",
    ".dvc/config",
    ".dvc/.gitignore",
    "data/cache/x.csv",  # a `cache` that is not DVC's
    "tmp/notes.txt",
    # YOLOv5's W&B logger is a package named wandb: code, not W&B's store.
    "utils/loggers/wandb/wandb_utils.py",
    "utils/loggers/wandb/__init__.py",
    "src/wandb/settings",  # W&B's project settings, sometimes committed
]


@pytest.mark.parametrize("path", STORES)
def test_the_fixed_stores_are_recognised_in_any_directory(path: str) -> None:
    assert ToolStores().holds(path)


@pytest.mark.parametrize("path", CODE)
def test_code_beside_them_is_not_a_store(path: str) -> None:
    assert not ToolStores().holds(path)


def test_the_stores_the_mlflow_uris_name_inside_the_repository_count(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "tracking").mkdir(parents=True)
    mlflow = MlflowStores(
        tracking=sqlite_uri(str(root / "tracking" / "runs.db")),
        registry=str(root / "registry-files"),
    )
    outside = sqlite_uri(str(tmp_path / "elsewhere.db"))
    stores = ToolStores.of(root, mlflow, [outside, "http://127.0.0.1:5000"])
    assert stores.named == {"tracking/runs.db", "registry-files"}
    assert stores.holds("tracking/runs.db") and stores.holds("tracking/runs.db-journal")
    assert stores.holds("registry-files/models/m-1/MLmodel")
    assert not stores.holds("tracking/runs.db.bak") and not stores.holds("tracking/notes.md")
    assert stores.split(["train.py", "tracking/runs.db", "mlflow.db"]) == (
        ["train.py"],
        ["tracking/runs.db", "mlflow.db"],
    )


def test_gitignore_entries_cover_what_applies() -> None:
    named = ToolStores(frozenset({"tracking/runs.db", "src/mlflow.db"}))
    assert named.gitignore_entries(dvc=False) == [
        "mlflow.db",
        "mlruns/",
        "mlartifacts/",
        "**/wandb/run-*/",
        "**/wandb/offline-run-*/",
        "**/wandb/sweep-*/",
        "**/wandb/latest-run",
        "**/wandb/debug*.log",
        "/tracking/runs.db",  # src/mlflow.db is covered by `mlflow.db` already
    ]
    assert ToolStores().gitignore_entries(dvc=True)[-2:] == [".dvc/cache/", ".dvc/tmp/"]


def test_wandb_s_gitignore_entries_leave_a_package_named_wandb_tracked(tmp_path: Path) -> None:
    """The entries `lineage init` writes, asked of real git: W&B's files are ignored, a
    package named wandb is not (a bare `wandb/` line would ignore it)."""
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("\n".join(ToolStores().gitignore_entries(dvc=False)) + "\n")
    probes = [
        "wandb/offline-run-20260101_000000-abc/files/output.log",
        "src/wandb/run-20260101_000000-abc/run-abc.wandb",
        "wandb/latest-run",
        "wandb/debug-internal.log",
        "utils/loggers/wandb/wandb_utils.py",
        "wandb/settings",
    ]
    found = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=repo,
        input="\n".join(probes),
        capture_output=True,
        text=True,
    ).stdout.split()
    assert found == probes[:4]
