"""`lineage log`: recorded runs, newest first, one line each (``lineage/summary.py``).

Reruns made by `lineage reproduce` are left out unless asked for: they belong under the run
they reproduced (`lineage show` lists them there), not among the runs that trained models."""

from __future__ import annotations

from typing import NamedTuple

from lineage.context import Context
from lineage.summary import LogEntry, log_entry, with_later_registrations


class Log(NamedTuple):
    entries: list[LogEntry]
    hidden_reruns: int  # reruns left out (0 with all_runs)


def log(ctx: Context, *, limit: int | None = None, all_runs: bool = False) -> Log:
    """The recorded runs, newest first, each with its main metric ([metrics] main); reruns
    only with ``all_runs``, marked with the run they reproduce."""
    main = ctx.config.main_metric
    index = ctx.index
    rows = list(index.runs(limit, reruns=all_runs))
    entries = [log_entry(record_id, doc, main) for record_id, doc in rows]
    if all_runs:
        unmarked = index.reruns_among([e.run_key for e in entries if e.reproduces is None])
        entries = [
            e._replace(reproduces=unmarked[e.run_key]) if e.run_key in unmarked else e
            for e in entries
        ]
    later = index.registered_later([e.run_key for e in entries])
    return Log(with_later_registrations(entries, later), 0 if all_runs else index.rerun_count())
