"""Where one lineage command spends its time: ``python bench/phases.py run -- python train.py``.

Runs ``lineage ARGS`` in this process with timers around lineage's own phase functions (imports,
git and DVC capture, the child, reading MLflow back, the append) and prints a timeline to stderr,
in ms after interpreter start-up (every lineage module is imported up front, so the first
rows are import costs). A profiling aid for goal misses, not a benchmark: the timers
wrap private functions, and a name that no longer exists is skipped.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

T0 = time.perf_counter()
MARKS: list[tuple[str, float, float]] = []

WRAPPED = {
    "lineage.commands.run": (
        "run",
        "_resolve_executable",
        "_capture_code",
        "_capture_data",
        "_run_child",
        "_pipeline_data",
        "_environment",
    ),
    "lineage.adapters.mlflow": (
        "check_reachable",
        "find_session_runs",
        "registered_versions",
        "set_tags",
        "_quiet_mlflow",
        "_client",
    ),
    "lineage.adapters.git": (
        "discover",
        "head",
        "dirt",
        "snapshot",
        "identity",
        "commit_summary",
        "resolve_commit_prefix",
    ),
    "lineage.adapters.dvc": (
        "find_pointer_files",
        "read_dvc_file",
        "read_dvc_lock",
        "check_workspace",
    ),
    "lineage.environment": ("capture_interpreter",),
    "lineage.config": ("load",),
    "lineage.index": ("open_index",),
    "lineage.commands.show": ("show",),
    "lineage.commands.log": ("log",),
}


class _TimedEnter:
    """A context manager whose ``__enter__`` is timed (where @contextmanager bodies run)."""

    def __init__(self, label: str, inner: Any) -> None:
        self.label, self.inner = label, inner

    def __enter__(self) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.__enter__()
        finally:
            MARKS.append((f"{self.label} (enter)", start - T0, time.perf_counter() - start))

    def __exit__(self, *exc: Any) -> Any:
        return self.inner.__exit__(*exc)


def _timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        finally:
            MARKS.append((label, start - T0, time.perf_counter() - start))
        if isinstance(result, contextlib.AbstractContextManager) and hasattr(result, "gen"):
            return _TimedEnter(label, result)
        return result

    return wrapper


def _import(name: str) -> Any:
    start = time.perf_counter()
    module = importlib.import_module(name)
    MARKS.append((f"import {name}", start - T0, time.perf_counter() - start))
    return module


def instrument() -> Any:
    cli = _import("lineage.cli")
    for module_name, functions in WRAPPED.items():
        module = _import(module_name)
        for name in functions:
            if hasattr(module, name):
                setattr(
                    module,
                    name,
                    _timed(f"{module_name.rpartition('.')[2]}.{name}", getattr(module, name)),
                )
    store = importlib.import_module("lineage.adapters.store")
    store.Store.append = _timed("store.Store.append", store.Store.append)
    index = importlib.import_module("lineage.index")
    index.Index.refresh = _timed("index.Index.refresh", index.Index.refresh)
    return cli


def main(argv: list[str]) -> int:
    cli = instrument()
    code = 0
    try:
        cli.main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        total = time.perf_counter() - T0
        print(f"\n{'phase':44} {'start ms':>9} {'took ms':>9}", file=sys.stderr)
        for label, start, took in sorted(MARKS, key=lambda m: m[1]):
            print(f"{label:44} {start * 1000:9.1f} {took * 1000:9.1f}", file=sys.stderr)
        print(f"{'(end of main)':44} {total * 1000:9.1f}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
