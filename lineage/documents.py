"""Facts read from stored record documents: the JSON the index hands out, read as it is rather
than decoded into ``lineage/records.py``'s dataclasses (which costs a query ~10 ms of imports)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WANDB_PREFIX = "wandb:"  # in front of a W&B run's key: ``wandb:<project>/<runid>``


def run_key_of(doc: Mapping[str, Any]) -> str:
    """The run node's identity: the MLflow run id, ``wandb:<project>/<runid>`` for a W&B run
    (records.WandbRun.key), or ``local-<session>`` without either."""
    run = doc.get("run")
    if run:
        return str(run["run_id"])
    wandb = doc.get("wandb")
    if wandb:
        return f"{WANDB_PREFIX}{wandb['project']}/{wandb['run_id']}"
    return f"local-{doc['session']}"


def short_run(run_key: str) -> str:
    """A run key as lines print it: an MLflow run id's first 12 digits, ``local-`` and 12 of
    the session's, a W&B key whole (it is short, and its run id is at the end)."""
    if run_key.startswith(WANDB_PREFIX):
        return run_key
    return run_key[:18] if run_key.startswith("local-") else run_key[:12]


def wandb_status(wandb: dict[str, Any]) -> str:
    """A W&B run's end in MLflow's words: its exit record's code, or RUNNING without one (the
    run is going on, or its process died before W&B wrote the end)."""
    code = wandb.get("exit_code")
    if code is None:
        return "RUNNING"
    return "FINISHED" if code == 0 else "FAILED"


def run_label(run_key: str) -> str:
    """A run key in a list of runs: a W&B key whole, any other its first 12 characters."""
    return run_key if run_key.startswith(WANDB_PREFIX) else run_key[:12]


def run_rank(doc: Mapping[str, Any], record_id: str) -> str:
    """Orders a run's records: observed over inferred, then newer, then the larger id."""
    observed = "1" if doc.get("evidence") == "observed" else "0"
    return f"{observed}|{created_at(doc)}|{record_id}"


def created_at(doc: Mapping[str, Any]) -> str:
    """When the record was written (ISO 8601 UTC), "" when it does not say."""
    return str((doc.get("created") or {}).get("at") or "")


def started_ms(doc: Mapping[str, Any]) -> int | None:
    """When the run started: MLflow's start time, else the command's; None for a time past
    what a 64-bit integer (MLflow's column, SQLite's) holds: the schema bounds no integer, and
    a record from elsewhere that says 2**70 must not stop the index from taking it."""
    run = doc.get("run") or doc.get("wandb") or {}
    if run.get("start_ms") is not None:
        start = int(run["start_ms"])
        return start if -(2**63) <= start < 2**63 else None
    command = doc.get("command") or {}
    if command.get("started"):
        from datetime import datetime

        return int(datetime.fromisoformat(command["started"]).timestamp() * 1000)
    return None


def start_order(run_key: str, doc: Mapping[str, Any]) -> tuple[bool, int, str]:
    """Orders runs oldest first, by :func:`started_ms` (runs without one first), then by run
    key: what ``ORDER BY started_ms, key`` gives in the index (``Index.runs_by_start``)."""
    started = started_ms(doc)
    return started is not None, started or 0, run_key


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
