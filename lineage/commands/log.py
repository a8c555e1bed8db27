"""`lineage log`: recorded runs, newest first, one line each (``lineage/summary.py``)."""

from __future__ import annotations

from lineage.context import Context
from lineage.summary import LogEntry, log_entry, with_later_registrations


def log(ctx: Context, *, limit: int | None = None) -> list[LogEntry]:
    """The recorded runs, newest first, each with its main metric ([metrics] main)."""
    main = ctx.config.main_metric
    entries = [log_entry(record_id, doc, main) for record_id, doc in ctx.index.runs(limit)]
    later = ctx.index.registered_later([e.run_key for e in entries])
    return with_later_registrations(entries, later)
