"""The MLflow runs a recorded command made, found wherever they went.

Lineage's MLflow plugin, inside the command, leaves a note in the session directory for every
run a process started (with the store it used, which the script may have chosen itself) and
every run it resumed through ``MLFLOW_RUN_ID`` (how `mlflow run` hands its run to the entry
point); see ``lineage/session.py``. This module reads those notes and then each store: the runs
tagged with the session, the resumed runs by id, and the model versions registered from them.

An `mlflow run` whose entry point ran without the plugin (its environment manager built an
environment without lineage in it) leaves no note: its run is looked for as the one run of
source type PROJECT that started while the command ran and carries no other session's tag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lineage.adapters import mlflow as mlflow_adapter
from lineage.adapters.mlflow_project import is_mlflow_run
from lineage.context import Context
from lineage.errors import LineageError
from lineage.records import MlflowRun, ModelVersion
from lineage.redact import redact_uri
from lineage.session import Session, StoreUse

# A run `mlflow run` created may start a little before lineage's clock reading of the child's
# start (the two clocks are the same, but the reading is taken just before the spawn).
_START_SLACK_MS = 2000


@dataclass
class _Store:
    """One tracking store to read back, and what the session's processes said of it."""

    tracking: str  # as lineage reads it (credentials kept when they were lineage's own)
    registry: str
    started: int = 0  # runs started there (tagged with the session)
    resumed: list[str] = field(default_factory=list)  # run ids resumed there
    unnoted: bool = False  # a process reached MLflow but left no note: search it anyway

    @property
    def shown(self) -> str:
        return redact_uri(self.tracking)


@dataclass(frozen=True)
class Found:
    runs: tuple[MlflowRun, ...] = ()
    versions: Mapping[str, Sequence[ModelVersion]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # Run id -> the DVC stage it was started in (``DVC_STAGE`` as DVC spelled it), if any.
    stages: Mapping[str, str] = field(default_factory=dict)
    # Run id -> the MLflow Project entry point that made it, for runs `mlflow run` or
    # `mlflow.projects.run` created (each step of a multi-step runner is one).
    steps: Mapping[str, ProjectStep] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectStep:
    """What MLflow tagged a project run with: the entry point, where the project was (its
    ``mlflow.source.name``: ``file://<repo>#<subdir>`` for a local project) and the
    environment manager MLflow built (None: the caller's own)."""

    entry_point: str
    source: str | None
    env_manager: str | None


def find(
    ctx: Context, session: Session, argv: Sequence[str], *, started_ms: int, ended_ms: int
) -> Found:
    """Every run the command's processes started or resumed, in every store they used."""
    stores = _stores(ctx, session)
    runs: list[MlflowRun] = []
    versions: dict[str, list[ModelVersion]] = {}
    warnings: list[str] = []
    stages: dict[str, str] = {}
    steps: dict[str, ProjectStep] = {}
    for store in stores:
        try:
            found = _read(store, session, stages, steps)
        except LineageError as exc:
            warnings.append(_unread(store, exc))
            continue
        runs += found
        if found:
            try:
                versions.update(_versions(store, [r.run_id for r in found]))
            except LineageError as exc:  # the runs are recorded; their versions come later
                warnings.append(_unregistered(ctx, store, found, exc))
        if missing := _missing(store, found):
            warnings.append(missing)
    if is_mlflow_run(argv) and not any(s.resumed for s in stores):
        # The entry point never reached lineage's plugin: look for the run `mlflow run` made.
        try:
            project_runs, note = _project_run(ctx, session, started_ms, ended_ms)
            runs += [r for r in project_runs if r.run_id not in {x.run_id for x in runs}]
            if project_runs:
                home = _Store(ctx.mlflow.tracking, ctx.mlflow.registry)
                versions.update(_versions(home, [r.run_id for r in project_runs]))
            if note:
                warnings.append(note)
        except LineageError as exc:
            warnings.append(
                f"the run `mlflow run` made could not be looked for in "
                f"{redact_uri(ctx.mlflow.tracking)} ({exc}); the command was recorded without it"
            )
    runs.sort(key=lambda r: (r.start_ms or 0, r.run_id))
    for run_id, use in session.resumed_runs().items():
        if use.stage:
            stages.setdefault(run_id, use.stage)
    return Found(tuple(runs), versions, tuple(warnings), stages, steps)


def store_of(ctx: Context, run: MlflowRun) -> str:
    """The URI to reach a recorded run's store: lineage's own (with any credentials it has)
    when the run is there, else the store the record names."""
    if redact_uri(ctx.mlflow.tracking) == run.tracking_uri:
        return ctx.mlflow.tracking
    return run.tracking_uri


def set_tags(ctx: Context, run: MlflowRun, tags: Mapping[str, str]) -> None:
    """Tag a recorded run in the store it is in."""
    store = store_of(ctx, run)
    with mlflow_adapter.file_stores_allowed(store):
        mlflow_adapter.set_tags(store, run.run_id, tags)


def _stores(ctx: Context, session: Session) -> list[_Store]:
    """The stores to read, lineage's own first: each named in the session's notes, or lineage's
    own when a process reached MLflow without leaving any (a plugin older than the notes)."""
    own = _Store(ctx.mlflow.tracking, ctx.mlflow.registry)
    by_uri: dict[str, _Store] = {own.shown: own}

    def store_of(use: StoreUse) -> _Store:
        shown = use.tracking or own.shown
        if shown not in by_uri:
            registry = use.registry or shown
            if registry == redact_uri(ctx.mlflow.registry):
                registry = ctx.mlflow.registry
            by_uri[shown] = _Store(shown, registry)
        return by_uri[shown]

    started = session.started_runs()
    resumed = session.resumed_runs()
    for use in started:
        store = store_of(use)
        store.started += use.run
        store.unnoted |= not use.run  # a logged model or trace: its store may hold runs too
    for run_id, use in sorted(resumed.items()):
        store_of(use).resumed.append(run_id)
    if not started and not resumed and session.reached_mlflow():
        own.unnoted = True  # some process reached MLflow: look where lineage sent it
    return [s for s in by_uri.values() if s.started or s.resumed or s.unnoted]


def _read(
    store: _Store, session: Session, stages: dict[str, str], steps: dict[str, ProjectStep]
) -> list[MlflowRun]:
    """The store's runs of the session; the DVC stage each tagged one ran in goes to
    ``stages``, the project entry point each project run was made by to ``steps``."""
    with mlflow_adapter.file_stores_allowed(store.tracking):
        tagged = store.started or store.unnoted
        pairs = (
            mlflow_adapter.find_session_runs_tagged(store.tracking, session.id) if tagged else []
        )
        seen = {run.run_id for run, _ in pairs}
        missing = [run_id for run_id in store.resumed if run_id not in seen]
        if missing:  # runs `mlflow run` made, resumed by the entry point (MLFLOW_RUN_ID)
            pairs += mlflow_adapter.runs_by_id_tagged(store.tracking, missing)
        for run, tags in pairs:
            if stage := tags.get(mlflow_adapter.STAGE_TAG):
                stages[run.run_id] = stage
            if entry := tags.get(mlflow_adapter.ENTRY_POINT_TAG):
                steps[run.run_id] = ProjectStep(
                    entry,
                    tags.get(mlflow_adapter.SOURCE_NAME_TAG),
                    tags.get(mlflow_adapter.PROJECT_ENV_TAG),
                )
    return [run for run, _ in pairs]


def _versions(store: _Store, run_ids: list[str]) -> dict[str, list[ModelVersion]]:
    with mlflow_adapter.file_stores_allowed(store.tracking, store.registry):
        return mlflow_adapter.registered_versions(store.tracking, store.registry, run_ids)


def _missing(store: _Store, found: Sequence[MlflowRun]) -> str | None:
    """Runs the notes say went to ``store`` that it does not have (deleted since, or a store
    that is gone)."""
    ids = {r.run_id for r in found}
    lost = [run_id for run_id in store.resumed if run_id not in ids]
    tagged = len(ids) - (len(store.resumed) - len(lost))
    unseen = max(store.started - tagged, 0)
    if not lost and not unseen:
        return None
    what = [f"{unseen} run(s) started there"] if unseen else []
    what += [f"run(s) {', '.join(lost)}"] if lost else []
    return (
        f"{' and '.join(what)} could not be found in the MLflow store {store.shown} (deleted "
        "since, or the store moved); the command was recorded without them"
    )


def _unread(store: _Store, exc: LineageError) -> str:
    what = []
    if store.started:
        what.append(f"{store.started} run(s) started there")
    if store.resumed:
        what.append(f"run(s) {', '.join(store.resumed)}")
    return (
        f"the MLflow store {store.shown} could not be read back ({exc}); "
        f"{' and '.join(what)} were not recorded: check the store can be read from here, then "
        "import them with `lineage import mlflow`"
    )


def _unregistered(
    ctx: Context, store: _Store, found: Sequence[MlflowRun], exc: LineageError
) -> str:
    """The runs were read and are recorded; the versions they registered are not, until a
    command that shows models reads that registry (lineage/registrations.py)."""
    registry = redact_uri(store.registry)
    runs = ", ".join(run.run_id for run in found)
    how = (
        "the next `lineage show`, `graph` or `impact`"
        if registry == redact_uri(ctx.mlflow.registry)
        else f"`lineage show` with MLFLOW_REGISTRY_URI={registry}"
    )
    return (
        f"the model registry {registry} could not be read ({exc}); run(s) {runs} were "
        f"recorded without the model versions they registered: once it can be read, {how} "
        "records them"
    )


def _project_run(
    ctx: Context, session: Session, started_ms: int, ended_ms: int
) -> tuple[list[MlflowRun], str | None]:
    with mlflow_adapter.file_stores_allowed(ctx.mlflow.tracking):
        candidates = mlflow_adapter.project_runs_between(
            ctx.mlflow.tracking, started_ms - _START_SLACK_MS, ended_ms
        )
    ours = [run for run, tag in candidates if tag in ("", session.id)]
    where = redact_uri(ctx.mlflow.tracking)
    if not ours:
        return [], (
            f"`mlflow run` made no run lineage could find in {where}: if the project logs "
            "elsewhere, set MLFLOW_TRACKING_URI to that store and record it again"
        )
    if len(ours) > 1:
        ids = ", ".join(r.run_id for r in ours)
        return [], (
            f"the entry point ran without lineage's MLflow plugin, and {len(ours)} MLflow "
            f"Project runs started meanwhile in {where} ({ids}): lineage cannot tell which is "
            "this command's, so none was recorded; rerun with `--env-manager local`, or install "
            "lineage in the project's environment"
        )
    return ours, (
        f"the entry point ran without lineage's MLflow plugin (its environment does not have "
        f"lineage installed): run {ours[0].run_id} was found as the only MLflow Project run "
        "that started meanwhile, and recorded"
    )
