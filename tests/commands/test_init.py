"""`lineage init`: the config file, idempotence, and what it says about the repository."""

from __future__ import annotations

from pathlib import Path

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
