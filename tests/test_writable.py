"""Whether a write can happen, asked before the work; a refused write said in one line."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from pathlib import Path

import pytest

from lineage.writable import output_problem, replaced, shown, write_failure


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


def test_an_output_file_is_replaced_whole_or_left_as_it_was(tmp_path: Path) -> None:
    """-o, --report, --junit, export --file: a new file; an old one replaced with its mode
    kept; through a symlink, which stays one; a failure half-way leaves the old bytes and no
    file beside them; a device is written as it is, never renamed over."""
    new = tmp_path / "new.svg"
    with replaced(new, binary=True) as out:
        out.write(b"<svg/>")
    assert new.read_bytes() == b"<svg/>"

    old = tmp_path / "report.md"
    old.write_text("old report\n")
    old.chmod(0o640)
    link = tmp_path / "latest.md"
    link.symlink_to(old.name)
    with replaced(link) as out:
        out.write("new report\n")
    assert link.is_symlink() and old.read_text() == "new report\n"
    assert stat.S_IMODE(old.stat().st_mode) == 0o640

    with pytest.raises(OSError), replaced(old) as out:
        out.write("half of a ")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert old.read_text() == "new report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.md", "new.svg", "report.md"]

    with replaced(Path(os.devnull)) as out:
        out.write("nothing\n")
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)


def test_what_a_killed_write_left_beside_a_file_goes_with_the_next_write(tmp_path: Path) -> None:
    """A write killed half-way leaves `.NAME.lineage-PID.tmp`: the next write of NAME removes
    those of processes that are gone, and keeps one whose process runs (it may be writing)."""
    ended = subprocess.Popen(["true"])  # a pid that ran and ended
    ended.wait()
    target = tmp_path / "report [v1].md"  # glob's own characters in the name
    left = tmp_path / f".{target.name}.lineage-{ended.pid}.tmp"
    running = tmp_path / f".{target.name}.lineage-{os.getppid()}.tmp"
    other = tmp_path / f".other.md.lineage-{ended.pid}.tmp"
    for path in (left, running, other):
        path.write_text("half")
    with replaced(target) as out:
        out.write("whole\n")
    assert target.read_text() == "whole\n"
    assert not left.exists()
    assert running.exists() and other.exists()
