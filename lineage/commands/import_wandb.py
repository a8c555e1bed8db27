"""`lineage import wandb`: inferred records for W&B runs made before lineage was used.

Reads the local run directories (``wandb/run-*``, ``wandb/offline-run-*``, under the current
directory, the repository root and ``$WANDB_DIR``, or under a path given) as
``lineage/adapters/wandb_runs.py`` does; no W&B server is asked. Each run lineage has no
observed record of gets an **inferred** record, by the rules of ``import mlflow``:

* code: the commit W&B read at init, only when that commit is in this repository; W&B records
  no dirty flag, so ``code.dirty`` is ``null`` (unknown).
* data: never a guessed hash. A run's data is what W&B itself recorded: its artifacts' files,
  whose md5s join DVC's data nodes where the bytes are the same.
* the command from W&B's metadata (the script and its arguments) where W&B saved them.

Idempotent: a run is written again only when what would be recorded changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineage import progress
from lineage.adapters import git, wandb_runs
from lineage.clock import iso_from_ms
from lineage.context import Context
from lineage.errors import LineageError
from lineage.records import INFERRED, Code, Command, RunRecord, WandbRun, encode, same_fact
from lineage.redact import redact_command

SESSION = "wandb-import"


@dataclass
class WandbImport:
    runs_seen: int = 0
    written: int = 0
    unchanged: int = 0
    observed: int = 0
    record_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs_seen": self.runs_seen,
            "written": self.written,
            "unchanged": self.unchanged,
            "observed": self.observed,
            "records": self.record_ids,
            "notes": self.notes,
        }

    def summary(self) -> str:
        return (
            f"imported {self.written} inferred record(s) from {self.runs_seen} W&B run(s); "
            f"{self.unchanged} already imported, {self.observed} observed by lineage kept as "
            "they are"
        )


def import_wandb(ctx: Context, *, path: Path | None = None) -> WandbImport:
    """Write an inferred record for every W&B run directory under ``path`` (else where W&B
    writes them) that lineage did not observe."""
    ctx.require_initialized()
    directories = _run_directories(ctx, path)
    result = WandbImport()
    created = ctx.provenance()
    commits: dict[str, bool] = {}
    pending: list[tuple[str, bytes]] = []
    reads = []
    with progress.bar("reading W&B runs", total=len(directories), unit="runs") as advance:
        for directory in directories:
            advance()
            try:
                reads.append(wandb_runs.read_run(directory, root=ctx.paths.root))
            except LineageError as exc:
                result.notes.append(str(exc))
    # What lineage holds of them, in one query and one git read (not a git per run).
    recorded = ctx.index.records_for_runs([read.run.key for read in reads])
    for read in reads:
        result.notes += read.warnings
        result.runs_seen += 1
        existing = recorded.get(read.run.key, [])
        if any(doc.get("evidence") == "observed" for _, doc in existing):
            result.observed += 1
            continue
        record = _record(ctx, read.run, created, commits)
        if any(same_fact(doc, record) for _, doc in existing):
            result.unchanged += 1
            continue
        pending.append(encode(record))
    if pending:
        ctx.store.append(
            pending, message=f"lineage: import {len(pending)} inferred record(s) from W&B"
        )
    result.written = len(pending)
    result.record_ids = [rid for rid, _ in pending]
    missing = sorted(sha for sha, known in commits.items() if not known)
    if missing:
        result.notes.append(
            f"{len(missing)} commit(s) W&B names are not in this repository "
            f"({', '.join(c[:10] for c in missing[:5])}); those runs were imported without "
            "code: `git fetch` them and import again"
        )
    return result


def _run_directories(ctx: Context, path: Path | None) -> list[Path]:
    """The run directories to read: ``path`` itself when it is one, else those under it (or
    under its ``wandb/``); without a path, those where W&B writes them."""
    if path is None:
        parents = wandb_runs.wandb_dirs(ctx.cwd, ctx.paths.root, ctx.environ)
    else:
        given = (ctx.cwd / path).resolve()
        if not given.is_dir():
            raise LineageError(
                f"{path} is not a directory; give a W&B run directory or the `wandb` directory "
                "that holds them"
            )
        if given.name.startswith(wandb_runs.RUN_PREFIXES):
            return [given]
        parents = [given, given / wandb_runs.DIRECTORY]
    found: set[Path] = set()
    for parent in parents:
        found.update(wandb_runs.run_directories(parent))
    if path is not None and not found:
        raise LineageError(
            f"{path} holds no W&B run directories (run-* or offline-run-*); give the `wandb` "
            "directory a script wrote"
        )
    return sorted(found)


def _record(ctx: Context, run: WandbRun, created: Any, commits: dict[str, bool]) -> RunRecord:
    sha = run.git_commit
    if sha and sha not in commits:
        commits[sha] = len(sha) == 40 and git.has_commit(ctx.paths, sha)
    known = bool(sha and commits[sha])
    return RunRecord(
        evidence=INFERRED,
        session=SESSION,
        code=Code(commit=sha if known else None, dirty=None),
        created=created,
        wandb=run,
        command=_command(run),
    )


def _command(run: WandbRun) -> Command | None:
    """The command as W&B's metadata has it: ``python <script> <args>``; none without a
    script (a notebook, or a run W&B saved no metadata for)."""
    if not run.program:
        return None
    shown = redact_command(["python", run.program, *run.args])
    started = iso_from_ms(run.start_ms) if run.start_ms is not None else ""
    ended_ms = (
        run.start_ms + int(run.runtime_s * 1000)
        if run.start_ms is not None and run.runtime_s is not None
        else None
    )
    return Command(
        argv=shown.argv,
        redacted=shown.redacted,
        cwd=".",
        exit_code=run.exit_code,
        status=_status(run.exit_code),
        started=started,
        ended=iso_from_ms(ended_ms) if ended_ms is not None else started,
        duration_s=run.runtime_s or 0.0,
    )


def _status(exit_code: int | None) -> str:
    if exit_code is None:  # W&B wrote no end: the process died, or the run is still going
        return "killed"
    return "succeeded" if exit_code == 0 else "failed"
