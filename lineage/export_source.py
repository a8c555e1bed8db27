"""What the exports (``lineage export prov``, ``lineage export openlineage``) say: records
sorted into runs (one representative record each, chosen as the index chooses), registrations,
attachments and reproductions. ``lineage export prov`` reads every valid record in the store
at once; ``lineage export openlineage`` sorts a page of runs at a time, with the records they
need (commands/export_openlineage.py). Pure but for the store read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lineage import progress
from lineage.context import Context, skipped_record
from lineage.documents import run_key_of, run_rank
from lineage.errors import CorruptRecordError

Doc = dict[str, Any]


@dataclass(frozen=True)
class Records:
    tip: str | None  # the store's tip they were read at
    runs: dict[str, tuple[str, Doc]] = field(default_factory=dict)  # run key -> (id, record)
    registrations: tuple[tuple[str, Doc], ...] = ()
    attachments: tuple[tuple[str, Doc], ...] = ()
    reproductions: tuple[tuple[str, Doc], ...] = ()

    def total(self) -> int:
        return (
            len(self.runs)
            + len(self.registrations)
            + len(self.attachments)
            + len(self.reproductions)
        )


def sort_records(tip: str | None, found: Iterable[tuple[str, Doc]]) -> Records:
    """Records by kind; of a run's several records (observed and inferred, rewritten) the one
    every command shows: observed over inferred, then the newest."""
    runs: dict[str, tuple[str, Doc]] = {}
    others: dict[str, list[tuple[str, Doc]]] = {"registration": [], "attachment": []}
    others["reproduction"] = []
    for record_id, doc in sorted(found):
        kind = doc.get("kind")
        if kind == "run":
            key = run_key_of(doc)
            held = runs.get(key)
            if held is None or run_rank(doc, record_id) > run_rank(held[1], held[0]):
                runs[key] = (record_id, doc)
        elif kind in others:
            others[str(kind)].append((record_id, doc))
    return Records(
        tip,
        dict(sorted(runs.items())),
        tuple(others["registration"]),
        tuple(others["attachment"]),
        tuple(others["reproduction"]),
    )


def read_records(ctx: Context) -> Records:
    """Every valid record at the store's tip; invalid or corrupted ones are skipped with the
    warning every reader gives."""
    from lineage.records import decode

    store = ctx.store
    tip = store.checked_tip()
    if tip is None:
        return Records(None)
    written = store.written_names()
    found: list[tuple[str, Doc]] = []
    leaves = store.leaves(tip, in_pack_order=True)
    with progress.bar("reading records", total=len(leaves), unit="records") as advance:
        for name, _, blob in store.entries(tip, leaves):
            try:
                found.append((name, decode(name, blob, trusted=name in written)))
            except CorruptRecordError as exc:
                ctx.warn(skipped_record(name, exc.reason))
            advance()
    return sort_records(tip, found)


def data_identity(data: Doc) -> str:
    """What a data entry is known by in the exports: DVC's md5 (``….dir`` for a directory), or
    the digest a record holds in its place (a Git LFS ``sha256:…`` oid joins here)."""
    return str(data.get("oid") or data["md5"])
