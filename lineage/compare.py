"""Judging a rerun against the original run it reproduces: pure functions over records.

A metric or param is ``exact`` (the same bits), ``within`` a tolerance, ``differs``,
``missing`` from the rerun, ``new`` in it or ``ignored`` (not judged); params and metrics come
from every source a record holds (MLflow's, and the DVC stages' params and metrics files),
labelled by ``lineage/run_values.py``. Each DVC output has a policy (``Policy``): a metrics
file whose values were recorded is judged by them, within the tolerance; a plots file by its
numbers within the tolerance, or left out; an output matching ``ignore_outputs`` is left out
(and named); any other output by its md5.

The verdict: ``failed`` when the rerun exited non-zero or made no MLflow run to compare;
``differs`` when a judged value differs or is missing; ``unverified`` when nothing could be
compared; ``bit-identical`` when every compared value is exact and every compared output the
same bytes; ``within-tolerance`` otherwise. Records written before the last two existed say
``reproduced`` for either.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lineage.errors import (
    EXIT_DIFFERS,
    EXIT_OK,
    EXIT_RERUN_FAILED,
    EXIT_UNVERIFIED,
    EXIT_WITHIN_TOLERANCE,
)
from lineage.records import (
    BIT_IDENTICAL,
    DIFFERS,
    FAILED,
    REPRODUCED,
    UNVERIFIED,
    WITHIN_TOLERANCE,
    Check,
    MlflowRun,
    RunRecord,
    WandbRun,
    to_dict,
)
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


def counterpart(
    original: MlflowRun | None, reruns: Sequence[RunRecord], *, wandb: WandbRun | None = None
) -> RunRecord | None:
    """The rerun's counterpart of the original run: the only one, else the one with the same
    params (a grid search reruns every combination), else the same run name. A W&B run's
    counterpart is a W&B run of the rerun, chosen the same way."""
    if wandb is not None:
        return _wandb_counterpart(wandb, reruns)
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


def _wandb_counterpart(original: WandbRun, reruns: Sequence[RunRecord]) -> RunRecord | None:
    pool = [r for r in reruns if r.wandb is not None]
    if len(pool) > 1:
        pool = [r for r in pool if r.wandb and r.wandb.params == original.params] or pool
        pool = [r for r in pool if r.wandb and r.wandb.name == original.name] or pool
    return pool[0] if pool else None


def values_of(record: RunRecord) -> RunValues:
    """A record's params and metrics from every source, labelled (``lineage/run_values.py``)."""
    return run_values(to_dict(record))


# Verdicts that count as reproduced (``reproduced``: records written before the other two).
REPRODUCED_VERDICTS = (BIT_IDENTICAL, WITHIN_TOLERANCE, REPRODUCED)
OPTION = "--ignore-output"  # where an ignore glob came from, as the verdict line names it
CONFIG = "ignore_outputs in .lineage/config.toml"
PLOTS = "plots, by [reproduce] plots"
# A plots file's numbers, as read from the original's and the rerun's bytes (None: unreadable).
PlotValues = Mapping[str, tuple[Mapping[str, float | str] | None, Mapping[str, float | str] | None]]


@dataclass(frozen=True)
class Policy:
    """How a rerun is judged: from ``[reproduce]`` in the config, overridden by options."""

    rtol: float = 0.0
    atol: float = 0.0
    ignore_outputs: tuple[tuple[str, str], ...] = ()  # (glob, where it was given)
    plots: str = "tolerance"  # "tolerance": by their numbers; "ignore": left out
    allow_unverified: bool = False  # an unverified rerun exits 0 instead of 7

    def left_out_by(self, path: str, plot_paths: Sequence[str]) -> str | None:
        """Why the output at ``path`` is left out of the verdict, or None when it is judged."""
        for glob, given in self.ignore_outputs:
            if fnmatch.fnmatchcase(path, glob) or path == glob.rstrip("/"):
                return given
        return PLOTS if self.plots == "ignore" and path in plot_paths else None


EXACT = Policy()  # no tolerance, nothing left out


@dataclass(frozen=True)
class Judgement:
    verdict: str  # bit-identical, within-tolerance, differs, failed, unverified
    exit_code: int  # `lineage reproduce`'s: 0, 6, 4, 5 or 7
    metrics: list[Check] = field(default_factory=list)
    params: list[Check] = field(default_factory=list)
    outputs: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (output path, why)


def judge(
    original: RunRecord,
    rerun: RunRecord | None,
    rerun_exit: int | None,
    *,
    policy: Policy = EXACT,
    judged_metrics: Sequence[str] = (),
    plot_paths: Sequence[str] = (),
    plot_values: PlotValues | None = None,
) -> Judgement:
    """The verdict on a rerun: metrics within the tolerances, params exactly, every recorded
    DVC output by its policy. With ``judged_metrics``, other metrics that differ are shown as
    ``ignored`` and do not decide the verdict. ``plot_paths`` are the outputs DVC declares as
    ``plots:``; ``plot_values`` the numbers of those whose bytes differ (original, rerun)."""
    metrics: list[Check] = []
    params: list[Check] = []
    outputs: list[Check] = []
    notes: list[str] = []
    left_out: list[tuple[str, str]] = []
    if rerun is not None:
        then, now = values_of(original), values_of(rerun)
        metrics = compare_values(then.metrics, now.metrics, rtol=policy.rtol, atol=policy.atol)
        params = compare_values(then.params, now.params)
        outputs, left_out, notes = judge_outputs(
            original, rerun, policy, plot_paths, plot_values or {}
        )
        metrics = [_judged(c, judged_metrics, left_out) for c in metrics]
    if rerun_exit != 0:
        return Judgement(FAILED, EXIT_RERUN_FAILED, metrics, params, outputs, notes, left_out)
    if rerun is None:
        tracker = "W&B" if original.wandb is not None else "MLflow"
        note = f"the rerun exited 0 but started no {tracker} run, so there is nothing to compare"
        return Judgement(FAILED, EXIT_RERUN_FAILED, notes=[note])
    verdict = verdict_of(metrics, params, outputs)
    if verdict == UNVERIFIED:
        notes.append(_unverified_note(original, left_out))
    exit_code = {
        BIT_IDENTICAL: EXIT_OK,
        WITHIN_TOLERANCE: EXIT_WITHIN_TOLERANCE,
        DIFFERS: EXIT_DIFFERS,
        UNVERIFIED: EXIT_OK if policy.allow_unverified else EXIT_UNVERIFIED,
    }[verdict]
    return Judgement(verdict, exit_code, metrics, params, outputs, notes, left_out)


def verdict_of(metrics: Sequence[Check], params: Sequence[Check], outputs: Sequence[Check]) -> str:
    """differs, unverified (no metric or output compared), bit-identical or within-tolerance."""
    if any(c.status in ("differs", "missing") for c in (*metrics, *params, *outputs)):
        return DIFFERS
    compared = [c for c in (*metrics, *outputs) if c.status in ("exact", "within")]
    if not compared:
        return UNVERIFIED
    if all(c.status == "exact" for c in (*compared, *params)):
        return BIT_IDENTICAL
    return WITHIN_TOLERANCE


def _judged(c: Check, judged_metrics: Sequence[str], left_out: Sequence[tuple[str, str]]) -> Check:
    """A metric not judged: outside ``--metric``, or read from a metrics file left out."""
    if c.status not in ("differs", "missing", "exact", "within"):
        return c
    file = c.name.partition(":")[0]  # a DVC metrics file's values are labelled file:key
    from_left_out = any(file == path or file.startswith(path + "/") for path, _ in left_out)
    outside = judged_metrics and c.name not in judged_metrics and c.status in ("differs", "missing")
    if from_left_out or outside:
        return Check(c.name, c.original, c.rerun, "ignored")
    return c


def judge_outputs(
    original: RunRecord,
    rerun: RunRecord,
    policy: Policy,
    plot_paths: Sequence[str],
    plot_values: PlotValues,
) -> tuple[list[Check], list[tuple[str, str]], list[str]]:
    """Each recorded DVC output by its policy: (checks, outputs left out and why, notes). A
    metrics file (or directory) whose values were recorded is judged by them instead (its
    bytes change with the last digit of a float), so it has no check here."""
    valued = {f for s in original.stages for f in s.metrics}
    after = {d.path: d.md5 for d in rerun.outputs}
    checks: list[Check] = []
    left_out: list[tuple[str, str]] = []
    notes: list[str] = []
    for d in original.outputs:
        why = policy.left_out_by(d.path, plot_paths)
        if why is not None:
            checks.append(Check(d.path, d.md5, after.get(d.path), "ignored"))
            left_out.append((d.path, why))
            continue
        if any(f == d.path or f.startswith(d.path + "/") for f in valued):
            continue
        if d.path not in after:
            checks.append(Check(d.path, d.md5, None, "missing"))
        elif after[d.path] == d.md5:
            checks.append(Check(d.path, d.md5, after[d.path], "exact"))
        elif d.path in plot_paths:
            status, note = _plot_status(d.path, plot_values.get(d.path, (None, None)), policy)
            checks.append(Check(d.path, d.md5, after[d.path], status))
            notes += [note] if note else []
        else:
            checks.append(Check(d.path, d.md5, after[d.path], "differs"))
    return checks + _artifact_checks(original, rerun), left_out, notes


def _artifact_checks(original: RunRecord, rerun: RunRecord) -> list[Check]:
    """Each file of the artifacts a W&B run logged, by its digest (the md5 of its bytes),
    named as its edge is (``wandb:<artifact>/<file>``); of an artifact logged more than once
    (a checkpoint per epoch), the last version. An artifact named after its run (YOLOv5's
    ``run_<id>_model``, Lightning's and transformers' ``model-<id>``) is matched with the
    rerun's of the same name, the run id in it written ``<run>``."""
    from lineage.edges import artifact_path

    def files(record: RunRecord) -> dict[str, str]:
        if record.wandb is None:
            return {}
        run_id = record.wandb.run_id
        return {
            artifact_path(a.name.replace(run_id, "<run>") if run_id else a.name, f.path): f.md5
            for a in record.wandb.artifacts
            if not a.used
            for f in a.files
        }

    before, after = files(original), files(rerun)
    return [
        Check(
            name,
            md5,
            after.get(name),
            "missing" if name not in after else ("exact" if after[name] == md5 else "differs"),
        )
        for name, md5 in sorted(before.items())
    ]


def _plot_status(
    path: str,
    values: tuple[Mapping[str, float | str] | None, Mapping[str, float | str] | None],
    policy: Policy,
) -> tuple[str, str | None]:
    """A plots file whose bytes differ: ``within`` when its numbers are, else ``differs``."""
    then, now = values
    if then is None or now is None:
        which = "original's" if then is None else "rerun's"
        return "differs", (
            f"plots file {path} differs and the {which} copy could not be read as numbers "
            "(it is not in the DVC cache or the working tree), so it was compared by md5"
        )
    checks = compare_values(then, now, rtol=policy.rtol, atol=policy.atol)
    bad = [c for c in checks if c.status not in ("exact", "within")]
    if not bad:
        return "within", None
    first = bad[0]
    return "differs", (
        f"plots file {path} differs at {first.name or '(value)'}: "
        f"{first.original!r} -> {first.rerun!r} ({len(bad)} value(s) outside the tolerance)"
    )


def _unverified_note(original: RunRecord, left_out: Sequence[tuple[str, str]]) -> str:
    if left_out:
        return (
            "every recorded metric and output was left out ("
            + ", ".join(path for path, _ in left_out)
            + "): the only evidence is that the command succeeded again"
        )
    outputs = "DVC outputs or W&B artifact files" if original.wandb else "DVC outputs"
    return (
        f"the original run recorded no metrics and no {outputs}: the only evidence is that "
        "the command succeeded again"
    )
