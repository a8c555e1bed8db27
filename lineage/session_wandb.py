"""The W&B runs a recorded command made, found by the run directories it left.

Every ``wandb.init`` writes a run directory (``wandb/run-*`` online, ``wandb/offline-run-*``
offline) under ``$WANDB_DIR/wandb`` or ``./wandb``, whatever process called it, so listing those
directories before the child and again after it finds every run the command started (several
per process, in subprocesses, a sweep agent's) without touching the user's code and without
forcing ``WANDB_RUN_ID``, which would merge a sweep's runs into one. A run directory whose run
file changed during the command is a run it resumed (``resume=...``).

W&B reads ``WANDB_TAGS`` (a comma-separated list) for runs whose ``wandb.init`` gives no
``tags=``; lineage appends ``lineage:<session>`` to it so a person in W&B's UI can find the
record (``lineage log`` shows the session). A script's own ``tags=`` replaces the variable:
W&B has no other way to add a tag from outside, so such runs are found all the same but carry
no lineage tag (docs/wandb.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lineage.adapters import wandb_runs
from lineage.context import Context
from lineage.errors import LineageError
from lineage.records import WandbRun

TAGS_VARIABLE = "WANDB_TAGS"
TAG_PREFIX = "lineage:"


@dataclass(frozen=True)
class Found:
    runs: tuple[WandbRun, ...] = ()
    warnings: tuple[str, ...] = ()


def listing(ctx: Context) -> dict[Path, int]:
    """Every W&B run directory the command could write to, with its run file's mtime."""
    seen: dict[Path, int] = {}
    for parent in wandb_runs.wandb_dirs(ctx.cwd, ctx.paths.root, ctx.environ):
        seen.update(wandb_runs.run_directories(parent))
    return seen


def tag_variables(environ: Mapping[str, str], session: str) -> dict[str, str]:
    """``WANDB_TAGS`` with the session's tag appended to what the user set."""
    tag = f"{TAG_PREFIX}{session}"
    mine = environ.get(TAGS_VARIABLE, "")
    kept = [t for t in mine.split(",") if t.strip()]
    return {TAGS_VARIABLE: ",".join([*kept, tag])}


def find(ctx: Context, before: Mapping[Path, int]) -> Found:
    """The runs whose directories appeared, or whose run file changed, since ``before``."""
    after = listing(ctx)
    made = sorted(path for path, mtime in after.items() if before.get(path) != mtime)
    if not made:
        return Found()
    runs: list[WandbRun] = []
    warnings: list[str] = []
    for directory in made:
        try:
            read = wandb_runs.read_run(directory, root=ctx.paths.root)
        except LineageError as exc:
            warnings.append(str(exc))
            continue
        runs.append(read.run)
        warnings += read.warnings
    runs.sort(key=lambda r: (r.start_ms or 0, r.run_id))
    return Found(tuple(runs), tuple(warnings))
