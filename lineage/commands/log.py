"""`lineage log`: recorded runs, newest first, one line each (``lineage/summary.py``)."""

from __future__ import annotations

from lineage.context import Context
from lineage.summary import LogEntry, log_entry


def log(ctx: Context, *, limit: int | None = None) -> list[LogEntry]:
    """The recorded runs, newest first, each with its main metric ([metrics] main)."""
    main = ctx.config.main_metric
    return [log_entry(record_id, doc, main) for record_id, doc in ctx.index.runs(limit)]
