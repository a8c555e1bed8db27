"""One line per run: what `lineage log` lists and `lineage impact` shows, as text and JSON."""

from __future__ import annotations

from typing import Any, NamedTuple

from lineage.clock import from_ms
from lineage.documents import run_key_of, short_run, started_ms, wandb_status
from lineage.model_version import ModelVersion
from lineage.run_values import run_values


# The facts of one run's line (a named tuple in its functional form: cheap to create, and
# `lineage log` pays for it on every call). metric: the main metric (name, value).
class LogEntry(NamedTuple):
    record_id: str
    run_key: str
    started_ms: int | None
    status: str
    commit: str | None
    dirty: bool | None
    snapshot: str | None
    metric: tuple[str, float | str] | None
    models: tuple[ModelVersion, ...]
    evidence: str
    reproduces: str | None = None  # a rerun by `lineage reproduce`: the run it reproduces


def log_entry(
    record_id: str, doc: dict[str, Any], main: str | None, reproduces: str | None = None
) -> LogEntry:
    """The log line's facts of one run record; ``main`` is the preferred metric;
    ``reproduces``: the run it reproduces, for a rerun its record does not mark (older ones)."""
    code = doc.get("code") or {}
    return LogEntry(
        record_id=record_id,
        run_key=run_key_of(doc),
        started_ms=started_ms(doc),
        status=status_of(doc),
        commit=code.get("commit"),
        dirty=code.get("dirty"),
        snapshot=code.get("snapshot"),
        metric=main_metric(doc, main),
        models=tuple(ModelVersion(m["name"], int(m["version"])) for m in doc.get("models") or ()),
        evidence=doc.get("evidence", "observed"),
        reproduces=doc.get("reproduces") or reproduces,
    )


def status_of(doc: dict[str, Any]) -> str:
    """MLflow's status of the run, unless lineage saw its command interrupted (INTERRUPTED:
    lineage's own word, whatever MLflow's end-of-run handling managed to write)."""
    run = doc.get("run")
    command = doc.get("command") or {}
    if command.get("status") == "interrupted":
        return "INTERRUPTED"
    if not run and doc.get("wandb"):
        return wandb_status(doc["wandb"])
    if not run:
        return str(command.get("status", "?")).upper()
    return str(run["status"])


def with_later_registrations(
    entries: list[LogEntry], later: dict[str, list[str]]
) -> list[LogEntry]:
    """The entries, each with the versions registered from its run after it was recorded
    (``Index.registered_later``) beside those its record names."""
    if not later:
        return entries
    return [
        e._replace(models=_merged(e.models, later[e.run_key])) if e.run_key in later else e
        for e in entries
    ]


def _merged(models: tuple[ModelVersion, ...], keys: list[str]) -> tuple[ModelVersion, ...]:
    merged = dict.fromkeys(models)
    for key in keys:
        name, _, version = key.partition(":")[2].rpartition("/")
        merged.setdefault(ModelVersion(name, int(version)))
    return tuple(merged)


def main_metric(doc: dict[str, Any], preferred: str | None) -> tuple[str, float | str] | None:
    """The metric to show for a run, by its label (``lineage/run_values.py``): ``preferred``
    ([metrics] main) when the run has it, else MLflow's first by name, else DVC's first."""
    metrics = run_values(doc).metrics
    if preferred and preferred in metrics:
        return preferred, metrics[preferred]
    return next(iter(metrics.items()), None)


def to_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "record_id": entry.record_id,
        "run": entry.run_key,
        "started": _iso_from_ms(entry.started_ms),
        "status": entry.status,
        "commit": entry.commit,
        "dirty": entry.dirty,
        "snapshot": entry.snapshot,
        "metric": {"name": entry.metric[0], "value": entry.metric[1]} if entry.metric else None,
        "models": [str(m) for m in entry.models],
        "evidence": entry.evidence,
        "reproduces": entry.reproduces,
    }


def render_line(entry: LogEntry) -> str:
    moment = from_ms(entry.started_ms)
    when = moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "????-??-?? ??:??"
    commit = (entry.commit or "no-commit")[:10] + ("*" if entry.dirty else " ")
    metric = (
        f"{entry.metric[0]}={entry.metric[1]:.4g}"
        if entry.metric and isinstance(entry.metric[1], float)
        else (f"{entry.metric[0]}={entry.metric[1]}" if entry.metric else "-")
    )
    run = short_run(entry.run_key)
    inferred = "  (inferred)" if entry.evidence != "observed" else ""
    rerun = f"  (rerun of {_short(entry.reproduces)})" if entry.reproduces else ""
    return (
        f"{when}  {run:<12}  {entry.status:<9} {commit} {metric:<22} "
        f"{' '.join(map(str, entry.models))}{inferred}{rerun}"
    ).rstrip()


def _short(run_key: str) -> str:
    return run_key[:18] if run_key.startswith("local-") else run_key[:12]


def _iso_from_ms(ms: int | None) -> str | None:
    from lineage.clock import iso_from_ms  # only --json prints it

    return iso_from_ms(ms) if ms is not None else None
