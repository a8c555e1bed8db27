"""Tags every MLflow run a process starts with the code it ran (MLflow's run context plugin API).

MLflow loads this through the ``mlflow.run_context_provider`` entry point and asks it for tags at
every ``mlflow.start_run``: grid searches, parents and nested runs alike. Under ``lineage run`` the
wrapper passes the session, commit and snapshot in ``LINEAGE_*`` variables; in a repository where
lineage is set up but the wrapper was not used, the run still gets the commit and a dirty flag.

Nothing here may raise: an exception from a context provider would break the user's training.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping

# Only MLflow imports this module (entry point), so mlflow is loaded already: no cost to lineage.
from mlflow.tracking.context.abstract_context import RunContextProvider

_GIT_TIMEOUT = 10.0
_toplevel: dict[str, str | None] = {}  # cwd -> work tree root, once per process
_environment_written_by: int | None = None  # pid that wrote environment-<pid>.json


def _git(args: list[str], cwd: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _work_tree_root(cwd: str) -> str | None:
    if cwd not in _toplevel:
        out = _git(["rev-parse", "--show-toplevel"], cwd)
        _toplevel[cwd] = (out.strip() or None) if out is not None else None
    return _toplevel[cwd]


def _lineage_initialised(cwd: str) -> bool:
    root = _work_tree_root(cwd)
    return root is not None and os.path.isfile(os.path.join(root, ".lineage", "config.toml"))


def _wrapper_tags(environ: Mapping[str, str]) -> dict[str, str]:
    names = {
        "lineage.session": "LINEAGE_SESSION",
        "lineage.commit": "LINEAGE_COMMIT",
        "lineage.snapshot": "LINEAGE_SNAPSHOT",
        "lineage.dirty": "LINEAGE_DIRTY",
        "lineage.reproduces": "LINEAGE_REPRODUCES",  # `lineage reproduce`: the original run
    }
    tags = {tag: environ[var] for tag, var in names.items() if environ.get(var)}
    if environ.get("LINEAGE_RUN_NAME"):
        # `lineage run --run-name`: a name the script passes to start_run() still wins, since
        # MLflow applies the user's tags over the context providers'.
        tags["mlflow.runName"] = environ["LINEAGE_RUN_NAME"]
    return tags


def _observed_tags(cwd: str) -> dict[str, str]:
    """HEAD and a dirty flag from one `git status`, for runs started without the wrapper."""
    out = _git(["status", "--porcelain=v2", "--branch", "--untracked-files=no"], cwd)
    if out is None:
        return {}
    lines = out.splitlines()
    tags = {"lineage.observed": "tags-only"}
    for line in lines:
        if line.startswith("# branch.oid ") and line.split()[2] != "(initial)":
            tags["lineage.commit"] = line.split()[2]
    tags["lineage.dirty"] = "true" if any(not ln.startswith("#") for ln in lines) else "false"
    return tags


def _write_environment(directory: str) -> None:
    """Leave the training interpreter's environment where `lineage run` will read it."""
    global _environment_written_by
    pid = os.getpid()
    if _environment_written_by == pid:
        return
    _environment_written_by = pid
    # First a marker: `lineage run` skips its MLflow lookup (a second or more) only when no
    # process of its session reached this point, so write it before anything that may fail.
    from lineage.session import environment_name, marker_name

    with open(os.path.join(directory, marker_name(pid)), "w", encoding="utf-8"):
        pass
    from lineage.environment import capture, to_json

    text = to_json(capture())
    fd, temporary = tempfile.mkstemp(prefix=f".environment-{pid}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, os.path.join(directory, environment_name(pid)))
    except BaseException:
        os.unlink(temporary)
        raise


class LineageRunContextProvider(RunContextProvider):
    def in_context(self) -> bool:
        try:
            return bool(os.environ.get("LINEAGE_SESSION")) or _lineage_initialised(os.getcwd())
        except Exception:
            return False

    def tags(self) -> dict[str, str]:
        try:
            if directory := os.environ.get("LINEAGE_SESSION_DIR"):
                _write_environment(directory)
        except Exception:
            pass
        try:
            if os.environ.get("LINEAGE_SESSION"):
                return _wrapper_tags(os.environ)
            return _observed_tags(os.getcwd())
        except Exception:
            return {}
