"""Whether a write can happen, asked before the work; a refused write said in one line."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from lineage.writable import output_problem, shown, write_failure


def test_control_characters_are_escaped_and_everything_else_kept() -> None:
    assert shown("a\nb\tc\x1b[31m é") == "a\\nb\\tc\\x1b[31m é"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("out.xml", None),
        ("reports/out.xml", None),
        ("reports", "it is a directory"),
        ("missing/out.xml", "directory missing does not exist"),
        ("file.txt/out.xml", "file.txt is not a directory"),
    ],
)
def test_output_problem_names_the_path_as_given(
    tmp_path: Path, name: str, problem: str | None
) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert output_problem(tmp_path, name) == problem
    assert not (tmp_path / "out.xml").exists()  # asking creates nothing


def test_a_refused_write_is_one_line_and_other_errors_stay_bugs() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/x/.git/lineage/a")
    assert write_failure(full) == (
        "the disk holding /x/.git/lineage/a is full (No space left on device); free some space "
        "there and run the command again"
    )
    unnamed = OSError(errno.ENOSPC, "No space left on device")
    assert write_failure(unnamed) == (
        "a disk lineage writes to is full (No space left on device); free some space and run "
        "the command again"
    )
    read_only = OSError(errno.EROFS, "Read-only file system", "/x/.git/lineage/w")
    assert write_failure(read_only) == (
        "cannot write /x/.git/lineage/w (Read-only file system); make it writable and run the "
        "command again"
    )
    assert write_failure(OSError(errno.ENOENT, "No such file or directory", "/x")) is None
    assert write_failure(ValueError("bug")) is None
