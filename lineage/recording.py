"""Recording one command, in the steps `lineage run` takes and `lineage reproduce` combines too.

1. ``capture.capture``, before the child (``lineage/capture.py``): the tracking store can be
   reached, the executable exists, the code (HEAD, and a snapshot commit of a dirty tree), and
   the DVC data in the workspace checked against its pointers.
2. :func:`child_environment`: what the child is given: the tracking store, and the session
   lineage's MLflow plugin tags every run with.
3. :func:`execute`: the child runs (stdio passed through, signals forwarded) while a thread
   imports MLflow's client, once the child has reached MLflow or run for half a second.
4. :func:`collect`: what the command did: the data of the DVC stages it executed, the MLflow
   runs of its session and the model versions registered from them, its environment.
5. :func:`record`: one record per MLflow run (or one for the command when it started none),
   appended in one commit; the key facts mirrored on each run as ``lineage.*`` tags.
"""

from __future__ import annotations

import json
import os
import posixpath
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from lineage import child, cleanup, environment, session_runs, session_wandb
from lineage.adapters import dvc, dvc_pipeline, git, git_lfs, mlflow_project
from lineage.adapters import mlflow as mlflow_adapter
from lineage.capture import Before
from lineage.clock import iso, utc_now
from lineage.context import Context
from lineage.errors import LineageError
from lineage.records import (
    OBSERVED,
    Code,
    Command,
    Data,
    Environment,
    MlflowProject,
    MlflowRun,
    ModelVersion,
    RunRecord,
    Stage,
    WandbRun,
    encode,
    split_environment,
)
from lineage.redact import redact_command, redact_uri, redact_value
from lineage.session import MlflowPreloader
from lineage.session_runs import ProjectStep

TAG_VALUE_LIMIT = 5000


@dataclass(frozen=True)
class Ran:
    """How the child ran."""

    returncode: int  # as the OS gave it: negative for a signal
    started: datetime
    ended: datetime
    duration_s: float
    env: Mapping[str, str]  # what it was given

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + N for signal N."""
        return self.returncode if self.returncode >= 0 else 128 - self.returncode

    @property
    def interrupted(self) -> bool:
        """Stopped by SIGINT (Ctrl-C, a CI cancel): died of it, or exited 130 as shells do."""
        return self.returncode in (-signal.SIGINT, 128 + signal.SIGINT)

    @property
    def status(self) -> str:
        if self.returncode == 0:
            return "succeeded"
        if self.interrupted:
            return "interrupted"
        return "killed" if self.returncode < 0 else "failed"


@dataclass(frozen=True)
class StageShare:
    """What the MLflow runs started inside one DVC stage record instead of the command's
    union: that stage (with the executed stages no run was started in that hang off it:
    ``dvc_pipeline.stages_of_runs``), what it read and what it wrote."""

    inputs: tuple[Data, ...]
    outputs: tuple[Data, ...]
    stages: tuple[Stage, ...]


@dataclass(frozen=True)
class After:
    """What the command turned out to have done, read after it ended."""

    inputs: tuple[Data, ...]
    outputs: tuple[Data, ...]
    stages: tuple[Stage, ...]
    runs: tuple[MlflowRun, ...]
    versions: Mapping[str, Sequence[ModelVersion]]  # run id -> versions registered from it
    environment: Environment
    project: MlflowProject | None = None
    warnings: tuple[str, ...] = ()
    # Run id -> its stage's share, for each run started inside an executed DVC stage.
    shares: Mapping[str, StageShare] = field(default_factory=dict)
    wandb: tuple[WandbRun, ...] = ()  # the W&B runs the command started or resumed
    # Run id -> the project entry point it ran, for the steps a multi-step runner started with
    # `mlflow.projects.run` (an entry point other than the command's own `mlflow run`).
    steps: Mapping[str, MlflowProject] = field(default_factory=dict)


@dataclass
class RunOutcome:
    exit_code: int
    code: Code
    records: list[RunRecord] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def run_keys(self) -> list[str]:
        return [r.run_key for r in self.records]

    @property
    def models(self) -> list[ModelVersion]:
        return [m for r in self.records for m in r.models]


# 2. What the child is given


def child_environment(
    ctx: Context,
    before: Before,
    *,
    experiment: str | None = None,
    run_name: str | None = None,
) -> dict[str, str]:
    """The child's environment: the invocation's, plus the tracking store (and a registry set
    apart from it) made explicit and absolute, so a relative one means in the child what it
    meant here, and the session for lineage's MLflow plugin."""
    env = {
        **ctx.environ,
        "MLFLOW_TRACKING_URI": ctx.mlflow.tracking,
        **before.session.variables(),
        "LINEAGE_COMMIT": before.code.commit or "",
        "LINEAGE_SNAPSHOT": before.code.snapshot or "",
        "LINEAGE_DIRTY": "true" if before.code.dirty else "false",
        **session_wandb.tag_variables(ctx.environ, before.session.id),
    }
    if ctx.environ.get("MLFLOW_REGISTRY_URI"):
        env["MLFLOW_REGISTRY_URI"] = ctx.mlflow.registry  # absolute, like the tracking store
    if experiment:
        env["MLFLOW_EXPERIMENT_NAME"] = experiment
    if run_name:
        env["LINEAGE_RUN_NAME"] = run_name
    return env


# 3. The child


def execute(
    ctx: Context, before: Before, env: Mapping[str, str], *, tail: deque[str] | None = None
) -> Ran:
    """Run the command in ``ctx.cwd`` with ``env``; ``tail`` keeps its last output lines (see
    ``child.run``)."""
    before.session.open()
    started = utc_now()
    # Who owns the session, and what it ran: if lineage is killed, the next command records
    # the run as lost from this (lineage/cleanup.py) instead of leaving nothing behind.
    shown = redact_command(before.argv)
    cleanup.claim(
        before.session.directory / cleanup.OWNER,
        argv=list(shown.argv),
        redacted=[asdict(r) for r in shown.redacted],
        cwd=os.path.relpath(ctx.cwd, ctx.paths.root).replace(os.sep, "/"),
        code={
            "commit": before.code.commit,
            "dirty": before.code.dirty,
            "snapshot": before.code.snapshot,
            "branch": before.code.branch,
        },
        started=iso(started),
        reproduces=env.get("LINEAGE_REPRODUCES"),
    )
    t0 = time.monotonic()
    uri = ctx.mlflow.tracking
    preloader = MlflowPreloader(before.session, lambda: mlflow_adapter.preload(uri))
    try:
        argv = [before.executable, *before.argv[1:]]
        returncode = child.run(argv, cwd=ctx.cwd, env=env, tail=tail)
    except LineageError:
        before.session.close()
        raise
    finally:
        preloader.stop()
    return Ran(returncode, started, utc_now(), time.monotonic() - t0, env)


# 4. After the child


def collect(ctx: Context, before: Before, ran: Ran) -> After:
    """The command's data, MLflow runs, registered versions and environment. MLflow that cannot
    be read is a warning: the command is still recorded, without those runs."""
    outer_stage = ctx.environ.get("DVC_STAGE")  # lineage itself runs inside a DVC stage
    cwd = _relative_cwd(ctx)
    try:
        data_warnings: list[str] = []
        seen = before.session.stages_seen()
        pipeline = _pipeline_data(
            ctx,
            before,
            data_warnings.append,
            seen=_stages_in_repo(seen - {outer_stage or ""}, cwd),
            succeeded=ran.returncode == 0,
        )
        project, warnings = _project(ctx, before)
        warnings = [*data_warnings, *warnings]
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Probing another interpreter's environment is a subprocess: overlap it with MLflow.
            probe = pool.submit(_environment, ctx, before, ran.env)
            # No process of the session reached lineage's MLflow plugin (and no `mlflow run`
            # could have made a run without it): no MLflow client is paid for to find none.
            found = session_runs.find(
                ctx,
                before.session,
                before.argv,
                started_ms=int(ran.started.timestamp() * 1000),
                ended_ms=int(ran.ended.timestamp() * 1000),
            )
            env = probe.result()
        wandb = session_wandb.find(ctx, before.wandb)
    finally:
        before.session.close()
    from lineage.adapters.dvc_plan import address_in_repo

    run_stages = {
        run_id: address
        for run_id, stage in found.stages.items()
        if stage != outer_stage and (address := address_in_repo(stage, cwd)) is not None
    }
    return After(
        inputs=tuple(pipeline.inputs),
        outputs=tuple(pipeline.outputs),
        stages=tuple(pipeline.executed),
        runs=found.runs,
        versions=found.versions,
        environment=env,
        project=project,
        warnings=(*warnings, *found.warnings, *wandb.warnings, *_commit_notes(before, wandb.runs)),
        shares=pipeline.shares(run_stages),
        wandb=wandb.runs,
        steps=_steps(ctx, found.steps, found.runs, project),
    )


def _commit_notes(before: Before, runs: Sequence[WandbRun]) -> list[str]:
    """W&B reads HEAD at init, as lineage does before the child: a difference means the
    command moved HEAD (a checkout in the script), worth a word."""
    commit = before.code.commit
    return [
        f"W&B run {run.path} names commit {run.git_commit[:10]}, but the command started at "
        f"{(commit or 'no commit')[:10]}; the record keeps both"
        for run in runs
        if run.git_commit and commit and run.git_commit != commit
    ]


def _steps(
    ctx: Context,
    steps: Mapping[str, ProjectStep],
    runs: Sequence[MlflowRun],
    project: MlflowProject | None,
) -> dict[str, MlflowProject]:
    """Each project run that is not the command's own `mlflow run` as the entry point that
    made it, so that reproducing one step reruns that step with its parameters, not the whole
    runner. MLflow logs every parameter it passed a project run; only those the entry point
    declares are kept (a step may log others itself, which `mlflow run -P` would pass on)."""
    found: dict[str, MlflowProject] = {}
    for run in runs:
        step = steps.get(run.run_id)
        if step is None or (project is not None and step.entry_point == project.entry_point):
            continue
        uri = _project_uri(step.source, ctx.paths.root)
        declared = None
        if mlflow_project.is_local(uri):
            try:
                declared = mlflow_project.load(str(ctx.paths.root / uri))
            except LineageError:
                declared = None
        params = dict(run.params)
        if declared is not None and step.entry_point in declared.entry_points:
            names = declared.entry_points[step.entry_point].parameters
            params = {k: v for k, v in params.items() if k in names}
        found[run.run_id] = MlflowProject(
            uri=uri,
            entry_point=step.entry_point,
            parameters={k: redact_value(k, v) for k, v in sorted(params.items())},
            # MLflow tags the environment it built; none means it ran in the caller's own.
            env_manager=step.env_manager or "local",
            experiment_id=run.experiment_id,
        )
    return found


def _project_uri(source: str | None, root: Path) -> str:
    """The project a step ran, as `mlflow run` takes it: MLflow names a local project in a git
    repository ``file://<work tree>#<subdirectory>``; inside this repository that is the
    repository-relative directory, anything else is kept (credentials stripped)."""
    if not source:
        return "."
    where, _, sub = source.partition("#")
    if (
        where.startswith("file://")
        and Path(where.removeprefix("file://")).resolve() == root.resolve()
    ):
        return posixpath.normpath(sub) if sub else "."
    return redact_uri(source)


def _project(ctx: Context, before: Before) -> tuple[MlflowProject | None, list[str]]:
    """For `mlflow run`: the project, entry point and every parameter MLflow passed it."""
    invocation = mlflow_project.parse_invocation(before.argv, ctx.environ)
    if invocation is None:
        if mlflow_project.is_mlflow_run(before.argv):
            return None, [
                "this `mlflow run` command line has options lineage does not know; its project "
                "and parameters were not recorded, so `lineage reproduce` will rerun it as it is"
            ]
        return None, []
    parameters = dict(invocation.parameters)
    warnings = []
    if invocation.local:
        try:
            project = mlflow_project.load(str(ctx.cwd / invocation.uri))
        except LineageError as exc:
            project, warnings = None, [f"{exc}; the entry point's defaults were not recorded"]
        if project is not None:
            parameters = project.effective_parameters(invocation.entry_point, parameters)
    return (
        MlflowProject(
            uri=redact_uri(invocation.uri),
            entry_point=invocation.entry_point,
            parameters={k: redact_value(k, v) for k, v in parameters.items()},
            version=invocation.version,
            env_manager=invocation.env_manager,
            experiment_name=invocation.experiment_name,
            experiment_id=invocation.experiment_id,
            backend=invocation.backend,
        ),
        warnings,
    )


@dataclass(frozen=True)
class _Pipeline:
    """The DVC stages a command executed, and what they read and wrote together."""

    inputs: Sequence[Data]
    outputs: Sequence[Data]
    executed: Sequence[Stage]
    tracked: set[str]  # git-tracked paths: code, which the commit covers, not data

    def shares(self, run_stages: Mapping[str, str]) -> dict[str, StageShare]:
        """Run id -> its stage's share, for the runs started in an executed stage."""
        groups = dvc_pipeline.stages_of_runs(self.executed, run_stages.values())
        by_stage = {}
        for address, stages in groups.items():
            inputs, outputs = dvc_pipeline.stage_data(stages, self.tracked)
            by_stage[address] = StageShare(tuple(inputs), tuple(outputs), tuple(stages))
        return {r: by_stage[a] for r, a in run_stages.items() if a in by_stage}


def _pipeline_data(
    ctx: Context,
    before: Before,
    warn: Callable[[str], None],
    *,
    seen: set[str],
    succeeded: bool,
) -> _Pipeline:
    """For a DVC pipeline, what the stages it executed read and wrote; for any other command,
    the data captured before. ``seen``: the stages processes of the command ran MLflow in."""
    lock = ctx.paths.root / dvc.LOCK
    after = lock.read_text(encoding="utf-8") if lock.exists() else None
    executed = dvc_pipeline.executed_stages(
        ctx.paths.root,
        before.argv,
        before.lock,
        after,
        cwd=_relative_cwd(ctx),
        seen=seen,
        succeeded=succeeded,
        warn=warn,
    )
    if not executed:
        return _Pipeline(list(before.inputs), [], [], set())
    tracked = git.tracked_files(ctx.paths)
    inputs, outputs = dvc_pipeline.stage_data(executed, tracked)
    # Stages' deps tracked by Git are code to DVC; Git LFS files are data all the same.
    lfs = [d for d in before.inputs if git_lfs.is_lfs_hash(d.md5)]
    return _Pipeline(inputs + lfs, outputs, executed, tracked)


def _relative_cwd(ctx: Context) -> str:
    """Where the command ran, relative to the root ("" at the root): DVC's working directory,
    against which it spells stage addresses."""
    cwd = os.path.relpath(ctx.cwd, ctx.paths.root).replace(os.sep, "/")
    return "" if cwd == "." else cwd


def _stages_in_repo(addresses: set[str], cwd: str) -> set[str]:
    from lineage.adapters.dvc_plan import address_in_repo

    return {a for a in (address_in_repo(x, cwd) for x in addresses if x) if a is not None}


def _environment(ctx: Context, before: Before, child_env: Mapping[str, str]) -> Environment:
    """The environment the plugin left from inside the child, else a probe of the child's
    Python, else lineage's own; plus the variables [environment] variables names."""
    env: Environment | None = None
    for path in before.session.environment_files():
        try:
            env = environment.from_json(path.read_text(encoding="utf-8"))
            break
        except (OSError, ValueError, TypeError, KeyError):
            continue
    if env is None and os.path.basename(before.argv[0]).startswith("python"):
        env = environment.capture_interpreter(before.executable, environ=child_env)
    if env is None:
        env = replace(environment.capture(child_env), source="lineage")
    extra = {k: child_env[k] for k in ctx.config.env_variables if k in child_env}
    if extra:
        env = replace(env, variables={**env.variables, **extra})
    return env


# 5. The records


def record(
    ctx: Context, before: Before, ran: Ran, after: After, *, reproduces: str | None = None
) -> RunOutcome:
    """Append the run records (and the environment record) in one commit; tag the runs.
    ``reproduces``: the run key a `lineage reproduce` rerun reproduces (marked in its records)."""
    shown = redact_command(before.argv)
    command = Command(
        argv=shown.argv,
        redacted=shown.redacted,
        cwd=os.path.relpath(ctx.cwd, ctx.paths.root).replace(os.sep, "/"),
        exit_code=ran.exit_code,
        status=ran.status,
        started=iso(ran.started),
        ended=iso(ran.ended),
        duration_s=round(ran.duration_s, 3),
    )
    env_ref, env_record = split_environment(after.environment)
    base = RunRecord(
        evidence=OBSERVED,
        session=before.session.id,
        code=before.code,
        created=ctx.provenance(),
        command=command,
        inputs=after.inputs,
        outputs=after.outputs,
        stages=after.stages,
        environment=env_ref,
        project=after.project,
        reproduces=reproduces,
    )
    notes: list[str] = []
    runs = [_interrupted(ctx, r, notes.append) if ran.interrupted else r for r in after.runs]
    records = [
        replace(
            base,
            run=r,
            models=tuple(after.versions.get(r.run_id, ())),
            **_share_fields(after.shares.get(r.run_id)),
            project=after.steps.get(r.run_id, after.project),
        )
        for r in runs
    ] + [replace(base, wandb=w) for w in after.wandb] or [base]
    encoded = [encode(r) for r in records]
    ran_code = before.code.ran
    ctx.store.append(
        [*encoded, env_record],
        # The code that ran stays reachable from the lineage ref, and travels with it, even
        # when its branch is rebased, squash-merged or deleted: the snapshot of a dirty tree
        # (its parent is the base commit), else the clean commit.
        keep=[ran_code] if ran_code else [],
        # Only the program and the record ids: a command line may hold what redaction missed.
        message=record_message(command.argv, [rid for rid, _ in encoded]),
    )
    outcome = RunOutcome(
        exit_code=ran.exit_code,
        code=before.code,
        records=records,
        record_ids=[rid for rid, _ in encoded],
        warnings=[*after.warnings, *notes],
    )
    for (rid, _), rec in zip(encoded, records, strict=True):
        if rec.run is None:
            continue
        try:
            session_runs.set_tags(ctx, rec.run, _mirror_tags(rid, rec))
        except LineageError as exc:
            outcome.warnings.append(f"could not tag MLflow run {rec.run.run_id}: {exc}")
    return outcome


def record_message(argv: Sequence[str], record_ids: Sequence[str]) -> str:
    """The lineage ref's commit message for new run records: the program's name, the ids."""
    program = posixpath.basename(argv[0]) if argv else "?"
    ids = ", ".join(rid[:12] for rid in record_ids[:3])
    more = f" and {len(record_ids) - 3} more" if len(record_ids) > 3 else ""
    return f"lineage: record {len(record_ids)} run(s) of `{program}`: {ids}{more}"


def _share_fields(share: StageShare | None) -> dict[str, Any]:
    """A run started in a DVC stage records that stage's data; any other the command's."""
    if share is None:
        return {}
    return {"inputs": share.inputs, "outputs": share.outputs, "stages": share.stages}


def _interrupted(ctx: Context, run: MlflowRun, warn: Callable[[str], None]) -> MlflowRun:
    """The run of an interrupted command as MLflow should say it: KILLED. Its end-of-run
    handling may have written FINISHED (an `atexit` end_run after the KeyboardInterrupt) or
    FAILED, or nothing (RUNNING); the store is corrected too, so MLflow's UI agrees."""
    if run.status == "KILLED":
        return run
    try:
        store = session_runs.store_of(ctx, run)
        with mlflow_adapter.file_stores_allowed(store):
            mlflow_adapter.mark_killed(store, run.run_id)
    except LineageError as exc:  # the record still says KILLED
        warn(f"could not mark interrupted MLflow run {run.run_id} KILLED: {exc}")
    return replace(run, status="KILLED")


def _mirror_tags(record_id: str, rec: RunRecord) -> dict[str, str]:
    data = json.dumps({d.path: d.md5 for d in rec.inputs}, sort_keys=True)
    if len(data) > TAG_VALUE_LIMIT:
        data = data[: TAG_VALUE_LIMIT - 1] + "…"
    tags = {
        "lineage.session": rec.session,  # runs `mlflow run` made were not tagged in the child
        "lineage.record": record_id,
        "lineage.commit": rec.code.commit or "",
        "lineage.dirty": "true" if rec.code.dirty else "false",
        "lineage.data": data,
    }
    if rec.code.snapshot:
        tags["lineage.snapshot"] = rec.code.snapshot
    return tags
