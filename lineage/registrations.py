"""Model versions registered from a recorded run after its record was written.

MLflow's normal workflow registers a model after training: ``mlflow.register_model(
"runs:/<id>/model", ...)``, the UI, a later ``log_model``. The run's record cannot name such a
version, so the commands that show models (show, graph, impact, diff, audit) first catch up: one
read of the registry lists every version with the run it came from (a SQLite registry is read
directly, a server through REST), and each version whose run lineage recorded but whose edge is
missing becomes a ``registration`` record. Records travel with `lineage push`, so a teammate,
or this clone offline, answers with what the last catch-up learnt. When the registry cannot be
read the command still answers, and says since when its knowledge of the registry dates.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lineage.clock import iso, iso_from_ms, utc_now
from lineage.context import Context
from lineage.edges import model_key, model_of_key
from lineage.errors import LineageError
from lineage.index import Index
from lineage.model_version import ModelVersion
from lineage.redact import redact_uri

if TYPE_CHECKING:
    from lineage.records import Registration

READ_LOG = "registry-read.json"  # in the lineage directory: registry -> when last read


@dataclass(frozen=True)
class CatchUp:
    written: int = 0
    note: str | None = None  # the registry could not be read: how stale the answer may be


def catch_up(ctx: Context) -> CatchUp:
    """Record every version registered from a recorded run that no record links to it yet."""
    if not ctx.index.has_runs():
        return CatchUp()  # nothing recorded: no version can be one of ours
    from lineage.adapters import mlflow_registry

    registry = redact_uri(ctx.mlflow.registry)
    try:
        sources = mlflow_registry.version_sources(ctx.mlflow)
    except LineageError as exc:
        last = _last_read(ctx, registry)
        since = f" since it was last read at {last}" if last else ""
        return CatchUp(
            note=(
                f"the model registry {registry} could not be read ({exc}); versions registered "
                f"after training{since} may be missing from this answer"
            )
        )
    created = {version: ms for version, _, ms in sources}
    pairs = [(run_id, model_key(v.name, v.version)) for v, run_id, _ in sources]
    new = [(run, model_of_key(key)) for run, key in ctx.index.unlinked(pairs)]
    if new:
        # Only writing needs the record types (lineage.records: ~50 ms of dataclasses to
        # import), which `impact` and `show` would otherwise pay on every call.
        from lineage.records import encode

        records = build(ctx, new, created)
        ctx.store.append(
            [encode(r) for r in records],
            message=f"lineage: record {len(records)} later model registration(s)",
        )
        ctx.index.refresh()
    _remember_read(ctx, registry)
    return CatchUp(written=len(new))


def unrecorded(
    index: Index, run_id: str, versions: Sequence[ModelVersion]
) -> list[tuple[str, ModelVersion]]:
    """The (run, version) pairs of ``versions`` registered from ``run_id`` that no record links
    to the run yet."""
    pairs = [(run_id, model_key(v.name, v.version)) for v in versions]
    return [(run, model_of_key(key)) for run, key in index.unlinked(pairs)]


def build(
    ctx: Context,
    found: Iterable[tuple[str, ModelVersion]],
    created_ms: dict[ModelVersion, int | None],
) -> list[Registration]:
    """One registration record per (run, version)."""
    from lineage.records import OBSERVED, Registration

    provenance = ctx.provenance()
    registry = redact_uri(ctx.mlflow.registry)
    return [
        Registration(
            evidence=OBSERVED,
            created=provenance,
            run=run,
            model=version,
            registered=iso_from_ms(created_ms.get(version)),
            registry=registry,
        )
        for run, version in found
    ]


def _log_path(ctx: Context) -> str:
    return str(ctx.paths.lineage_dir / READ_LOG)


def _last_read(ctx: Context, registry: str) -> str | None:
    try:
        with open(_log_path(ctx), encoding="utf-8") as f:
            value = json.load(f).get(registry)
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _remember_read(ctx: Context, registry: str) -> None:
    """When this registry was last read; a note for later offline answers, never essential.
    A time less than ``_READ_LOG_GRAIN`` old is kept as it is: a query does not rewrite the
    file each time, and the note it feeds errs early (it may name more versions as possibly
    missing), never late."""
    path = _log_path(ctx)
    try:
        with open(path, encoding="utf-8") as f:
            log = json.load(f)
        if not isinstance(log, dict):
            log = {}
    except (OSError, ValueError):
        log = {}
    now = utc_now()
    if _recent(log.get(registry), now):
        return
    log[registry] = iso(now)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(log, f, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temporary)


_READ_LOG_GRAIN = timedelta(minutes=1)


def _recent(written: object, now: datetime) -> bool:
    """Whether ``written`` (a time this log holds) is at most a grain before ``now``."""
    if not isinstance(written, str):
        return False
    try:
        then = datetime.fromisoformat(written)
    except ValueError:
        return False
    return then.tzinfo is not None and timedelta(0) <= now - then <= _READ_LOG_GRAIN
