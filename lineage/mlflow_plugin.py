"""Tags every MLflow run a process starts with the code it ran (MLflow's run context plugin API).

MLflow loads this through the ``mlflow.run_context_provider`` entry point and asks it for tags at
every ``mlflow.start_run``: grid searches, parents and nested runs alike. Under ``lineage run`` the
wrapper passes the session, commit and snapshot in ``LINEAGE_*`` variables; in a repository where
lineage is set up but the wrapper was not used, the run still gets the commit and a dirty flag.

Under ``lineage run`` it also tells the wrapper where each run went (``lineage/session.py``): the
store of every run it is asked about, the DVC stage it ran in (``DVC_STAGE``, also tagged
``lineage.stage``), and, when MLflow registers the provider (at
``import mlflow``), a run the process will resume through ``MLFLOW_RUN_ID``. That is how
`mlflow run` hands its run to the entry point, and MLflow asks no provider about such a run.

Nothing here may raise: an exception from a context provider would break the user's training.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

# Only MLflow imports this module (entry point), so mlflow is loaded already: no cost to lineage.
from mlflow.tracking.context.abstract_context import RunContextProvider

_GIT_TIMEOUT = 10.0
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_toplevel: dict[str, str | None] = {}  # cwd -> work tree root, once per process
_environment_written_by: int | None = None  # pid that wrote environment-<pid>.json
_runs_started = 0  # runs this process started, numbering its store-<pid>-<n>.json files


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
    if environ.get("DVC_STAGE"):
        # DVC sets it for a stage's command (dvc/stage/run.py), and subprocesses inherit it:
        # the run is that stage's, and `lineage run` records it with that stage's data.
        tags["lineage.stage"] = environ["DVC_STAGE"]
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
    changed = [_changed_path(ln) for ln in lines if not ln.startswith("#")]
    if changed:
        from lineage.adapters.tool_stores import ToolStores  # a few string checks, no imports

        stores = ToolStores()
        changed = [p for p in changed if p is None or not stores.holds(p)]
    tags["lineage.dirty"] = "true" if changed else "false"
    return tags


def _changed_path(line: str) -> str | None:
    """The path of a `git status --porcelain=v2` entry (None for a form not known here, which
    then counts as a change): a tracked tool store that changed (a committed mlflow.db) is
    not a code change."""
    fields = {"1": 8, "2": 9, "u": 10}.get(line[:1])
    if fields is None:
        return None
    parts = line.split(" ", fields)
    return parts[fields].split("\t")[0] if len(parts) > fields else None


def _write_atomically(directory: str, name: str, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        os.unlink(temporary)
        raise


def _store(uri: str | None) -> str | None:
    """The store as the wrapper must read it: absolute (the child may run elsewhere) and
    without credentials, which never leave the child."""
    if not uri:
        return None
    from lineage.adapters.mlflow_uri import absolute
    from lineage.redact import redact_uri

    return redact_uri(absolute(uri, Path(os.getcwd())))


def _note_started_run(directory: str) -> None:
    """Leave the store this run goes to: the script may have chosen its own."""
    global _runs_started
    import mlflow

    from lineage.session import StoreUse, store_name

    _runs_started += 1
    use = StoreUse(
        _store(mlflow.get_tracking_uri()),
        _store(mlflow.get_registry_uri()),
        _asked_by_start_run(),
        os.environ.get("DVC_STAGE") or None,
    )
    _write_atomically(directory, store_name(os.getpid(), _runs_started), use.to_json())


def _asked_by_start_run() -> bool:
    """Whether MLflow asks for these tags to start a run (``mlflow.start_run``), rather than for
    a logged model or a trace, which ask too but make no run."""
    try:
        frame: FrameType | None = sys._getframe(3)  # tags() <- resolve_tags() <- its caller
    except ValueError:  # not called through MLflow's resolve_tags
        return False
    for _ in range(4):
        if frame is None:
            return False
        if frame.f_code.co_name == "start_run":
            return True
        frame = frame.f_back
    return False


def _note_resumed_run(directory: str, environ: Mapping[str, str]) -> None:
    """A run this process will resume (``MLFLOW_RUN_ID``), and the store it lives in."""
    from lineage.session import StoreUse, resumed_name

    run_id = environ["MLFLOW_RUN_ID"]
    if not _RUN_ID.fullmatch(run_id):
        return  # not an id MLflow makes: it could not name a file safely either
    _write_environment(directory)  # no tags() call will come for this run
    use = StoreUse(
        _store(environ.get("MLFLOW_TRACKING_URI")),
        _store(environ.get("MLFLOW_REGISTRY_URI")),
        stage=environ.get("DVC_STAGE") or None,
    )
    _write_atomically(directory, resumed_name(run_id), use.to_json())


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

    _write_atomically(directory, environment_name(pid), to_json(capture()))


class LineageRunContextProvider(RunContextProvider):
    def __init__(self) -> None:
        # MLflow makes one provider per process, when it registers the entry points.
        super().__init__()
        try:
            directory = os.environ.get("LINEAGE_SESSION_DIR")
            if directory and os.environ.get("MLFLOW_RUN_ID"):
                _note_resumed_run(directory, os.environ)
        except Exception:
            pass

    def in_context(self) -> bool:
        try:
            return bool(os.environ.get("LINEAGE_SESSION")) or _lineage_initialised(os.getcwd())
        except Exception:
            return False

    def tags(self) -> dict[str, str]:
        try:
            if directory := os.environ.get("LINEAGE_SESSION_DIR"):
                _write_environment(directory)
                _note_started_run(directory)
        except Exception:
            pass
        try:
            if os.environ.get("LINEAGE_SESSION"):
                return _wrapper_tags(os.environ)
            return _observed_tags(os.getcwd())
        except Exception:
            return {}
