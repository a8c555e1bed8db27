"""`lineage export prov`: every recorded run as a W3C PROV document (PROV-JSON, PROV-N or
PROV-O Turtle). `lineage export openlineage` lives in ``commands/export_openlineage.py``."""

from __future__ import annotations

from dataclasses import dataclass

from lineage import progress
from lineage.context import Context
from lineage.export_source import read_records

PROV_FORMATS = ("json", "provn", "turtle")


@dataclass(frozen=True)
class ProvExport:
    text: bytes
    runs: int
    entities: int
    activities: int
    agents: int


def export_prov(ctx: Context, *, fmt: str = "json") -> ProvExport:
    """The PROV document of every run in the store, serialised in ``fmt``."""
    from prov.model import ProvActivity, ProvAgent, ProvEntity

    from lineage import prov_export

    records = read_records(ctx)
    # Building the document is most of the time (~0.3 ms a run); writing it out is one call
    # into prov, with nothing to count.
    with progress.bar("describing runs in PROV", total=len(records.runs), unit="runs") as advance:
        doc = prov_export.to_prov(records, advance)
    return ProvExport(
        prov_export.serialize(doc, fmt),
        runs=len(records.runs),
        entities=len(list(doc.get_records(ProvEntity))),
        activities=len(list(doc.get_records(ProvActivity))),
        agents=len(list(doc.get_records(ProvAgent))),
    )
