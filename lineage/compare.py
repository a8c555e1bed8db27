"""Judging a rerun against the original run it reproduces: pure functions over records.

A metric or param is ``exact`` (the same bits), ``within`` a tolerance, ``differs``,
``missing`` from the rerun or ``new`` in it; params and metrics come from every source a record
holds (MLflow's, and the DVC stages' params and metrics files), labelled by
``lineage/run_values.py``. DVC outputs compare by md5, except metrics files whose values were
recorded: those are judged by their values, within the tolerance. The verdict is
``reproduced`` when nothing differs or is missing, ``differs`` otherwise, and ``failed`` when
the rerun exited non-zero or made no MLflow run to compare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lineage.errors import EXIT_DIFFERS, EXIT_RERUN_FAILED
from lineage.records import DIFFERS, FAILED, REPRODUCED, Check, MlflowRun, RunRecord, to_dict
from lineage.run_values import RunValues, run_values


def same_value(a: float | str, b: float | str) -> bool:
    """Exactly equal: the same float bits (so 0.0 and -0.0 differ), or the same string."""
    return type(a) is type(b) and repr(a) == repr(b)


def compare_values(
    original: Mapping[str, float | str],
    rerun: Mapping[str, float | str],
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> list[Check]:
    """Compare by name: exact, within |rerun - original| <= atol + rtol * |original|, differs;
    missing from the rerun, or new in it."""
    checks = []
    for name in sorted(original):
        a = original[name]
        if name not in rerun:
            checks.append(Check(name, a, None, "missing"))
            continue
        b = rerun[name]
        if same_value(a, b):
            status = "exact"
        elif (
            isinstance(a, float | int)
            and isinstance(b, float | int)
            and math.isfinite(a)
            and math.isfinite(b)
            and abs(b - a) <= atol + rtol * abs(a)
        ):
            status = "within"
        else:
            status = "differs"
        checks.append(Check(name, a, b, status))
    checks.extend(
        Check(name, None, rerun[name], "new") for name in sorted(set(rerun) - set(original))
    )
    return checks


def counterpart(original: MlflowRun | None, reruns: Sequence[RunRecord]) -> RunRecord | None:
    """The rerun's counterpart of the original run: the only one, else the one with the same
    params (a grid search reruns every combination), else the same run name."""
    with_runs = [r for r in reruns if r.run is not None]
    if not with_runs:
        return None if original is not None else (reruns[0] if reruns else None)
    if original is None or len(with_runs) == 1:
        return with_runs[0]
    pool = [r for r in with_runs if r.run and r.run.params == original.params] or with_runs
    same_parent = [
        r for r in pool if r.run and bool(r.run.parent_run_id) == bool(original.parent_run_id)
    ]
    pool = same_parent or pool
    named = [r for r in pool if r.run and r.run.name == original.name]
    return (named or pool)[0]


def values_of(record: RunRecord) -> RunValues:
    """A record's params and metrics from every source, labelled (``lineage/run_values.py``)."""
    return run_values(to_dict(record))


@dataclass(frozen=True)
class Judgement:
    verdict: str  # reproduced, differs, failed
    exit_code: int  # `lineage reproduce`'s: 0, 4 (differs) or 5 (the rerun failed)
    metrics: list[Check] = field(default_factory=list)
    params: list[Check] = field(default_factory=list)
    outputs: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def judge(
    original: RunRecord,
    rerun: RunRecord | None,
    rerun_exit: int | None,
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
    judged_metrics: Sequence[str] = (),
) -> Judgement:
    """The verdict on a rerun: metrics within the tolerances, params exactly, every recorded
    DVC output by md5 (a metrics file by its values). With ``judged_metrics``, other metrics
    that differ are shown as ``ignored`` and do not decide the verdict."""
    metrics: list[Check] = []
    params: list[Check] = []
    outputs: list[Check] = []
    if rerun is not None:
        then, now = values_of(original), values_of(rerun)
        metrics = compare_values(then.metrics, now.metrics, rtol=rtol, atol=atol)
        params = compare_values(then.params, now.params)
        if judged_metrics:
            metrics = [
                c
                if c.name in judged_metrics or c.status not in ("differs", "missing")
                else Check(c.name, c.original, c.rerun, "ignored")
                for c in metrics
            ]
        # A metrics file (or directory) whose values were recorded is judged by them, within
        # the tolerance: its bytes change with the last digit of a float.
        valued = {f for s in original.stages for f in s.metrics}
        before: dict[str, float | str] = {
            d.path: d.md5
            for d in original.outputs
            if not any(f == d.path or f.startswith(d.path + "/") for f in valued)
        }
        after: dict[str, float | str] = {d.path: d.md5 for d in rerun.outputs}
        outputs = [c for c in compare_values(before, after) if c.status != "new"]
    if rerun_exit != 0:
        return Judgement(FAILED, EXIT_RERUN_FAILED, metrics, params, outputs)
    if rerun is None:
        note = "the rerun exited 0 but started no MLflow run, so there is nothing to compare"
        return Judgement(FAILED, EXIT_RERUN_FAILED, notes=[note])
    if any(c.status in ("differs", "missing") for c in (*metrics, *params, *outputs)):
        return Judgement(DIFFERS, EXIT_DIFFERS, metrics, params, outputs)
    notes = []
    if not (metrics or outputs):
        notes.append(
            "the original run recorded no metrics and no DVC outputs: the only evidence is "
            "that the command succeeded again"
        )
    return Judgement(REPRODUCED, 0, metrics, params, outputs, notes)
