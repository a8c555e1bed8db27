"""Pure: a run's params and metrics from every source its record holds, each labelled with
where it came from, so that log, diff, audit and reproduce show and compare them alike.

- MLflow's keep their own names (``alpha``, ``roc_auc``).
- DVC's are ``<file>:<key>``, as DVC itself qualifies them (`dvc exp show --keep
  'params.yaml:train.*'`): the params the executed stages read, from dvc.lock
  (``params.yaml:train.n_est``), and the values of their metrics files
  (``eval/metrics.json:avg_prec``; a file holding one bare value is just ``<file>``). Nested
  params are joined with dots, as DVC shows them; lists as DVC prints them (``[1, 2]``).
- A run with both keeps both. MLflow allows ``:`` and ``/`` in names, so an MLflow name spelt
  exactly like one of the run's DVC labels is shown as ``mlflow:<name>``: no label ever stands
  for two values.

Reads the record's JSON document (what the index hands out), standard library only: `lineage
log` calls it for every line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

MLFLOW = "mlflow:"  # in front of an MLflow name that would read as a DVC label


class RunValues(NamedTuple):
    """Label -> value; MLflow's first, by name, then DVC's, by label."""

    params: dict[str, Any]
    metrics: dict[str, Any]


def run_values(doc: Mapping[str, Any]) -> RunValues:
    """The params and metrics of a run record document, from MLflow (or W&B: its config and
    final summary) and its DVC stages."""
    run = doc.get("run") or doc.get("wandb") or {}
    params: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    for stage in doc.get("stages") or ():
        for file, values in (stage.get("params") or {}).items():
            for key, value in _flat(values, ""):
                params.setdefault(dvc_label(file, key), value)
        for file, values in (stage.get("metrics") or {}).items():
            for key, value in values.items():
                metrics.setdefault(dvc_label(file, key), value)
    return RunValues(
        _merge(run.get("params") or {}, params),
        _merge(run.get("metrics") or {}, metrics),
    )


def dvc_label(file: str, key: str) -> str:
    """How a value of a DVC params or metrics file is named: ``file:key`` (``file`` for a file
    holding one bare value)."""
    return f"{file}:{key}" if key else file


def _flat(values: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """dvc.lock's key -> value, a section's keys joined with dots; anything but a number,
    boolean or string in DVC's spelling (`dvc params diff` prints ``str(value)``)."""
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flat(value, name + ".")
        elif isinstance(value, bool | int | float | str):
            yield name, value
        else:
            yield name, str(value)


def _merge(mlflow: Mapping[str, Any], dvc: Mapping[str, Any]) -> dict[str, Any]:
    if not dvc:
        return dict(sorted(mlflow.items()))
    taken = set(dvc) | set(mlflow)
    merged = {}
    for name in sorted(mlflow):
        label = name
        if name in dvc:
            label = MLFLOW + name
            while label in taken:
                label = MLFLOW + label
            taken.add(label)
        merged[label] = mlflow[name]
    merged.update(sorted(dvc.items()))
    return merged
