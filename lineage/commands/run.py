"""`lineage run -- CMD ...`: run a training command and record what produced each MLflow run.

Before the child starts (budget ~150 ms, so no mlflow or dvc import): resolve HEAD, snapshot a
dirty tree, read the DVC pointers and check the workspace against them. The child gets a session
id in its environment; lineage's MLflow run-context provider tags every run it starts with it.
After the child exits: read those runs back from MLflow, record one record per run (or one for
the command when it started none), and mirror the key facts as ``lineage.*`` run tags.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from lineage import __version__, child, config, environment
from lineage.adapters import dvc, git
from lineage.adapters import mlflow as mlflow_adapter
from lineage.errors import (
    LineageError,
    TrackingUnreachableError,
)
from lineage.records import (
    OBSERVED,
    Code,
    Command,
    Data,
    Environment,
    MlflowRun,
    ModelVersion,
    Provenance,
    RunRecord,
    Stage,
    encode,
    split_environment,
)
from lineage.store import Store

Notify = Callable[[str], None]
DVC_PIPELINE_COMMANDS = (("repro",), ("exp", "run"))
TAG_VALUE_LIMIT = 5000


def utc_now() -> datetime:
    """The clock; tests may replace it."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class RunOutcome:
    exit_code: int
    record_ids: list[str] = field(default_factory=list)
    run_keys: list[str] = field(default_factory=list)
    code: Code | None = None
    models: list[ModelVersion] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records: list[RunRecord] = field(default_factory=list)


def run(
    *,
    paths: git.RepoPaths,
    argv: Sequence[str],
    cwd: Path,
    environ: Mapping[str, str],
    experiment: str | None = None,
    run_name: str | None = None,
    notify: Notify = lambda _: None,
    cfg: config.Config | None = None,
    child_extra_env: Mapping[str, str] | None = None,
    tail: deque[str] | None = None,
    workspace_notes: bool = True,
) -> RunOutcome:
    """Run argv in cwd and record it. ``cfg`` overrides the checkout's ``.lineage/config.toml``
    (reproduce runs in a worktree of an old commit that may not have one); ``child_extra_env``
    is added to the child's environment only (lineage itself still reads ``environ``);
    ``tail`` keeps the child's last output lines (see ``child.run``); ``workspace_notes=False``
    drops the notes on DVC data that differs from its pointers (reproduce restores only the
    recorded inputs, so the rest of its worktree is deliberately incomplete)."""
    if not argv:
        raise LineageError(
            "no command given; put it after `--`, e.g. `lineage run -- python train.py`"
        )
    cfg = cfg or config.load(paths.root)
    uri = mlflow_adapter.tracking_uri(environ, cwd)
    registry = mlflow_adapter.registry_uri(environ, uri)
    try:
        mlflow_adapter.check_reachable(uri)
    except TrackingUnreachableError as exc:
        raise TrackingUnreachableError(
            exc.uri, exc.reason, "nothing was run: start the server or fix MLFLOW_TRACKING_URI"
        ) from None
    executable = child.resolve_executable(argv[0], cwd, environ)

    code = _capture_code(paths)
    if code.dirty:
        notify(
            f"working tree is dirty ({len(code.changed)} paths); recorded snapshot "
            f"{(code.snapshot or '')[:10]} of the exact tree"
        )
    inputs, lock_before = _capture_data(paths, notify if workspace_notes else lambda _: None)

    session = uuid.uuid4().hex
    session_dir = paths.lineage_dir / "sessions" / session
    session_dir.mkdir(parents=True, exist_ok=True)
    child_env = {
        **environ,
        "MLFLOW_TRACKING_URI": uri,
        "LINEAGE_SESSION": session,
        "LINEAGE_SESSION_DIR": str(session_dir),
        "LINEAGE_COMMIT": code.commit or "",
        "LINEAGE_SNAPSHOT": code.snapshot or "",
        "LINEAGE_DIRTY": "true" if code.dirty else "false",
    }
    if experiment:
        child_env["MLFLOW_EXPERIMENT_NAME"] = experiment
    if run_name:
        child_env["LINEAGE_RUN_NAME"] = run_name
    child_env.update(child_extra_env or {})

    started = utc_now()
    t0 = time.monotonic()
    preloader = _MlflowPreloader(session_dir, uri)
    try:
        returncode = child.run([executable, *argv[1:]], cwd=cwd, env=child_env, tail=tail)
    except LineageError:
        shutil.rmtree(session_dir, ignore_errors=True)
        raise
    finally:
        preloader.stop()
    duration = time.monotonic() - t0
    ended = utc_now()

    outcome = RunOutcome(exit_code=returncode if returncode >= 0 else 128 - returncode, code=code)
    status = "succeeded" if returncode == 0 else ("killed" if returncode < 0 else "failed")
    command = Command(
        argv=mlflow_adapter.redact_argv(argv),
        cwd=os.path.relpath(cwd, paths.root).replace(os.sep, "/"),
        exit_code=outcome.exit_code,
        status=status,
        started=iso(started),
        ended=iso(ended),
        duration_s=round(duration, 3),
    )
    inputs, outputs, stages = _pipeline_data(paths, argv, inputs, lock_before)
    runs: list[MlflowRun] = []
    versions: dict[str, list[ModelVersion]] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Probing another interpreter's environment is a subprocess: overlap it with MLflow.
        env_future = pool.submit(
            _environment, session_dir, executable, argv, child_env, cfg.env_variables
        )
        try:
            # No process of the session reached lineage's MLflow plugin: no run can carry the
            # session tag, so do not pay for an MLflow client to find none.
            reached_mlflow = _mlflow_started(session_dir)
            runs = mlflow_adapter.find_session_runs(uri, session) if reached_mlflow else []
            if runs:
                versions = mlflow_adapter.registered_versions(
                    uri, registry, [r.run_id for r in runs]
                )
        except LineageError as exc:
            outcome.warnings.append(
                f"the MLflow runs could not be read back ({exc}); the command was recorded "
                "without them"
            )
        env = env_future.result()
    shutil.rmtree(session_dir, ignore_errors=True)

    name, email = git.identity(paths)
    created = Provenance(at=iso(utc_now()), name=name, email=email, tool=f"lineage {__version__}")
    env_ref, env_record = split_environment(env)
    base = RunRecord(
        evidence=OBSERVED,
        session=session,
        code=code,
        created=created,
        command=command,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        stages=tuple(stages),
        environment=env_ref,
    )
    records = [replace(base, run=r, models=tuple(versions.get(r.run_id, ()))) for r in runs] or [
        base
    ]
    encoded = [encode(r) for r in records]
    Store(paths).append(
        [*encoded, env_record],
        # The code that ran stays reachable from the lineage ref, and travels with it, even
        # when its branch is rebased, squash-merged or deleted: the snapshot of a dirty tree
        # (its parent is the base commit), else the clean commit.
        keep=[kept] if (kept := code.snapshot or code.commit) else [],
        message=f"lineage: record {len(records)} run(s) of `{' '.join(command.argv)[:60]}`",
    )
    outcome.record_ids = [rid for rid, _ in encoded]
    outcome.records = records
    outcome.run_keys = [r.run_key for r in records]
    outcome.models = [m for r in records for m in r.models]

    for (rid, _), record in zip(encoded, records, strict=True):
        if record.run is None:
            continue
        try:
            mlflow_adapter.set_tags(uri, record.run.run_id, _mirror_tags(rid, record))
        except LineageError as exc:
            outcome.warnings.append(f"could not tag MLflow run {record.run.run_id}: {exc}")
    return outcome


def _capture_code(paths: git.RepoPaths) -> Code:
    head, dirt = git.status(paths)
    snapshot = None
    if dirt.dirty or head.commit is None:
        snapshot = git.snapshot(
            paths,
            head.commit,
            dirt,
            message="lineage snapshot of a dirty working tree\n\n"
            f"Base: {head.commit or '(no commits yet)'}\n",
        )
    return Code(
        commit=head.commit,
        dirty=dirt.dirty or head.commit is None,
        snapshot=snapshot,
        branch=head.branch,
        changed=tuple(sorted({*dirt.changed, *dirt.untracked})),
    )


def _capture_data(paths: git.RepoPaths, notify: Notify) -> tuple[list[Data], bytes | None]:
    if not dvc.is_dvc_repo(paths.root):
        return [], None
    entries: list[dvc.PointerEntry] = []
    for pointer in dvc.find_pointer_files(paths.root):
        if pointer.rsplit("/", 1)[-1] == "dvc.lock":
            entries.extend(dvc.read_dvc_lock(paths.root, pointer))
        else:
            entries.extend(dvc.read_dvc_file(paths.root, pointer))
    cache = dvc.StatCache(paths.lineage_dir / "statcache.sqlite")
    try:
        inputs = dvc.check_workspace(paths.root, _candidate_inputs(entries), cache)
    finally:
        cache.close()
    for data in inputs:
        if data.state != "match":
            notify(
                f"{data.path} is {data.state} compared with {data.pointer}; recording the hash "
                f"actually present ({data.md5[:10]}); run `dvc add`/`dvc commit` to update it"
                if data.state == "modified"
                else f"{data.path} named by {data.pointer} is missing from the workspace; "
                "run `dvc pull` or `dvc checkout`"
            )
    lock = paths.root / "dvc.lock"
    return inputs, lock.read_bytes() if lock.exists() else None


def _candidate_inputs(entries: Sequence[dvc.PointerEntry]) -> list[dvc.PointerEntry]:
    """The DVC data a command outside DVC's pipeline may read: everything `dvc add`ed, and
    pipeline outputs that some stage consumes (prepared datasets). The pipeline's end products
    (models, metrics files) are what a training command writes, not what it reads."""
    deps = [e.path for e in entries if e.role == "dep"]

    def consumed(path: str) -> bool:
        return any(d == path or d.startswith(path + "/") or path.startswith(d + "/") for d in deps)

    return [e for e in entries if e.stage is None or e.role == "dep" or consumed(e.path)]


def _is_dvc_pipeline(argv: Sequence[str]) -> bool:
    if not argv or os.path.basename(argv[0]) != "dvc":
        return False
    words = [a for a in argv[1:] if not a.startswith("-")]
    return any(tuple(words[: len(c)]) == c for c in DVC_PIPELINE_COMMANDS)


def _repro_targets(argv: Sequence[str]) -> list[str]:
    """Stage names given to `dvc repro` (its options take no values)."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    return words[1:] if words[:1] == ["repro"] else []


def _pipeline_data(
    paths: git.RepoPaths,
    argv: Sequence[str],
    inputs: list[Data],
    lock_before: bytes | None,
) -> tuple[list[Data], list[Data], list[Stage]]:
    """For a DVC pipeline, what the executed stages read and wrote, from the new dvc.lock."""
    lock = paths.root / "dvc.lock"
    lock_after = lock.read_bytes() if lock.exists() else None
    pipeline = _is_dvc_pipeline(argv)
    if lock_after is None or (not pipeline and lock_after == lock_before):
        return inputs, [], []
    after = dvc.lock_stages(paths.root)
    before = (
        {s.name: s for s in dvc.lock_stages(paths.root, lock_before.decode())}
        if lock_before
        else {}
    )
    named = set(_repro_targets(argv)) if pipeline else set()
    executed = [s for s in after if before.get(s.name) != s] or (
        # The lock did not change (every stage gave the same hashes again): the stages named on
        # the command line ran, or all of them.
        [s for s in after if not named or s.name in named] if pipeline else []
    )
    if not executed:
        return inputs, [], []
    tracked = git.tracked_files(paths)
    produced = {o.path for s in executed for o in s.outs}
    seen: set[tuple[str, str]] = set()
    pipeline_inputs: list[Data] = []
    for stage in executed:
        for dep in stage.deps:
            # Code deps are covered by the commit; data the pipeline itself made is an output.
            if dep.path in tracked or dep.path in produced or (dep.path, dep.md5) in seen:
                continue
            seen.add((dep.path, dep.md5))
            pipeline_inputs.append(dep)
    outputs = [o for s in executed for o in s.outs]
    return pipeline_inputs, outputs, executed


def _environment(
    session_dir: Path,
    executable: str,
    argv: Sequence[str],
    environ: Mapping[str, str],
    extra_variables: Sequence[str],
) -> Environment:
    env: Environment | None = None
    for path in sorted(session_dir.glob("environment-*.json")):
        try:
            env = environment.from_json(path.read_text(encoding="utf-8"))
            break
        except (OSError, ValueError, TypeError, KeyError):
            continue
    if env is None and os.path.basename(argv[0]).startswith("python"):
        env = environment.capture_interpreter(executable, environ=environ)
    if env is None:
        env = replace(environment.capture(environ), source="lineage")
    extra = {k: environ[k] for k in extra_variables if k in environ}
    if extra:
        env = replace(env, variables={**env.variables, **extra})
    return env


def _mirror_tags(record_id: str, record: RunRecord) -> dict[str, str]:
    data = json.dumps({d.path: d.md5 for d in record.inputs}, sort_keys=True)
    if len(data) > TAG_VALUE_LIMIT:
        data = data[: TAG_VALUE_LIMIT - 1] + "…"
    tags = {
        "lineage.record": record_id,
        "lineage.commit": record.code.commit or "",
        "lineage.dirty": "true" if record.code.dirty else "false",
        "lineage.data": data,
    }
    if record.code.snapshot:
        tags["lineage.snapshot"] = record.code.snapshot
    return tags


class _MlflowPreloader:
    """Imports MLflow's client in a thread while the child runs, unless the child is quick.

    ``import mlflow`` costs over a second of CPU. Paid while the child trains, it is free. Paid
    for a child that is over at once and never touched MLflow (``lineage run -- true``, a small
    ``dvc repro`` stage, the rerun of one), it competes with lineage's own bookkeeping after
    the child and makes the whole command up to ~0.3 s slower on a 2-core machine. So the
    import starts once the child has run for ``GRACE_S`` or has reached lineage's MLflow plugin
    (its ``started-<pid>`` marker in the session directory), whichever comes first.
    """

    POLL_S = 0.05
    GRACE_S = 0.5

    def __init__(self, session_dir: Path, uri: str) -> None:
        self._session_dir = session_dir
        self._uri = uri
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="lineage-mlflow-preload", daemon=True).start()

    def _watch(self) -> None:
        deadline = time.monotonic() + self.GRACE_S
        while not self._stop.wait(self.POLL_S):
            if time.monotonic() >= deadline or _mlflow_started(self._session_dir):
                mlflow_adapter.preload(self._uri)
                return

    def stop(self) -> None:
        """The child has ended: stop waiting (an import already under way goes on)."""
        self._stop.set()


def _mlflow_started(session_dir: Path) -> bool:
    """Whether any process of the session reached lineage's MLflow plugin."""
    try:
        return any(entry.name.startswith("started-") for entry in os.scandir(session_dir))
    except OSError:
        return False
