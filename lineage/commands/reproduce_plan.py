"""`lineage reproduce REF`, first half: the plan. Everything reproduce would do, checked, without
running or writing anything (what `--dry-run` prints).

Resolve REF (aliases live) to a run and its representative record; check the recorded commit or
snapshot is here; ask where each input md5 is (the DVC cache on disk, else the remote in one
batched query); derive the command (the recorded argv; `dvc repro --force --single-item` of the
stages that ran; the MLproject entry point); compare the recorded environment with the
interpreter the rerun would use; pick the link types. Problems found here stop the reproduction
before anything runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lineage import environment
from lineage.adapters import (
    dvc_config,
    dvc_link,
    dvc_pipeline,
    dvc_store,
    git,
    git_content,
    mlflow_project,
)
from lineage.context import Context
from lineage.errors import LineageError, UnsafePathError
from lineage.index import Index
from lineage.records import (
    OBSERVED,
    STATE_MISSING,
    Data,
    ModelVersion,
    RunRecord,
    run_record_from_dict,
)
from lineage.redact import redact_uri
from lineage.resolve import Node, resolve, run_of

LINK_AS_ROOT = "LINEAGE_LINK_AS_ROOT"


class ReproductionBlocked(LineageError):
    """The plan found missing code, data or command: nothing was run."""


@dataclass(frozen=True)
class InputPlan:
    data: Data
    where: str  # cache, remote, missing, skipped
    remote: str | None = None
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvironmentDiff:
    python_then: str | None
    python_now: str | None
    changed: tuple[tuple[str, str, str], ...] = ()  # name, recorded version, version now
    missing: tuple[tuple[str, str], ...] = ()  # recorded but not installed now
    added: tuple[tuple[str, str], ...] = ()  # installed now, not recorded
    known: bool = True  # False when the record has no package list to compare with

    @property
    def same(self) -> bool:
        return self.python_then == self.python_now and not (
            self.changed or self.missing or self.added
        )


@dataclass
class Plan:
    ref: str
    node: Node
    model: ModelVersion | None
    run_key: str
    record_id: str
    record: RunRecord
    checkout: str | None  # commit to check out: the snapshot of a dirty tree, or the commit
    code_present: bool
    code_subject: str | None  # the commit's subject line, when it is here
    inputs: list[InputPlan]
    argv: list[str]  # what will run
    command_source: str  # record, dvc.yaml, MLproject, --command
    cwd: str
    foreign: bool  # the record was not written by this clone
    environment: EnvironmentDiff
    link_types: tuple[str, ...]
    link_note: str | None
    tracking_uri: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        # An `mlflow run` from elsewhere names the project and the values put into its command.
        return self.foreign and self.command_source in ("record", "MLproject")

    def blocked_message(self) -> str:
        n = len(self.problems)
        more = f" (and {n - 1} more problem(s), listed above)" if n > 1 else ""
        return f"cannot reproduce {self.ref}: {self.problems[0]}{more}; nothing was run"


def plan(
    ctx: Context, *, ref: str, command: str | None = None, env_manager: str | None = None
) -> Plan:
    """Everything `reproduce` would do, checked, without running or writing anything;
    ``command`` and ``env_manager`` as for :func:`command_for`."""
    node = resolve(ctx, ref)
    run_key, model = run_of(ref, node, ctx.index, verb="reproduce")
    record_id, record = _record(ctx.index, run_key)
    problems: list[str] = []
    warnings = _warnings(ctx, run_key, record)

    checkout = record.code.ran
    present = bool(checkout) and git.has_commit(ctx.paths, checkout or "")
    if checkout is None:
        problems.append("code: the record names no commit (the repository had none)")
    elif not present:
        what = "snapshot" if record.code.snapshot else "commit"
        problems.append(
            f"code: {what} {checkout[:12]} is not in this repository; fetch it "
            "(`git fetch`, or `lineage pull` for snapshots) and try again"
        )
    subject = None
    if present and record.code.commit and not record.code.snapshot:
        summary = git_content.commit_summary(ctx.paths, record.code.commit)
        subject = summary[0] if summary else None

    inputs = _plan_inputs(ctx, record.inputs)
    problems += [_missing_input(item) for item in inputs if item.where == "missing"]
    argv, source, problem = command_for(record, command=command, env_manager=env_manager)
    if env_manager and source != "MLproject":
        problem = problem or (
            "command: --env-manager applies to an `mlflow run` command, and this run's command "
            f"is `{' '.join(argv)}`"
        )
    if problem:
        problems.append(problem)
    configured = dvc_config.cache_config(ctx.paths.root).link_types if inputs else ("copy",)
    links, note = link_types(configured, ctx.environ)
    return Plan(
        ref=ref,
        node=node,
        model=model,
        run_key=run_key,
        record_id=record_id,
        record=record,
        checkout=checkout,
        code_present=present,
        code_subject=subject,
        inputs=inputs,
        argv=argv,
        command_source=source,
        cwd=record.command.cwd if record.command else ".",
        foreign=not ctx.store.written_here(record_id),
        environment=_environment_diff(ctx, record, argv),
        link_types=links,
        link_note=note,
        tracking_uri=ctx.mlflow.tracking,
        problems=problems,
        warnings=warnings,
    )


def _record(index: Index, run_key: str) -> tuple[str, RunRecord]:
    record_id, doc = index.records_for_run(run_key)[0]
    try:
        return record_id, run_record_from_dict(doc)
    except UnsafePathError as exc:
        raise LineageError(
            f"record {record_id[:12]} names the path {exc.path!r}, which is outside the "
            "repository; refusing to reproduce from it"
        ) from None


def _warnings(ctx: Context, run_key: str, record: RunRecord) -> list[str]:
    warnings = []
    if record.evidence != OBSERVED:
        warnings.append(
            f"the record of run {run_key[:12]} is {record.evidence}, not observed: its code and "
            "data were reconstructed after the fact and may not be what really ran"
        )
    here = redact_uri(ctx.mlflow.tracking)
    if record.run and here != record.run.tracking_uri:
        warnings.append(
            f"the run was recorded in {record.run.tracking_uri}; the rerun goes to {here}"
        )
    return warnings


def _plan_inputs(ctx: Context, inputs: Sequence[Data]) -> list[InputPlan]:
    wanted = [d for d in inputs if d.state != STATE_MISSING]
    found = dvc_store.locate(ctx.paths.root, sorted({d.md5 for d in wanted})) if wanted else {}
    plans = []
    for data in inputs:
        if data.state == STATE_MISSING:
            plans.append(InputPlan(data, "skipped"))
            continue
        where = found[data.md5]
        plans.append(InputPlan(data, where.where, where.remote, where.missing))
    return plans


def _missing_input(item: InputPlan) -> str:
    detail = ""
    if item.data.md5.endswith(".dir") and item.missing:
        shown = ", ".join(m[:10] for m in item.missing[:3])
        detail = (
            f" ({len(item.missing)} of its objects: {shown}"
            f"{', ...' if len(item.missing) > 3 else ''})"
        )
    return (
        f"data: {item.data.path} {item.data.md5} is in neither the DVC cache nor "
        f"{remote_phrase(item.remote)}{detail}"
    )


def remote_phrase(remote: str | None) -> str:
    return f'the DVC remote "{remote}"' if remote else "any DVC remote (none is configured)"


def command_for(
    record: RunRecord, *, command: str | None = None, env_manager: str | None = None
) -> tuple[list[str], str, str | None]:
    """What to run, where that command comes from, and why it cannot run (if it cannot).

    ``command`` is the user's own command line (``--command``), which replaces the recorded
    one; ``env_manager`` reruns an `mlflow run` in another environment manager."""
    if command is not None:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return [], "--command", f"command: --command is not a valid command line ({exc})"
        if not argv:
            return [], "--command", "command: --command is empty"
        return argv, "--command", None
    if record.command is None:
        return [], "record", "command: the record has no command to rerun"
    argv = list(record.command.argv)
    if record.command.arguments_unknown:
        return argv, "record", _arguments_unknown(record, argv)
    if dvc_pipeline.is_pipeline_command(argv):
        rerun = dvc_pipeline.forced_rerun(argv, [s.name for s in record.stages])
        if rerun is None:
            return (
                argv,
                "dvc.yaml",
                f"command: `{' '.join(argv)}` cannot be rerun yet (only `dvc exp run` without "
                "arguments is); rerun it yourself in a worktree",
            )
        return rerun, "dvc.yaml", None
    if mlflow_project.is_mlflow_run(argv):
        if record.project is not None and record.evidence != OBSERVED:
            # Imported: the command line was rebuilt from MLflow's tags and params.
            return (
                mlflow_project.rerun_argv(record.project, env_manager=env_manager),
                ("MLproject"),
                None,
            )
        return mlflow_project.rerun_as_recorded(argv, env_manager=env_manager), "MLproject", None
    return argv, "record", None


def _arguments_unknown(record: RunRecord, argv: list[str]) -> str:
    params = record.run.params if record.run else {}
    named = ", ".join(f"{k}={v}" for k, v in sorted(params.items())[:6])
    more = ", ..." if len(params) > 6 else ""
    could = f" (it logged {named}{more}, which it may have taken from them)" if params else ""
    return (
        f"command: MLflow kept the script, `{' '.join(argv)}`, but not the arguments it was "
        f"given{could}; lineage will not guess them: give the full command line with "
        f"--command '{' '.join(argv)} ...'"
    )


def link_types(
    configured: Sequence[str], environ: Mapping[str, str]
) -> tuple[tuple[str, ...], str | None]:
    """The repository's DVC link types, minus links that would not protect the cache."""
    types = [t for t in configured if t in dvc_link.LINK_TYPES]
    note = None
    if not dvc_link.links_protect_cache() and environ.get(LINK_AS_ROOT) != "1":
        unsafe = [t for t in types if t in ("hardlink", "symlink")]
        if unsafe:
            types = [t for t in types if t not in unsafe]
            note = (
                f"not using {'/'.join(unsafe)}: running as root, read-only links would not stop "
                f"the rerun from writing into the DVC cache (set {LINK_AS_ROOT}=1 to link anyway)"
            )
    if not types or types[-1] != "copy":
        types.append("copy")
    return tuple(dict.fromkeys(types)), note


def _interpreter(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The Python a rerun would use: argv's own, else `python` on PATH (DVC stage commands)."""
    search = environ.get("PATH", os.defpath)
    if argv and os.path.basename(argv[0]).startswith("python"):
        return shutil.which(argv[0], path=search)
    return shutil.which("python", path=search) or shutil.which("python3", path=search)


def _environment_diff(ctx: Context, record: RunRecord, argv: Sequence[str]) -> EnvironmentDiff:
    ref = record.environment
    # Only a record made by a Python interpreter (lineage's MLflow plugin inside the command)
    # has a package list worth comparing; probing costs a Python start (~0.2 s).
    python = _interpreter(argv, ctx.environ) if ref is not None and ref.source == "child" else None
    now = environment.capture_interpreter(python, environ=ctx.environ) if python else None
    now_python = now.python if now else None
    then_doc = ctx.index.record(ref.packages_record) if ref else None
    if ref is None or then_doc is None or now is None:
        return EnvironmentDiff(ref.python if ref else None, now_python, known=False)
    then: dict[str, str] = then_doc.get("packages") or {}
    changed = tuple(
        (name, then[name], now.packages[name])
        for name in sorted(then)
        if name in now.packages and now.packages[name] != then[name]
    )
    missing = tuple((name, then[name]) for name in sorted(then) if name not in now.packages)
    added = tuple((name, now.packages[name]) for name in sorted(now.packages) if name not in then)
    return EnvironmentDiff(ref.python, now_python, changed, missing, added)
