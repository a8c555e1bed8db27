"""`lineage log`: recorded runs, newest first, one line each (``lineage/summary.py``).

Reruns made by `lineage reproduce` are left out unless asked for: they belong under the run
they reproduced (`lineage show` lists them there), not among the runs that trained models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from lineage.context import Context
from lineage.index import Index
from lineage.summary import LogEntry, log_entry, with_later_registrations

_PAGE = 1000  # entries finished (reruns marked, later registrations added) at a time


class Log(NamedTuple):
    entries: Iterator[LogEntry]  # read as they are printed: a million runs are never all held
    hidden_reruns: int  # reruns left out (0 with all_runs)


def log(ctx: Context, *, limit: int | None = None, all_runs: bool = False) -> Log:
    """The recorded runs, newest first, each with its main metric ([metrics] main); reruns
    only with ``all_runs``, marked with the run they reproduce."""
    index = ctx.index
    hidden = 0 if all_runs else index.rerun_count()
    return Log(_entries(index, ctx.config.main_metric, limit, all_runs), hidden)


def _entries(
    index: Index, main: str | None, limit: int | None, all_runs: bool
) -> Iterator[LogEntry]:
    page: list[LogEntry] = []
    for record_id, doc in index.runs(limit, reruns=all_runs):
        page.append(log_entry(record_id, doc, main))
        if len(page) == _PAGE:
            yield from _finished(index, page, all_runs)
            page = []
    yield from _finished(index, page, all_runs)


def _finished(index: Index, entries: list[LogEntry], all_runs: bool) -> list[LogEntry]:
    """A page of entries with the rerun marks older records lack (``all_runs``) and the versions
    registered from each run after it was recorded."""
    if not entries:
        return entries
    if all_runs:
        unmarked = index.reruns_among([e.run_key for e in entries if e.reproduces is None])
        entries = [
            e._replace(reproduces=unmarked[e.run_key]) if e.run_key in unmarked else e
            for e in entries
        ]
    return with_later_registrations(entries, index.registered_later([e.run_key for e in entries]))
