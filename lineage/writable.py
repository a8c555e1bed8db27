"""Whether lineage can write where it is about to, asked before the work rather than after it.

Standard library only: the CLI asks it before every command that writes a file the user named
(``-o``, ``--report``, ``--junit``), and ``lineage run`` before its command starts.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lineage.errors import LineageError, printable

# What a file system says when it will not take a write: not a bug, a fact about the machine.
WRITE_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR}
)


def shown(text: str | Path) -> str:
    """``text`` as an error message may echo it: control characters escaped (``\\n``), never
    printed raw; everything else as typed."""
    return printable(str(text))


@contextlib.contextmanager
def replaced(path: Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """An output file written whole or not at all: into a file beside it, renamed over it at
    the end, so a failure or a kill on the way leaves the old one as it was (a kill leaves
    ``.NAME.lineage-PID.tmp`` beside it, removed by the next write of NAME). The old file's
    permissions are kept (not its setuid bits), a symlink stays one (the file it names is
    replaced), and a pipe or device (``/dev/stdout``) is written as it is, as is a file in a
    directory lineage cannot create files in."""
    mode, encoding = ("wb", None) if binary else ("w", "utf-8")
    real = path.resolve()
    old = real.stat() if real.exists() else None
    _remove_left_behind(real)
    temporary = real.with_name(f".{real.name}.lineage-{os.getpid()}.tmp")
    out = None
    if old is None or real.is_file():
        try:
            out = temporary.open(mode, encoding=encoding)
        except OSError as exc:
            if exc.errno not in WRITE_ERRNOS:
                raise
    if out is None:
        with real.open(mode, encoding=encoding) as direct:
            yield direct
        return
    try:
        with out:
            if old is not None:
                os.chmod(temporary, old.st_mode & 0o777)
            yield out
        temporary.replace(real)
    finally:
        temporary.unlink(missing_ok=True)


def _remove_left_behind(real: Path) -> None:
    """The files a killed write of ``real`` left beside it: those of a process that is gone
    (one still running may be writing it now)."""
    with contextlib.suppress(OSError):
        for found in real.parent.glob(f".{_glob_escaped(real.name)}.lineage-*.tmp"):
            pid = found.name[len(real.name) + len(".lineage-") + 1 : -len(".tmp")]
            if pid.isdigit() and not _running(int(pid)):
                found.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: running
        return True
    return True


def _glob_escaped(text: str) -> str:
    """``text`` matched literally by ``Path.glob``."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def output_problem(cwd: Path, name: str | Path) -> str | None:
    """Why a file could not be written at ``name`` (relative to ``cwd``; None: it could),
    without creating it. Paths in the answer are spelt as the user gave them."""
    path, given = cwd / name, Path(name)
    if path.is_dir():
        return "it is a directory"
    parent = path.parent
    if not parent.exists():
        return f"directory {shown(given.parent)} does not exist"
    if not parent.is_dir():
        return f"{shown(given.parent)} is not a directory"
    if path.exists():
        return None if os.access(path, os.W_OK) else _denied(path, given)
    if not os.access(parent, os.W_OK | os.X_OK):
        return _denied(parent, given.parent)
    return None


def directory_problem(directory: Path) -> str | None:
    """Why lineage could not create files in ``directory`` (None: it could); a missing
    directory is fine when its nearest existing ancestor is writable."""
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{shown(probe)} is a file, not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return _denied(probe)
    return None


def full_problem(directory: Path) -> str | None:
    """Why ``directory``'s file system cannot take a small write: no free space (None: it can,
    or it cannot be asked)."""
    try:
        stats = os.statvfs(directory)
    except OSError:
        return None
    if stats.f_bavail * stats.f_frsize < _MIN_FREE:
        return f"the disk holding {shown(directory)} is full"
    return None


_MIN_FREE = 64 * 1024  # a session's notes and a record or two


def _denied(path: Path, given: Path | None = None) -> str:
    # access(2) answers EROFS for a read-only file system, even to root; else permissions.
    try:
        read_only = os.statvfs(path).f_flag & os.ST_RDONLY
    except OSError:
        read_only = 0
    spelt = shown(given if given is not None else path)
    if read_only:
        return f"{spelt} is on a read-only file system"
    return f"{spelt} is not writable (permission denied)"


def check_lineage_dir(directory: Path) -> None:
    """``<git-common-dir>/lineage`` holds more than caches (sessions, worktrees, notes): a file
    in its place is not lineage's to remove."""
    if directory.exists() and not directory.is_dir():
        raise LineageError(
            f"{shown(directory)} is a file, not lineage's directory; move it aside "
            f"(e.g. `mv {shown(directory)} {shown(directory)}.bak`) and run the command again"
        )


_IN_THE_WAY = frozenset({errno.EEXIST, errno.ENOTDIR, errno.EISDIR})


def write_failure(exc: BaseException) -> str | None:
    """The one-line message for a write the file system refused (None: anything else, which
    is a bug to report with its traceback)."""
    if isinstance(exc, OSError) and exc.errno in _IN_THE_WAY and exc.filename is not None:
        # a file where lineage needs a directory (`.lineage` a file), or the reverse
        return (
            f"cannot use {shown(exc.filename)} ({exc.strerror}): something else is in the way "
            "there; move it aside and run the command again"
        )
    if not isinstance(exc, OSError) or exc.errno not in WRITE_ERRNOS:
        return None
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if exc.filename is None:
        # A failed flush on close names no file: the cause is still the disk, not a bug.
        if not full:
            return None
        return (
            f"a disk lineage writes to is full ({exc.strerror}); free some space and run "
            "the command again"
        )
    where = shown(exc.filename)
    if full:
        return (
            f"the disk holding {where} is full ({exc.strerror}); free some space there and "
            "run the command again"
        )
    return f"cannot write {where} ({exc.strerror}); make it writable and run the command again"


def require_directory(directory: Path, doing: str) -> None:
    """Raise the one-line error for ``doing`` (e.g. "cannot record") when lineage could not
    create files in ``directory``."""
    problem = directory_problem(directory)
    if problem is not None:
        raise LineageError(f"{doing}: {problem}; make it writable and run the command again")
