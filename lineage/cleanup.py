"""What killed lineage processes leave behind in ``<git-common-dir>/lineage/``, noticed and
cleared by the next command that opens the index.

A `lineage reproduce` killed with SIGKILL never reaches its ``finally``: its worktree stays in
``worktrees/`` and in `git worktree list`. A `lineage run` killed so never records its command:
its session directory stays in ``sessions/``, and the run would be lost without a word. So each
of them leaves an owner file naming its process (pid and start time, so a reused pid is not
taken for it), and :func:`tidy` removes what belongs to processes that are gone, and records a
killed `lineage run` as ``lost``. It never touches what a live process owns.

Standard library only, and cheap when there is nothing to do (two directory listings): every
command that opens the index pays for it; the hooks never call it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lineage.context import Context
    from lineage.redact import Redaction

OWNER = "owner.json"  # in a session directory
OWNER_SUFFIX = ".owner"  # beside a worktree: <worktree>.owner


def _start_token(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (Linux's /proc); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]  # field 22: starttime


def _host_token() -> str:
    """Which machine and pid namespace a pid means something in: a repository shared with a
    container or over a network file system is seen by processes whose pids we cannot check."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}:{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        import socket

        return socket.gethostname()


def me(**details: Any) -> dict[str, Any]:
    """This process as an owner file says it, with ``details`` beside it."""
    return {
        **details,
        "pid": os.getpid(),
        "start": _start_token(os.getpid()),
        "host": _host_token(),
    }


def claim(path: Path, **details: Any) -> None:
    """Write the owner file ``path`` for this process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(me(**details), sort_keys=True), encoding="utf-8")


def alive(owner: Mapping[str, Any]) -> bool:
    """Whether the process an owner file names still runs (the same process, not its pid
    reused by another)."""
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if owner.get("host", _host_token()) != _host_token():
        return True  # another machine's or container's process: never judged gone from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    recorded, now = owner.get("start"), _start_token(pid)
    return recorded is None or now is None or recorded == now


def _owner(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def tidy(ctx: Context) -> list[str]:
    """Clear what killed lineage processes left; one message per kind of thing cleared."""
    lineage_dir = ctx.paths.lineage_dir
    messages = []
    removed = list(_stale_worktrees(ctx, lineage_dir / "worktrees"))
    if removed:
        n = len(removed)
        where = ", ".join(os.path.relpath(p, ctx.paths.root) for p in removed)
        messages.append(
            f"removed {n} worktree{'s' if n != 1 else ''} left by a killed `lineage reproduce` "
            f"({where})"
        )
    lost = list(_dead_sessions(ctx, lineage_dir / "sessions"))
    if lost:
        n = len(lost)
        messages.append(
            f"recorded {n} run{'s' if n != 1 else ''} whose lineage process was killed as lost "
            f"({', '.join(lost)}); see `lineage show {lost[0]}`"
        )
    return messages


def _stale_worktrees(ctx: Context, directory: Path) -> Iterator[Path]:
    try:
        markers = [p for p in directory.iterdir() if p.name.endswith(OWNER_SUFFIX)]
    except OSError:
        return
    for marker in markers:
        owner = _owner(marker)
        if owner is not None and alive(owner):
            continue
        worktree = marker.with_name(marker.name[: -len(OWNER_SUFFIX)])
        if worktree.exists():
            from lineage.adapters import git

            git.worktree_remove(ctx.paths, worktree)
            yield worktree
        marker.unlink(missing_ok=True)


def _dead_sessions(ctx: Context, directory: Path) -> Iterator[str]:
    """Remove the session directories of dead processes; yield the run key recorded as lost
    for each that belonged to a `lineage run` (its owner file says what ran)."""
    try:
        sessions = [p for p in directory.iterdir() if p.is_dir()]
    except OSError:
        return
    for session in sessions:
        owner = _owner(session / OWNER)
        if owner is None:
            # Before owner files: only an empty directory is surely nobody's work in progress.
            if not any(session.iterdir()):
                session.rmdir()
            continue
        if alive(owner):
            continue
        # Renamed first, so that of two commands tidying at once only one records it.
        taken = session.with_name(f".{session.name}.{os.getpid()}")
        try:
            session.rename(taken)
        except OSError:
            continue
        try:
            argv = owner.get("argv")
            if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
                yield _record_lost(ctx, session.name, owner)
        finally:
            import shutil  # only when a killed run left a session: every command opens this

            shutil.rmtree(taken, ignore_errors=True)


def _redactions(found: Any) -> tuple[Redaction, ...]:
    """What the owner file says was taken out of its argv (nothing, if it is damaged)."""
    from lineage.redact import Redaction

    if not isinstance(found, list):
        return ()
    return tuple(
        Redaction(r["at"], r["name"], r.get("variable"))
        for r in found
        if isinstance(r, dict)
        and isinstance(r.get("at"), int)
        and isinstance(r.get("name"), str)
        and isinstance(r.get("variable"), (str, type(None)))
    )


def _record_lost(ctx: Context, session: str, owner: Mapping[str, Any]) -> str:
    """A run record for the command of a killed `lineage run`: status ``lost``."""
    from datetime import datetime

    from lineage.clock import iso, utc_now
    from lineage.errors import UnsafePathError
    from lineage.records import OBSERVED, Code, Command, RunRecord, encode, repo_path

    found = owner.get("code")
    code: Mapping[str, Any] = found if isinstance(found, dict) else {}
    now = utc_now()
    started = str(owner.get("started") or "")
    try:
        began = datetime.fromisoformat(started)
        if began.tzinfo is None:
            raise ValueError(started)
    except ValueError:  # a damaged owner file: when it started is not known
        began, started = now, iso(now)
    cwd = owner.get("cwd") if isinstance(owner.get("cwd"), str) else "."
    try:
        cwd = repo_path(cwd or ".")
    except UnsafePathError:
        cwd = "."
    record = RunRecord(
        evidence=OBSERVED,
        session=session,
        code=Code(
            commit=code.get("commit"),
            dirty=code.get("dirty"),
            snapshot=code.get("snapshot"),
            branch=code.get("branch"),
        ),
        created=ctx.provenance(),
        command=Command(
            argv=tuple(owner["argv"]),
            cwd=cwd,
            redacted=_redactions(owner.get("redacted")),
            exit_code=None,
            status="lost",
            started=started,
            ended=iso(now),  # when it was found gone: it ended before, no one knows when
            duration_s=round(max((now - began).total_seconds(), 0.0), 3),
        ),
        reproduces=owner.get("reproduces"),
    )
    rid, blob = encode(record)
    ran = code.get("snapshot") or code.get("commit")
    ctx.store.append(
        [(rid, blob)], keep=[ran] if ran else [], message=f"lineage: lost run local-{session}"
    )
    return f"local-{session}"
