"""`lineage reproduce REF`: rebuild a model version (or run) from its recorded code and data.

The plan (``reproduce_plan.py``) resolves the model to its run and record and checks everything
first. Then: check the recorded commit or snapshot out in a new detached worktree; restore every
input by its recorded md5 from the DVC cache (fetching from the remote what is missing) and
verify it; rerun the command there through ``lineage/recording.py``'s steps, so the rerun is
recorded too; compare params, metrics and DVC outputs with the original; write a reproduction
record; remove the worktree. The user's working tree, index, branches and DVC workspace are never
touched: everything happens in the worktree, the shared DVC cache and the lineage store.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from lineage import capture, cleanup, progress, recording, session_runs
from lineage.adapters import dvc, dvc_config, dvc_link, dvc_store, git, git_lfs
from lineage.adapters.dvc_hash import StatCache
from lineage.commands import reproduce_plots
from lineage.commands.reproduce_plan import InputPlan, Plan, ReproductionBlocked
from lineage.compare import EXACT, Policy, counterpart, judge
from lineage.context import Context
from lineage.documents import WANDB_PREFIX
from lineage.errors import EXIT_RERUN_FAILED, InterruptedByUser, LineageError
from lineage.records import (
    FAILED,
    OBSERVED,
    Check,
    Data,
    ModelVersion,
    ReproductionRecord,
    RunRecord,
    encode,
)
from lineage.redact import redact_command, restore_values

Notify = Callable[[str], None]
Confirm = Callable[[str], bool]
TAIL_LINES = 30
# Not inherited by the rerun: they would resume or redirect the original's MLflow runs.
_RERUN_DROPS = ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID")


@dataclass
class Result:
    plan: Plan
    verdict: str
    exit_code: int  # lineage's: 0, 6, 4, 5 or 7 (lineage/errors.py)
    policy: Policy = EXACT
    rerun_exit: int | None = None
    rerun: RunRecord | None = None
    rerun_record: str | None = None
    record_id: str | None = None
    metrics: list[Check] = field(default_factory=list)
    params: list[Check] = field(default_factory=list)
    outputs: list[Check] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    restored: list[tuple[Data, str]] = field(default_factory=list)  # data, link type used
    worktree: Path | None = None
    kept: bool = False
    registered: list[ModelVersion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (output path, why)


def reproduce(
    ctx: Context,
    prepared: Plan,
    *,
    workdir: Path | None = None,
    keep: bool = False,
    register: bool = False,
    policy: Policy = EXACT,
    judged_metrics: Sequence[str] = (),
    notify: Notify = lambda _: None,
) -> Result:
    """Carry the plan out: worktree, data, rerun, comparison, reproduction record."""
    if prepared.problems:
        raise ReproductionBlocked(prepared.blocked_message())
    assert prepared.checkout is not None
    # A W&B run key holds ':' and '/', which a directory name must not.
    name = re.sub(r"[^\w.-]", "-", prepared.run_key.removeprefix(WANDB_PREFIX))[:24]
    worktree = workdir or ctx.paths.lineage_dir / "worktrees" / f"{name}-{uuid.uuid4().hex[:6]}"
    if worktree.exists() and any(worktree.iterdir()):
        raise LineageError(f"{worktree} is not empty; give --workdir a new or empty directory")
    scratch = Path(tempfile.mkdtemp(prefix="lineage-reproduce-"))
    result = Result(prepared, FAILED, EXIT_RERUN_FAILED, policy=policy, worktree=worktree)
    worktree.parent.mkdir(parents=True, exist_ok=True)
    # Names this process as the worktree's owner: if it is killed before the `finally` below,
    # the next lineage command removes the worktree (lineage/cleanup.py).
    owner = None if workdir else worktree.with_name(worktree.name + cleanup.OWNER_SUFFIX)
    if owner is not None:
        cleanup.claim(owner)
    added = False
    try:
        notify(f"checking out {prepared.checkout[:12]} in {worktree}")
        git.worktree_add(ctx.paths, worktree, prepared.checkout)
        added = True
        result.restored = _restore(ctx, prepared, worktree, notify)
        outcome, tail = _rerun(ctx, prepared, worktree, scratch, register, notify)
        if outcome.exit_code in (130, 143):  # SIGINT / SIGTERM: stopped, not a verdict
            raise InterruptedByUser(
                "interrupted: the rerun was stopped, so no verdict was recorded; the worktree "
                "was removed and your checkout is untouched"
            )
        result.tail = list(tail)
        _compare(ctx, result, outcome, worktree, judged_metrics=judged_metrics)
        result.record_id = _write_record(ctx, result)
        _tag(ctx, result, register)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if keep and added:
            result.kept = True
        elif added or worktree.exists():
            git.worktree_remove(ctx.paths, worktree)
        with StatCache(ctx.statcache_path) as stat_cache:
            # Every worktree has a new path, and the cache is keyed by path: drop the rows of
            # this one's files, gone now, and of any other gone since (a --keep worktree
            # removed by hand, one a killed reproduce left and a clean-up removed).
            stat_cache.prune()
        if owner is not None:
            owner.unlink(missing_ok=True)  # removed, or kept on purpose (--keep)


def _compare(
    ctx: Context,
    result: Result,
    outcome: recording.RunOutcome,
    worktree: Path,
    *,
    judged_metrics: Sequence[str],
) -> None:
    """Find the rerun's counterpart of the original run and judge it (``lineage/compare.py``)."""
    original = result.plan.record
    result.rerun_exit = outcome.exit_code
    result.notes.extend(outcome.warnings)
    result.rerun = counterpart(original.run, outcome.records, wandb=original.wandb)
    if result.rerun is not None:
        result.rerun_record = outcome.record_ids[outcome.records.index(result.rerun)]
    plot_paths, plot_values = reproduce_plots.read(
        ctx.paths.root, worktree, original, result.rerun, result.policy
    )
    judged = judge(
        original,
        result.rerun,
        outcome.exit_code,
        policy=result.policy,
        judged_metrics=judged_metrics,
        plot_paths=plot_paths,
        plot_values=plot_values,
    )
    result.verdict, result.exit_code = judged.verdict, judged.exit_code
    result.metrics, result.params = judged.metrics, judged.params
    result.outputs = judged.outputs
    result.notes.extend(judged.notes)
    result.left_out = judged.left_out


def _rerun(
    ctx: Context, prepared: Plan, worktree: Path, scratch: Path, register: bool, notify: Notify
) -> tuple[recording.RunOutcome, deque[str]]:
    """The recorded command, run and recorded in the worktree as `lineage run` would, its
    output copied to stderr and its tail kept."""
    environ = {k: v for k, v in ctx.environ.items() if k not in _RERUN_DROPS}
    if prepared.record.run:
        environ["MLFLOW_EXPERIMENT_ID"] = prepared.record.run.experiment_id
    rerun_ctx = ctx.derive(
        cwd=worktree / prepared.cwd, environ=environ, paths=git.discover(worktree)
    )
    extra = {
        "LINEAGE_REPRODUCES": prepared.record.run_key,  # the plugin's lineage.reproduces tag
        # Environments `mlflow run` builds go to the throwaway area, not ~/.mlflow/envs.
        "MLFLOW_ENV_ROOT": str(scratch / "mlflow-envs"),
    }
    if not register:
        # The training script may register its model: keep that out of the real registry,
        # where a new "latest" version could be picked up by a deployment.
        extra["MLFLOW_REGISTRY_URI"] = f"sqlite:///{scratch / 'registry.db'}"
        # W&B runs and artifacts of the rerun stay in its local directory: offline, they are
        # never sent to the user's online project (where a new artifact version would become
        # "latest").
        extra["WANDB_MODE"] = "offline"
        # Said before the child runs, so MLflow's own "Created version '1' of model ..."
        # lines, which the rerun prints as it would anywhere, read as what they are. They are
        # not filtered out: the child's output passes through as it is.
        notify(
            f"the rerun registers models in a throwaway registry ({scratch / 'registry.db'}, "
            "deleted afterwards); your registry is not touched (--register keeps them, "
            "tagged as reproductions)"
        )
    notify(f"running `{shlex.join(prepared.shown_argv)}`")
    # The hidden values come back from the environment only now, for the child alone; the
    # plan refused to get here without every one of them.
    argv = restore_values(prepared.argv, prepared.hidden, ctx.environ)
    before = capture.capture(rerun_ctx, argv, on_code=capture.say_when_dirty(notify))
    env = {**recording.child_environment(rerun_ctx, before), **extra}
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    ran = recording.execute(rerun_ctx, before, env, tail=tail)
    after = recording.collect(rerun_ctx, before, ran)
    if not register:
        # The throwaway registry is deleted afterwards, and its version numbers (churn/1...)
        # would pass for the real registry's: the rerun's record names no model version.
        after = replace(after, versions={})
    outcome = recording.record(rerun_ctx, before, ran, after, reproduces=prepared.record.run_key)
    return outcome, tail


def _restore(
    ctx: Context, prepared: Plan, worktree: Path, notify: Notify
) -> list[tuple[Data, str]]:
    """Put every input into the worktree by its recorded md5 (or Git LFS oid), and verify it."""
    lfs = [i for i in prepared.inputs if i.where in ("lfs-cache", "lfs-remote")]
    if lfs:
        assert prepared.checkout is not None
        wanted = [(git_lfs.oid_of(i.data.md5), i.data.path) for i in lfs]
        if any(i.where == "lfs-remote" for i in lfs):
            notify(f"fetching Git LFS objects from {lfs[0].remote}")
        git_lfs.restore(ctx.paths, worktree, wanted, prepared.checkout)
        notify(f"restored and verified {len(lfs)} Git LFS input(s) (copies)")
    todo = [i for i in prepared.inputs if i.where in ("cache", "remote")]
    if not todo:
        return [(i.data, "copy") for i in lfs]
    root = ctx.paths.root
    cache = dvc_config.cache_config(root)
    remote = [i for i in todo if i.where == "remote"]
    if remote:
        _fetch(root, remote, notify)
    if dvc.is_dvc_repo(worktree):
        dvc_config.write_worktree_config(root, worktree, cache.cache_dir, prepared.link_types)
    restored = []
    with (
        StatCache(ctx.statcache_path) as cache_of_md5s,
        cache_of_md5s.batched() as stat_cache,  # one commit for the thousands of files verified
        progress.bar("restoring inputs", total=len(todo), unit="inputs") as advance,
    ):
        for item in todo:
            advance()
            data = item.data
            dest = worktree / data.path
            used = dvc_link.materialize(cache, data.md5, dest, link_types=prepared.link_types)
            if not dvc_link.verify(cache, data.md5, dest, stat_cache):
                raise LineageError(
                    f"{data.path} restored from the DVC cache does not hash to {data.md5}: the "
                    "cache object is damaged; remove it and run `dvc fetch` to get a good copy"
                )
            restored.append((data, used))
    notify(f"restored and verified {len(restored)} input(s) ({_summary_links(restored)})")
    return [(i.data, "copy") for i in lfs] + restored


def _fetch(root: Path, items: Sequence[InputPlan], notify: Notify) -> None:
    names = sorted({i.remote or "" for i in items})
    failed: list[str] = []
    files = 0
    for name in names:
        md5s = [i.data.md5 for i in items if (i.remote or "") == name]
        shown = name or "(default)"
        with progress.bar(f"fetching from DVC remote {shown}", unit="files") as advance:

            def counted(n: int = 1, *, total: int | None = None) -> None:
                nonlocal files
                files += n
                advance(n, total=total)

            failed += dvc_store.fetch(root, md5s, remote=name or None, progress=counted)
    if failed:
        raise LineageError(
            f"could not fetch {', '.join(f[:10] for f in failed[:5])} from the DVC remote; "
            "check the remote's credentials and connectivity (`dvc fetch` shows details)"
        )
    remotes = ", ".join(name or "(default)" for name in names)
    notify(f"fetched {len(items)} object(s) ({files} file(s)) from DVC remote {remotes}")


def _summary_links(restored: Sequence[tuple[Data, str]]) -> str:
    kinds: dict[str, int] = {}
    for _, used in restored:
        kinds[used] = kinds.get(used, 0) + 1
    return ", ".join(f"{n} by {kind}" for kind, n in sorted(kinds.items()))


def _write_record(ctx: Context, result: Result) -> str:
    plan_ = result.plan
    shown = redact_command(plan_.argv)
    rec = ReproductionRecord(
        evidence=OBSERVED,
        created=ctx.provenance(),
        original_run=plan_.run_key,
        original_record=plan_.record_id,
        code=plan_.checkout or "",
        command=shown.argv,
        redacted=shown.redacted,
        verdict=result.verdict,
        rtol=result.policy.rtol,
        atol=result.policy.atol,
        model=plan_.model,
        inputs=tuple(d for d, _ in result.restored),
        rerun_run=result.rerun.run_key if result.rerun else None,
        rerun_record=result.rerun_record,
        exit_code=result.rerun_exit,
        metrics=tuple(result.metrics),
        params=tuple(result.params),
        outputs=tuple(result.outputs),
        from_pointers=plan_.from_pointers,
    )
    rid, blob = encode(rec)
    ctx.store.append(
        [(rid, blob)],
        message=f"lineage: reproduction of {plan_.model or plan_.run_key}: {result.verdict}",
    )
    return rid


def _tag(ctx: Context, result: Result, register: bool) -> None:
    """Mirror the verdict on the rerun's MLflow run; mark versions a --register rerun made."""
    rerun = result.rerun
    if rerun is None or rerun.run is None:
        return
    try:
        session_runs.set_tags(
            ctx,
            rerun.run,
            {"lineage.verdict": result.verdict, "lineage.reproduction": result.record_id or ""},
        )
        if register and rerun.models:
            from lineage.adapters.mlflow_registry import set_version_tags

            set_version_tags(ctx.mlflow, rerun.models, {"lineage.reproduces": result.plan.run_key})
            result.registered = list(rerun.models)
    except LineageError as exc:
        result.notes.append(f"could not tag the rerun in MLflow: {exc}")


def ensure_confirmed(p: Plan, *, yes: bool, confirm: Confirm | None) -> None:
    """A command taken from a record made elsewhere runs only with the user's consent."""
    if not p.needs_confirmation or yes:
        return
    question = (
        f"The command `{shlex.join(p.shown_argv)}` comes from record {p.record_id[:12]}, which "
        "was not written by this clone (it was fetched). Run it?"
    )
    if confirm is not None and confirm(question):
        return
    raise LineageError(
        f"not running `{shlex.join(p.shown_argv)}` from a record this clone did not write; read "
        "it, then rerun with --yes to run it"
    )
