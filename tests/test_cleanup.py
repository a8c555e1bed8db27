"""lineage.cleanup: what killed lineage processes leave behind, noticed and cleared by the next
command (real processes, real SIGKILL, real git and MLflow). The one faked edge: a pid that is
surely dead, taken from a process that has exited."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lineage.cleanup import OWNER, alive, claim, me
from tests.conftest import sh
from tests.helpers import commit_all, write

# Trains inside an MLflow run, then waits (with HOLD: writes its pid there first), so that
# lineage can be killed while it runs.
HOLD = """\
import os, time
from pathlib import Path
import mlflow
mlflow.set_experiment("held")
with mlflow.start_run():
    mlflow.log_param("epochs", 3)
    if os.environ.get("HOLD"):
        Path(os.environ["HOLD"]).write_text(str(os.getpid()))
        time.sleep(120)
"""


def _project(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\n")
    write(repo, "hold.py", HOLD)
    sh("lineage", "init", cwd=repo)
    commit_all(repo, "Training that holds")
    return repo


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def _gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped yet counts: it runs nothing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def _kill_lineage_while_the_child_runs(repo: Path, tmp_path: Path, *argv: str) -> None:
    """Start `lineage ARGV` with no terminal, SIGKILL it (only it) once the child trains; the
    child, in a process group of its own, must not go on training unseen: it dies with it."""
    held = tmp_path / "held"
    proc = subprocess.Popen(
        ["lineage", *argv],
        cwd=repo,
        env={**os.environ, "HOLD": str(held)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not held.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert held.exists() and proc.poll() is None
    time.sleep(0.1)  # the pid is written before the file is closed
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    child = int(held.read_text())
    deadline = time.monotonic() + 60
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not _gone(child):
        os.kill(child, signal.SIGKILL)
    assert _gone(child), "the child outlived the killed lineage process"


def test_a_sigkilled_lineage_run_is_shown_as_lost_and_leaves_no_session(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    head = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    _kill_lineage_while_the_child_runs(repo, tmp_path, "run", "--", "python", "hold.py")
    sessions = repo / ".git" / "lineage" / "sessions"
    assert len(list(sessions.iterdir())) == 1  # what the killed process left

    proc = sh("lineage", "log", cwd=repo)

    [entry] = json.loads(sh("lineage", "log", "--json", cwd=repo).stdout)
    run = entry["run"]
    assert run.startswith("local-") and entry["status"] == "LOST" and entry["commit"] == head
    assert proc.stderr == (
        f"lineage: warning: recorded 1 run whose lineage process was killed as lost ({run}); "
        f"see `lineage show {run}`\n"
    )
    assert proc.stdout.split()[2:5] == [run[:18], "LOST", head[:10]]
    shown = sh("lineage", "show", run, cwd=repo).stdout.splitlines()
    assert shown[2] == (
        f"run       {run}  LOST: lineage was killed while the command ran, so its runs were "
        "never read back"
    )
    assert shown[3].endswith(f"(tag lineage.session={run[6:]}) may still say RUNNING")
    assert any(
        line.startswith("command   python hold.py   (in .; lost, exit code unknown (lineage was")
        for line in shown
    )
    assert list(sessions.iterdir()) == []
    # Noticed once: the next command has nothing to say.
    assert sh("lineage", "log", cwd=repo).stderr == ""


def test_a_sigkilled_reproduce_leaves_a_worktree_the_next_command_removes(
    tmp_path: Path,
) -> None:
    repo = _project(tmp_path)
    sh("lineage", "run", "--", "python", "hold.py", cwd=repo)
    [original] = json.loads(sh("lineage", "log", "--json", cwd=repo).stdout)
    _kill_lineage_while_the_child_runs(repo, tmp_path, "reproduce", original["run"])
    worktrees = repo / ".git" / "lineage" / "worktrees"
    [left] = [p for p in worktrees.iterdir() if p.is_dir()]
    listed = sh("git", "worktree", "list", "--porcelain", cwd=repo).stdout
    assert f"worktree {left}" in listed

    proc = sh("lineage", "log", cwd=repo)

    assert proc.stderr.splitlines()[0] == (
        "lineage: warning: removed 1 worktree left by a killed `lineage reproduce` "
        f"(.git/lineage/worktrees/{left.name})"
    )
    assert list(worktrees.iterdir()) == []
    listed = sh("git", "worktree", "list", "--porcelain", cwd=repo).stdout
    assert [line for line in listed.splitlines() if line.startswith("worktree ")] == [
        f"worktree {repo}"
    ]
    # Its rerun is lost too, and still a rerun: hidden from `log`, marked with --all.
    assert [e["run"] for e in json.loads(sh("lineage", "log", "--json", cwd=repo).stdout)] == [
        original["run"]
    ]
    [lost] = [
        e
        for e in json.loads(sh("lineage", "log", "--all", "--json", cwd=repo).stdout)
        if e["reproduces"]
    ]
    assert (lost["status"], lost["reproduces"]) == ("LOST", original["run"])


def test_what_a_live_process_owns_is_never_touched(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    lineage_dir = repo / ".git" / "lineage"
    live = lineage_dir / "sessions" / "live"
    claim(live / OWNER, argv=["python", "hold.py"], cwd=".", code={}, started="")
    kept = lineage_dir / "worktrees" / "kept"
    kept.mkdir(parents=True)
    claim(lineage_dir / "worktrees" / "kept.owner")
    empty = lineage_dir / "sessions" / "empty"  # left by a lineage without owner files
    empty.mkdir()

    proc = sh("lineage", "log", cwd=repo)

    assert proc.stderr == ""
    assert live.is_dir() and kept.is_dir() and not empty.exists()


def test_a_reused_pid_is_not_taken_for_the_process_that_owned_it() -> None:
    assert alive(me())
    assert not alive({**me(), "start": "1"})  # the pid now belongs to a later process
    assert not alive({"pid": _dead_pid(), "start": None})
    assert not alive({"pid": "not a pid"})


def test_a_process_of_another_machine_or_container_is_never_judged_gone() -> None:
    """A repository mounted into a container (or shared over NFS) holds owner files whose pids
    mean nothing here: their sessions and worktrees are left alone, not recorded as lost."""
    assert not alive({**me(), "pid": _dead_pid()})
    assert alive({**me(), "pid": _dead_pid(), "host": "another-machine:pid:[4026531836]"})


def test_damaged_owner_files_of_dead_processes_are_cleared_without_a_traceback(
    tmp_path: Path,
) -> None:
    """An owner file half-written or edited by hand: the dead session is still cleared, a
    usable one still recorded as lost, and the command itself answers."""
    repo = _project(tmp_path)
    sessions = repo / ".git" / "lineage" / "sessions"
    dead = {"pid": _dead_pid(), "start": None}
    for name, owner in (
        ("garbled", {**dead, "argv": 5, "started": "yesterday"}),
        ("odd", {**dead, "argv": ["python", "hold.py"], "started": "2026", "cwd": "/etc"}),
    ):
        (sessions / name).mkdir(parents=True)
        (sessions / name / OWNER).write_text(json.dumps(owner))

    proc = sh("lineage", "log", cwd=repo)

    assert proc.stderr == (
        "lineage: warning: recorded 1 run whose lineage process was killed as lost (local-odd); "
        "see `lineage show local-odd`\n"
    )
    assert list(sessions.iterdir()) == []
    [entry] = json.loads(sh("lineage", "log", "--json", cwd=repo).stdout)
    assert (entry["run"], entry["status"]) == ("local-odd", "LOST")
