"""`lineage reproduce REF`: rebuild a model version (or run) from its recorded code and data.

Resolve the model to its run and that run's record; plan (code object, each input md5 and where
it will come from, the command, environment differences) and stop before anything runs when
something is missing; check the recorded commit or snapshot out in a new detached worktree;
restore every input by its recorded md5 from the DVC cache (fetching from the remote what is
missing) and verify it; rerun the recorded command there under `lineage run`, so the rerun is
recorded too; compare params, metrics and DVC outputs with the original; write a reproduction
record; remove the worktree. The user's working tree, index, branches and DVC workspace are never
touched: everything happens in the worktree, the shared DVC cache and the lineage store.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lineage import __version__, config, environment
from lineage.adapters import dvc, dvc_store, git
from lineage.adapters import mlflow as mlflow_adapter
from lineage.commands import run as run_command
from lineage.errors import (
    EXIT_DIFFERS,
    EXIT_RERUN_FAILED,
    InterruptedByUser,
    LineageError,
    UnsafePathError,
)
from lineage.index import Index
from lineage.records import (
    DIFFERS,
    FAILED,
    OBSERVED,
    REPRODUCED,
    STATE_MISSING,
    Check,
    Data,
    MlflowRun,
    ModelVersion,
    Provenance,
    ReproductionRecord,
    RunRecord,
    encode,
    run_record_from_dict,
)
from lineage.resolve import Node, resolve, run_of
from lineage.store import Store

Notify = Callable[[str], None]
Confirm = Callable[[str], bool]
TAIL_LINES = 30
# Flags of `dvc exp run` that mean the same for `dvc repro`; anything else (-S, --queue, -n)
# changes what runs and is not supported yet.
_EXP_RUN_FLAGS = {"-q", "--quiet", "-v", "--verbose", "-f", "--force"}
_LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
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
    inputs: list[InputPlan]
    argv: list[str]  # what will run
    command_source: str  # record, dvc.yaml, MLproject
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
        return self.foreign and self.command_source == "record"


@dataclass
class Result:
    plan: Plan
    verdict: str
    exit_code: int  # lineage's: 0, 4 or 5
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


# -- planning ------------------------------------------------------------------------------


def plan(
    *,
    ref: str,
    index: Index,
    paths: git.RepoPaths,
    environ: Mapping[str, str],
    cwd: Path,
) -> Plan:
    """Everything `reproduce` would do, checked, without running or writing anything."""
    node = resolve(ref, index=index, paths=paths, environ=environ)
    run_key, model = run_of(ref, node, index, verb="reproduce")
    record_id, doc = index.records_for_run(run_key)[0]
    try:
        record = run_record_from_dict(doc)
    except UnsafePathError as exc:
        raise LineageError(
            f"record {record_id[:12]} names the path {exc.path!r}, which is outside the "
            "repository; refusing to reproduce from it"
        ) from None
    uri = mlflow_adapter.tracking_uri(environ, cwd)
    problems: list[str] = []
    warnings: list[str] = []
    if record.evidence != OBSERVED:
        warnings.append(
            f"the record of run {run_key[:12]} is {record.evidence}, not observed: its code and "
            "data were reconstructed after the fact and may not be what really ran"
        )
    if record.run and mlflow_adapter.redact_uri(uri) != record.run.tracking_uri:
        warnings.append(
            f"the run was recorded in {record.run.tracking_uri}; the rerun goes to "
            f"{mlflow_adapter.redact_uri(uri)}"
        )

    checkout = record.code.ran
    present = bool(checkout) and git.has_commit(paths, checkout or "")
    if checkout is None:
        problems.append("code: the record names no commit (the repository had none)")
    elif not present:
        what = "snapshot" if record.code.snapshot else "commit"
        problems.append(
            f"code: {what} {checkout[:12]} is not in this repository; fetch it "
            "(`git fetch`, or `lineage pull` for snapshots) and try again"
        )

    inputs = _plan_inputs(paths.root, record.inputs)
    for item in inputs:
        if item.where == "missing":
            detail = (
                f" ({len(item.missing)} of its objects: "
                f"{', '.join(m[:10] for m in item.missing[:3])}"
                f"{', ...' if len(item.missing) > 3 else ''})"
                if item.data.md5.endswith(".dir") and item.missing
                else ""
            )
            problems.append(
                f"data: {item.data.path} {item.data.md5} is in neither the DVC cache nor "
                f"{remote_phrase(item.remote)}{detail}"
            )

    argv, source, problem = _command(record)
    if problem:
        problems.append(problem)
    cfg_links = dvc_store.cache_config(paths.root).link_types if inputs else ("copy",)
    links, note = _link_types(cfg_links, environ)
    store = Store(paths)
    return Plan(
        ref=ref,
        node=node,
        model=model,
        run_key=run_key,
        record_id=record_id,
        record=record,
        checkout=checkout,
        code_present=present,
        inputs=inputs,
        argv=argv,
        command_source=source,
        cwd=record.command.cwd if record.command else ".",
        foreign=not store.written_here(record_id),
        environment=_environment_diff(index, record, argv, environ, cwd),
        link_types=links,
        link_note=note,
        tracking_uri=uri,
        problems=problems,
        warnings=warnings,
    )


def _plan_inputs(root: Path, inputs: Sequence[Data]) -> list[InputPlan]:
    wanted = [d for d in inputs if d.state != STATE_MISSING]
    found = dvc_store.locate(root, sorted({d.md5 for d in wanted})) if wanted else {}
    plans = []
    for data in inputs:
        if data.state == STATE_MISSING:
            plans.append(InputPlan(data, "skipped"))
            continue
        where = found[data.md5]
        plans.append(InputPlan(data, where.where, where.remote, where.missing))
    return plans


def remote_phrase(remote: str | None) -> str:
    return f'the DVC remote "{remote}"' if remote else "any DVC remote (none is configured)"


def _command(record: RunRecord) -> tuple[list[str], str, str | None]:
    """What to run, where the command is defined, and why it cannot run (if it cannot)."""
    if record.command is None:
        return [], "record", "command: the record has no command to rerun"
    argv = list(record.command.argv)
    name = os.path.basename(argv[0]) if argv else ""
    if run_command._is_dvc_pipeline(argv):
        words = [a for a in argv[1:] if not a.startswith("-")]
        flags = [a for a in argv[1:] if a.startswith("-")]
        if words[:2] == ["exp", "run"] and (
            words[2:] or any(f not in _EXP_RUN_FLAGS for f in flags)
        ):
            return (
                argv,
                "dvc.yaml",
                f"command: `{' '.join(argv)}` cannot be rerun yet (only `dvc exp run` without "
                "arguments is); rerun it yourself in a worktree",
            )
        quiet = [f for f in flags if f in ("-q", "--quiet", "-v", "--verbose")]
        # Exactly the stages that ran, each forced (never restored from DVC's run-cache) and
        # without their upstream stages, whose outputs are restored by their recorded hashes.
        stages = [s.name for s in record.stages] or words[1:]
        single = ["--single-item", *stages] if stages else []
        return ["dvc", "repro", *quiet, "--force", *single], "dvc.yaml", None
    if name == "mlflow" and argv[1:2] == ["run"]:
        return argv, "MLproject", None
    return argv, "record", None


def _link_types(
    configured: Sequence[str], environ: Mapping[str, str]
) -> tuple[tuple[str, ...], str | None]:
    """The repository's DVC link types, minus links that would not protect the cache."""
    types = [t for t in configured if t in _LINK_TYPES]
    note = None
    if not dvc_store.links_protect_cache() and environ.get(LINK_AS_ROOT) != "1":
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


def _environment_diff(
    index: Index,
    record: RunRecord,
    argv: Sequence[str],
    environ: Mapping[str, str],
    cwd: Path,
) -> EnvironmentDiff:
    ref = record.environment
    # Only a record made by a Python interpreter (lineage's MLflow plugin inside the command)
    # has a package list worth comparing; probing costs a Python start (~0.2 s).
    python = _interpreter(argv, environ) if ref is not None and ref.source == "child" else None
    now = environment.capture_interpreter(python, environ=environ) if python else None
    now_python = now.python if now else None
    then_doc = index.record(ref.packages_record) if ref else None
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


# -- running -------------------------------------------------------------------------------


def reproduce(
    prepared: Plan,
    *,
    paths: git.RepoPaths,
    environ: Mapping[str, str],
    workdir: Path | None = None,
    keep: bool = False,
    register: bool = False,
    rtol: float = 0.0,
    atol: float = 0.0,
    judged_metrics: Sequence[str] = (),
    notify: Notify = lambda _: None,
) -> Result:
    """Carry the plan out: worktree, data, rerun, comparison, reproduction record."""
    if prepared.problems:
        raise ReproductionBlocked(blocked_message(prepared))
    assert prepared.checkout is not None
    record = prepared.record
    worktree = workdir or paths.lineage_dir / "worktrees" / (
        f"{prepared.run_key[:12]}-{uuid.uuid4().hex[:6]}"
    )
    if worktree.exists() and any(worktree.iterdir()):
        raise LineageError(f"{worktree} is not empty; give --workdir a new or empty directory")
    scratch = Path(tempfile.mkdtemp(prefix="lineage-reproduce-"))
    result = Result(plan=prepared, verdict=FAILED, exit_code=EXIT_RERUN_FAILED, worktree=worktree)
    worktree.parent.mkdir(parents=True, exist_ok=True)
    added = False
    try:
        notify(f"checking out {prepared.checkout[:12]} in {worktree}")
        git.worktree_add(paths, worktree, prepared.checkout)
        added = True
        wt_paths = git.discover(worktree)
        result.restored = _restore(prepared, paths, worktree, notify)

        tail: deque[str] = deque(maxlen=TAIL_LINES)
        child_extra = {"LINEAGE_REPRODUCES": record.run_key}
        if not register:
            # The training script may register its model: keep that out of the real registry,
            # where a new "latest" version could be picked up by a deployment.
            child_extra["MLFLOW_REGISTRY_URI"] = f"sqlite:///{scratch / 'registry.db'}"
            notify(
                "model versions the rerun registers go to a throwaway registry "
                "(--register keeps them, tagged as reproductions)"
            )
        rerun_environ = {
            k: v
            for k, v in environ.items()
            if k not in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID")
        }
        rerun_environ["MLFLOW_TRACKING_URI"] = prepared.tracking_uri
        if record.run:
            rerun_environ["MLFLOW_EXPERIMENT_ID"] = record.run.experiment_id
        notify(f"running `{' '.join(prepared.argv)}`")
        outcome = run_command.run(
            paths=wt_paths,
            argv=prepared.argv,
            cwd=worktree / prepared.cwd,
            environ=rerun_environ,
            notify=notify,
            cfg=_config(paths),
            child_extra_env=child_extra,
            tail=tail,
            workspace_notes=False,
        )
        if outcome.exit_code in (130, 143):  # SIGINT / SIGTERM: stopped, not a verdict
            raise InterruptedByUser(
                "interrupted: the rerun was stopped, so no verdict was recorded; the worktree "
                "was removed and your checkout is untouched"
            )
        result.rerun_exit = outcome.exit_code
        result.tail = list(tail)
        result.notes.extend(outcome.warnings)
        rerun = _match(record.run, outcome.records)
        result.rerun = rerun
        if rerun is not None:
            result.rerun_record = outcome.record_ids[outcome.records.index(rerun)]
        _judge(result, rtol=rtol, atol=atol, judged=judged_metrics)
        result.record_id = _write_record(paths, result, rtol, atol)
        _tag(result, paths, environ, register)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if keep and added:
            result.kept = True
        elif added or worktree.exists():
            git.worktree_remove(paths, worktree)
            with dvc.StatCache(paths.lineage_dir / "statcache.sqlite") as stat_cache:
                stat_cache.forget(worktree)  # its files are gone; keep the cache small


def _config(paths: git.RepoPaths) -> config.Config:
    return config.load(paths.root) if config.is_initialized(paths.root) else config.Config()


def blocked_message(prepared: Plan) -> str:
    n = len(prepared.problems)
    first = prepared.problems[0]
    more = f" (and {n - 1} more problem(s), listed above)" if n > 1 else ""
    return f"cannot reproduce {prepared.ref}: {first}{more}; nothing was run"


def _restore(
    prepared: Plan, paths: git.RepoPaths, worktree: Path, notify: Notify
) -> list[tuple[Data, str]]:
    """Put every input into the worktree by its recorded md5, and verify it."""
    todo = [i for i in prepared.inputs if i.where in ("cache", "remote")]
    if not todo:
        return []
    cache = dvc_store.cache_config(paths.root)
    remote = [i for i in todo if i.where == "remote"]
    if remote:
        names = sorted({i.remote or "" for i in remote})
        notify(f"fetching {len(remote)} object(s) from DVC remote {', '.join(names)}")

        def progress(done: int, total: int) -> None:
            notify(f"fetched {done}/{total} files")

        failed: list[str] = []
        for name in names:
            md5s = [i.data.md5 for i in remote if (i.remote or "") == name]
            failed += dvc_store.fetch(paths.root, md5s, remote=name or None, progress=progress)
        if failed:
            raise LineageError(
                f"could not fetch {', '.join(f[:10] for f in failed[:5])} from the DVC remote; "
                "check the remote's credentials and connectivity (`dvc fetch` shows details)"
            )
    if dvc.is_dvc_repo(worktree):
        _point_dvc_at_shared_cache(paths.root, worktree, cache.cache_dir, prepared.link_types)
    restored = []
    with dvc.StatCache(paths.lineage_dir / "statcache.sqlite") as stat_cache:
        for item in todo:
            data = item.data
            dest = worktree / data.path
            used = dvc_store.materialize(cache, data.md5, dest, link_types=prepared.link_types)
            if not dvc_store.verify(cache, data.md5, dest, stat_cache):
                raise LineageError(
                    f"{data.path} restored from the DVC cache does not hash to {data.md5}: the "
                    "cache object is damaged; remove it and run `dvc fetch` to get a good copy"
                )
            restored.append((data, used))
    notify(f"restored and verified {len(restored)} input(s) ({_summary_links(restored)})")
    return restored


def _summary_links(restored: Sequence[tuple[Data, str]]) -> str:
    kinds: dict[str, int] = {}
    for _, used in restored:
        kinds[used] = kinds.get(used, 0) + 1
    return ", ".join(f"{n} by {kind}" for kind, n in sorted(kinds.items()))


def _point_dvc_at_shared_cache(
    root: Path, worktree: Path, cache_dir: Path, link_types: Sequence[str]
) -> None:
    """DVC in the worktree uses the main cache (outputs of a rerun stage land there) with the
    same link types as the restore. The user's own `.dvc/config.local` (remote credentials) is
    carried over; nothing of the user's is modified."""
    from configobj import ConfigObj  # type: ignore[import-untyped]  # a DVC dependency

    source = root / ".dvc" / "config.local"
    local = ConfigObj(str(source)) if source.exists() else ConfigObj()
    local.filename = str(worktree / ".dvc" / "config.local")
    local.setdefault("cache", {})
    local["cache"]["dir"] = str(cache_dir)
    local["cache"]["type"] = ",".join(link_types)
    local.write()


def _match(original: MlflowRun | None, reruns: Sequence[RunRecord]) -> RunRecord | None:
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


# -- judging -------------------------------------------------------------------------------


def _same(a: float | str, b: float | str) -> bool:
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
        if _same(a, b):
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


def _judge(result: Result, *, rtol: float, atol: float, judged: Sequence[str] = ()) -> None:
    record = result.plan.record
    rerun = result.rerun
    original_outputs: dict[str, float | str] = {d.path: d.md5 for d in record.outputs}
    if rerun is not None:
        if record.run and rerun.run:
            result.metrics = compare_values(
                record.run.metrics, rerun.run.metrics, rtol=rtol, atol=atol
            )
            result.params = compare_values(dict(record.run.params), dict(rerun.run.params))
            if judged:  # --metric: the others are shown, but do not decide the verdict
                result.metrics = [
                    c
                    if c.name in judged or c.status not in ("differs", "missing")
                    else Check(c.name, c.original, c.rerun, "ignored")
                    for c in result.metrics
                ]
        rerun_outputs: dict[str, float | str] = {d.path: d.md5 for d in rerun.outputs}
        result.outputs = [
            c for c in compare_values(original_outputs, rerun_outputs) if c.status != "new"
        ]
    if result.rerun_exit != 0:
        result.verdict, result.exit_code = FAILED, EXIT_RERUN_FAILED
        return
    if rerun is None:
        result.verdict, result.exit_code = FAILED, EXIT_RERUN_FAILED
        result.notes.append(
            "the rerun exited 0 but started no MLflow run, so there is nothing to compare"
        )
        return
    bad = [
        c
        for c in (*result.metrics, *result.params, *result.outputs)
        if c.status in ("differs", "missing")
    ]
    if bad:
        result.verdict, result.exit_code = DIFFERS, EXIT_DIFFERS
    else:
        result.verdict, result.exit_code = REPRODUCED, 0
        if not (result.metrics or result.outputs):
            result.notes.append(
                "the original run recorded no metrics and no DVC outputs: the only evidence is "
                "that the command succeeded again"
            )


def _write_record(paths: git.RepoPaths, result: Result, rtol: float, atol: float) -> str:
    plan_ = result.plan
    name, email = git.identity(paths)
    created = Provenance(
        at=run_command.iso(run_command.utc_now()),
        name=name,
        email=email,
        tool=f"lineage {__version__}",
    )
    rec = ReproductionRecord(
        evidence=OBSERVED,
        created=created,
        original_run=plan_.run_key,
        original_record=plan_.record_id,
        code=plan_.checkout or "",
        command=tuple(mlflow_adapter.redact_argv(plan_.argv)),
        verdict=result.verdict,
        rtol=rtol,
        atol=atol,
        model=plan_.model,
        inputs=tuple(d for d, _ in result.restored),
        rerun_run=result.rerun.run_key if result.rerun else None,
        rerun_record=result.rerun_record,
        exit_code=result.rerun_exit,
        metrics=tuple(result.metrics),
        params=tuple(result.params),
        outputs=tuple(result.outputs),
    )
    rid, blob = encode(rec)
    Store(paths).append(
        [(rid, blob)],
        message=f"lineage: reproduction of {plan_.model or plan_.run_key}: {result.verdict}",
    )
    return rid


def _tag(result: Result, paths: git.RepoPaths, environ: Mapping[str, str], register: bool) -> None:
    """Mirror the verdict on the rerun's MLflow run; mark versions a --register rerun made."""
    rerun = result.rerun
    if rerun is None or rerun.run is None:
        return
    uri = result.plan.tracking_uri
    try:
        mlflow_adapter.set_tags(
            uri,
            rerun.run.run_id,
            {"lineage.verdict": result.verdict, "lineage.reproduction": result.record_id or ""},
        )
        if register and rerun.models:
            registry = mlflow_adapter.registry_uri(environ, uri)
            mlflow_adapter.set_version_tags(
                uri, registry, rerun.models, {"lineage.reproduces": result.plan.run_key}
            )
            result.registered = list(rerun.models)
    except LineageError as exc:
        result.notes.append(f"could not tag the rerun in MLflow: {exc}")


def ensure_confirmed(p: Plan, *, yes: bool, confirm: Confirm | None) -> None:
    """A command taken from a record made elsewhere runs only with the user's consent."""
    if not p.needs_confirmation or yes:
        return
    question = (
        f"The command `{' '.join(p.argv)}` comes from record {p.record_id[:12]}, which was not "
        "written by this clone (it was fetched). Run it?"
    )
    if confirm is not None and confirm(question):
        return
    raise LineageError(
        f"not running `{' '.join(p.argv)}` from a record this clone did not write; read it, "
        "then rerun with --yes to run it"
    )
