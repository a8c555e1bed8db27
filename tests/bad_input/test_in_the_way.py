"""A file where lineage needs a directory: one line naming it, nothing run, nothing changed."""

from __future__ import annotations

from pathlib import Path

from tests.bad_input.harness import refused
from tests.conftest import sh
from tests.helpers import commit_all


def test_init_where_a_file_named_lineage_is_in_the_way(git_repo: Path) -> None:
    (git_repo / ".lineage").write_text("notes\n")
    refused(
        git_repo,
        "init",
        code=1,
        says=f"cannot use {git_repo}/.lineage (File exists): something else is in the way",
    )


def test_run_where_a_file_is_in_place_of_the_sessions_directory(git_repo: Path) -> None:
    sh("lineage", "init", "--no-gitignore", cwd=git_repo)
    commit_all(git_repo, "Set up lineage")
    sessions = git_repo / ".git" / "lineage" / "sessions"
    sessions.parent.mkdir(parents=True, exist_ok=True)
    sessions.write_text("x\n")
    refused(git_repo, "run", "--", "touch", "ran", code=1, says="something else is in the way")
    assert not (git_repo / "ran").exists()


def test_hooks_install_skips_a_directory_in_place_of_a_hook(git_repo: Path) -> None:
    sh("lineage", "init", "--no-gitignore", cwd=git_repo)
    commit_all(git_repo, "Set up lineage")
    (git_repo / ".git" / "hooks" / "pre-commit").mkdir(parents=True)

    result = sh("lineage", "hooks", "install", cwd=git_repo)

    assert "pre-commit     skipped: pre-commit is a directory, not a hook" in result.stdout
    assert not (git_repo / ".git" / "hooks" / "pre-commit.pre-lineage").exists()
    assert (git_repo / ".git" / "hooks" / "pre-commit").is_dir()  # left as the user had it


def test_a_directory_beside_a_shim_is_not_run_as_the_previous_hook(git_repo: Path) -> None:
    sh("lineage", "init", "--no-gitignore", cwd=git_repo)
    commit_all(git_repo, "Set up lineage")
    (git_repo / ".git" / "hooks" / "pre-commit.pre-lineage").mkdir(parents=True)
    sh("lineage", "hooks", "install", cwd=git_repo)
    (git_repo / "b.txt").write_text("b\n")
    commit_all(git_repo, "A commit through the shim")  # was "Permission denied", exit 126
