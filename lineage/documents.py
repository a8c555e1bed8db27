"""Facts read from stored record documents: the JSON the index hands out, read as it is rather
than decoded into ``lineage/records.py``'s dataclasses (which costs a query ~10 ms of imports)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def run_key_of(doc: Mapping[str, Any]) -> str:
    """The run node's identity: the MLflow run id, or ``local-<session>`` without one."""
    run = doc.get("run")
    return str(run["run_id"]) if run else f"local-{doc['session']}"


def run_rank(doc: Mapping[str, Any], record_id: str) -> str:
    """Orders a run's records: observed over inferred, then newer, then the larger id."""
    observed = "1" if doc.get("evidence") == "observed" else "0"
    return f"{observed}|{created_at(doc)}|{record_id}"


def created_at(doc: Mapping[str, Any]) -> str:
    """When the record was written (ISO 8601 UTC), "" when it does not say."""
    return str((doc.get("created") or {}).get("at") or "")


def started_ms(doc: Mapping[str, Any]) -> int | None:
    """When the run started: MLflow's start time, else the command's."""
    run = doc.get("run") or {}
    if run.get("start_ms") is not None:
        return int(run["start_ms"])
    command = doc.get("command") or {}
    if command.get("started"):
        from datetime import datetime

        return int(datetime.fromisoformat(command["started"]).timestamp() * 1000)
    return None


def main_metric(
    metrics: Mapping[str, float | str], preferred: str | None
) -> tuple[str, float | str] | None:
    """The metric to show for a run: ``preferred`` ([metrics] main) when the run has it, else
    the first by name."""
    if preferred and preferred in metrics:
        return preferred, metrics[preferred]
    if metrics:
        name = sorted(metrics)[0]
        return name, metrics[name]
    return None
