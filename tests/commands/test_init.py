"""`lineage init`: the config file, idempotence, what it says about the repository, and the
`.gitignore` entries for tools' stores it offers."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.conftest import sh
from tests.helpers import lineage


def test_init_is_idempotent_and_works_before_first_commit_and_without_dvc(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    first = lineage(tmp_path, "init").stdout
    assert first.startswith(f"Initialised lineage in {tmp_path} (wrote .lineage/config.toml")
    assert "no commits yet" in first and "no DVC project here" in first
    config = (tmp_path / ".lineage" / "config.toml").read_text()
    second = lineage(tmp_path, "init").stdout
    assert "already set up" in second
    assert (tmp_path / ".lineage" / "config.toml").read_text() == config
    assert sh("git", "status", "--porcelain", cwd=tmp_path).stdout == "?? .lineage/\n"


NOTE = (
    "note: {} not in .gitignore: lineage never counts these tool stores as code, but `git add "
    "-A` would commit them; `lineage init --gitignore` adds them."
)


# W&B's entries: what W&B writes in wandb/, never a bare `wandb/` (YOLOv5's
# utils/loggers/wandb/ package would be ignored with it).
WANDB_LINES = (
    "**/wandb/run-*/\n**/wandb/offline-run-*/\n**/wandb/sweep-*/\n**/wandb/latest-run\n"
    "**/wandb/debug*.log\n"
)
WANDB = "W&B's run files under wandb/ (5 patterns)"


def test_init_adds_the_tool_stores_to_gitignore_once_and_says_so(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    (tmp_path / ".gitignore").write_text("*.pyc\n# W&B\n/wandb/\n.venv")  # no final newline

    first = lineage(tmp_path, "init", "--gitignore").stdout.splitlines()

    assert first[1] == (
        "Added to .gitignore: mlflow.db, mlruns/, mlartifacts/ (the stores of MLflow, W&B and "
        "DVC: never code)."
    )
    expected = "*.pyc\n# W&B\n/wandb/\n.venv\nmlflow.db\nmlruns/\nmlartifacts/\n"
    assert (tmp_path / ".gitignore").read_text() == expected
    second = lineage(tmp_path, "init", "--gitignore").stdout
    assert ".gitignore" not in second
    assert (tmp_path / ".gitignore").read_text() == expected


def test_init_offers_but_never_writes_gitignore_unasked(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    (tmp_path / ".gitignore").write_text("*.db\n!keep/mlflow.db\n")  # a broader rule counts
    for flags in ((), ("--no-gitignore",)):  # no terminal here: the same as --no-gitignore
        out = lineage(tmp_path, "init", *flags).stdout.splitlines()
        assert out[1] == NOTE.format(f"mlruns/, mlartifacts/, {WANDB}")
    assert (tmp_path / ".gitignore").read_text() == "*.db\n!keep/mlflow.db\n"


def test_init_respects_a_rule_that_keeps_a_store_in(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    (tmp_path / ".gitignore").write_text("!mlflow.db\n")  # the user wants it in Git
    (tmp_path / ".git" / "info").mkdir(exist_ok=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("mlruns/\n")
    lineage(tmp_path, "init", "--gitignore")
    assert (tmp_path / ".gitignore").read_text() == "!mlflow.db\nmlartifacts/\n" + WANDB_LINES


def test_init_adds_dvcs_stores_only_when_dvcs_own_gitignore_is_gone(dvc_repo: Path) -> None:
    out = lineage(dvc_repo, "init", "--gitignore").stdout.splitlines()
    assert out[1].startswith(f"Added to .gitignore: {WANDB} (")  # the fixture ignores MLflow's
    (dvc_repo / ".dvc" / ".gitignore").unlink()
    out = lineage(dvc_repo, "init", "--gitignore").stdout.splitlines()
    assert out[1].startswith("Added to .gitignore: .dvc/cache/, .dvc/tmp/ (")
    assert (dvc_repo / ".gitignore").read_text() == (
        "mlflow.db\nmlruns/\nmlartifacts/\n" + WANDB_LINES + ".dvc/cache/\n.dvc/tmp/\n"
    )


def test_init_adds_the_sqlite_file_the_tracking_uri_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///experiments/runs.db")  # relative
    lineage(tmp_path, "init", "--gitignore")
    assert (tmp_path / ".gitignore").read_text().splitlines()[-1] == "/experiments/runs.db"


def test_init_asks_on_a_terminal_default_yes(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            ["lineage", "init"], cwd=tmp_path, stdin=follower, stdout=subprocess.PIPE, text=True
        )
        os.write(leader, b"\n")  # Enter: the default
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 0
    assert out.startswith(
        f"Add mlflow.db, mlruns/, mlartifacts/, {WANDB} to .gitignore (tool stores, never "
        "code)? [Y/n]: "
    )
    assert f"Added to .gitignore: mlflow.db, mlruns/, mlartifacts/, {WANDB} (" in out
    assert (
        tmp_path / ".gitignore"
    ).read_text() == "mlflow.db\nmlruns/\nmlartifacts/\n" + WANDB_LINES
