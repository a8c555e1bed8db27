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
