"""Run a child process the way a wrapper should: stdio passed through, signals forwarded,
its return code handed back."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

from lineage.errors import CommandNotExecutableError, CommandNotFoundError


def resolve_executable(name: str, cwd: Path, environ: Mapping[str, str]) -> str:
    if os.sep in name:
        path = cwd / name
        if not path.exists():
            raise CommandNotFoundError(name)
        if not os.access(path, os.X_OK) or path.is_dir():
            raise CommandNotExecutableError(name)
        return name
    found = shutil.which(name, path=environ.get("PATH", os.defpath))
    if found is None:
        raise CommandNotFoundError(name)
    return found


def _terminal_delivers_sigint() -> bool:
    """True when we are in the terminal's foreground group, so the child got Ctrl-C itself."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            if stream is not None and stream.isatty():
                return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (OSError, ValueError):
            continue
    return False


def _die_with_parent() -> Callable[[], None] | None:
    """In its own process group, a SIGKILL to our group (a CI runner's last resort) no longer
    reaches the child: on Linux, have the kernel kill it when we die, as before, so a killed
    `lineage run` never leaves training running unseen. None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child() -> None:  # between fork and exec: no allocation-heavy work here
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # we died before the line above took effect
            os._exit(137)

    return in_child


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _in_child(
    first: Callable[[], None] | None, restore: Sequence[signal.Signals]
) -> Callable[[], None] | None:
    """What runs in the child before exec: ``first``, then ``restore`` set back to their
    default action."""
    if first is None and not restore:
        return None

    def in_child() -> None:
        if first is not None:
            first()
        for sig in restore:
            signal.signal(sig, signal.SIG_DFL)

    return in_child


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    tail: deque[str] | None = None,
) -> int:
    """Run the command with stdio passed through; forward signals; return its returncode.

    With ``tail``, the command's stdout and stderr are merged, copied to our stderr as they
    come, and the last lines kept in ``tail`` (its maxlen), so a failure can be quoted."""
    # In a terminal's foreground, the child stays in our process group: Ctrl-C reaches it from
    # the terminal, and it may read the terminal (pdb, prompts). Anywhere else (CI, a job in
    # the background, `kill -INT -PGID`) a signal to our group would reach the child and then
    # again through us: a second SIGINT breaks MLflow's end-of-run handling, which then marks
    # the run FINISHED. So there the child gets a process group of its own, and every signal
    # reaches it exactly once, through us.
    foreground = _terminal_delivers_sigint()
    # A shell without job control starts `cmd &` with SIGINT and SIGQUIT ignored, and an
    # ignored signal stays ignored across exec: the child would shrug off the SIGINT we forward
    # (and a `lineage reproduce` stopped with it would wait for training to end). Away from the
    # terminal every signal reaches the child through us, so it gets them back as by default.
    ignored = tuple(
        sig for sig in (signal.SIGINT, signal.SIGQUIT) if signal.getsignal(sig) is signal.SIG_IGN
    )
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE if tail is not None else None,
            stderr=subprocess.STDOUT if tail is not None else None,
            process_group=None if foreground else 0,
            preexec_fn=None if foreground else _in_child(_die_with_parent(), ignored),
        )
    except FileNotFoundError:
        raise CommandNotFoundError(argv[0]) from None
    except PermissionError:
        raise CommandNotExecutableError(argv[0]) from None

    def forward(signum: int, _frame: FrameType | None) -> None:
        if foreground:
            if signum in (signal.SIGINT, signal.SIGQUIT) and _terminal_delivers_sigint():
                return  # the terminal already sent it to the child's process group
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signum)  # the child's group: its own children too, once

    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    previous = {sig: signal.signal(sig, forward) for sig in forwarded}
    try:
        if tail is not None and proc.stdout is not None:
            sink = sys.stderr.buffer
            for line in iter(proc.stdout.readline, b""):
                sink.write(line)
                sink.flush()
                tail.append(line.decode("utf-8", "replace").rstrip("\n"))
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
