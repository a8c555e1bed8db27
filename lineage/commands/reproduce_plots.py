"""The plots files a reproduction judges by their numbers: which outputs are plots, and what the
original's and the rerun's copies hold where their bytes differ (``lineage/compare.py`` judges)."""

from __future__ import annotations

from pathlib import Path

from lineage.adapters import dvc_config, dvc_metrics, dvc_plots
from lineage.compare import PlotValues, Policy
from lineage.records import RunRecord


def read(
    root: Path, worktree: Path, original: RunRecord, rerun: RunRecord | None, policy: Policy
) -> tuple[list[str], PlotValues]:
    """(the outputs the recorded stages declare as ``plots:`` in the worktree's dvc.yaml, the
    numbers of each one the rerun changed). The original's bytes come from the DVC cache or
    the user's checkout at ``root``, read only and used only when they hash to the recorded
    md5; the rerun's from the worktree."""
    declared = dvc_metrics.declared_plots(worktree, original.stages)
    paths = [path for stage_paths in declared.values() for path in stage_paths]
    if rerun is None or policy.plots == "ignore" or not paths:
        return paths, {}
    after = {d.path: d.md5 for d in rerun.outputs}
    changed = [d for d in original.outputs if d.path in paths and after.get(d.path, d.md5) != d.md5]
    cache_dir = dvc_config.cache_config(root).cache_dir
    values: dict[str, tuple[dvc_plots.Values | None, dvc_plots.Values | None]] = {}
    for d in changed:
        then = dvc_plots.original_bytes(cache_dir, d.md5, [root / d.path])
        now = dvc_plots.original_bytes(cache_dir, after[d.path], [worktree / d.path])
        values[d.path] = (
            dvc_plots.numbers(then, d.path) if then is not None else None,
            dvc_plots.numbers(now, d.path) if now is not None else None,
        )
    return paths, values
