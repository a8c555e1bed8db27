"""Everything lineage asks of an MLflow tracking store: the runs a session made, tags on them,
and the client helpers the other MLflow modules share.

``import mlflow`` costs over a second, so MLflow is imported only inside the functions that need
its client. The rest of the MLflow adapter: ``mlflow_uri.py`` (where the stores are, reachability,
REST), ``mlflow_registry.py`` (model versions and aliases) and ``mlflow_bulk.py`` (paging whole
experiments and registries for `import` and `audit`).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lineage.adapters.mlflow_uri import (
    check_reachable,
    check_registry,
    check_sqlite_file,
    is_database,
    is_http,
    local_path,
    missing_driver,
    missing_sqlite,
    registry_named,
)
from lineage.errors import TrackingUnreachableError
from lineage.model_version import ModelVersion
from lineage.redact import redact_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient

    # The record types cost ~50 ms to import, which registry lookups (show, impact) need not pay.
    from lineage.records import MlflowRun

SESSION_TAG = "lineage.session"
STAGE_TAG = "lineage.stage"
PARENT_TAG = "mlflow.parentRunId"
SOURCE_TYPE_TAG = "mlflow.source.type"
SOURCE_NAME_TAG = "mlflow.source.name"
ENTRY_POINT_TAG = "mlflow.project.entryPoint"
PROJECT_ENV_TAG = "mlflow.project.env"
# The tags a session's runs are read back with: the stage lineage's plugin saw, and what
# `mlflow run` / `mlflow.projects.run` says of a run it made (a step of a multi-step runner).
SESSION_RUN_TAGS = (STAGE_TAG, ENTRY_POINT_TAG, SOURCE_NAME_TAG, PROJECT_ENV_TAG)
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"
# Limits of MLflow 3.17, mlflow/utils/validation.py.
MAX_TAG_VALUE = 8000
MAX_TAGS_PER_BATCH = 100
PAGE = 1000
SAFE_ID = re.compile(r"[A-Za-z0-9._:-]+")  # run and session ids that may go into a filter


# Shared by the MLflow adapter's modules


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hide MLflow's INFO lines (e.g. "Creating initial MLflow database tables") from our output."""
    import logging

    import mlflow  # noqa: F401  (its import configures the loggers we then quiet)

    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def client(uri: str, registry: str | None = None) -> MlflowClient:
    """An MlflowClient; a server that is down fails at once rather than after minutes of the
    client's retries."""
    stores = {(uri, "tracking store")}
    if registry:
        stores.add((registry, registry_named(registry, uri)))
    for store, what in stores:
        if is_http(store):
            check_reachable(store, what=what)
    from mlflow import MlflowClient

    try:
        return MlflowClient(tracking_uri=uri, registry_uri=registry)
    except ModuleNotFoundError as exc:  # a SQL store whose driver is missing here
        raise TrackingUnreachableError(
            redact_uri(uri), missing_driver(exc.name), "then run the command again"
        ) from None


@contextlib.contextmanager
def file_stores_allowed(*uris: str) -> Iterator[None]:
    """Let MLflow open a plain file store (``./mlruns``) that a script chose itself: MLflow 3
    refuses one unless ``MLFLOW_ALLOW_FILE_STORE=true``, which that script must have had, and
    lineage only reads it back."""
    if not any(local_path(uri) is not None for uri in uris):
        yield
        return
    before = os.environ.get(ALLOW_FILE_STORE)
    os.environ[ALLOW_FILE_STORE] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ALLOW_FILE_STORE, None)
        else:
            os.environ[ALLOW_FILE_STORE] = before


@contextlib.contextmanager
def store_errors(uri: str, what: str = "tracking store") -> Iterator[None]:
    """MLflow's, SQLAlchemy's and the OS's errors while using the store (``what``: a model
    registry apart from tracking), as one TrackingUnreachableError (a garbage SQLite file
    fails inside SQLAlchemy, not MLflow)."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (MlflowException, SQLAlchemyError, OSError) as exc:
        check_sqlite_file(uri, what)  # a file that is not MLflow's: said so, not "start the server"
        raise TrackingUnreachableError(redact_uri(uri), first_line(exc), what=what) from None
    except ModuleNotFoundError as exc:
        if not is_database(uri):
            raise
        # A SQL store's driver, imported when the client first opens the store.
        raise TrackingUnreachableError(
            redact_uri(uri), missing_driver(exc.name), "then run the command again", what
        ) from None


def paged(search: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    """Every item of an MLflow search, PAGE at a time."""
    token = None
    while True:
        page = search(max_results=PAGE, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def checked_ids(ids: Sequence[str], what: str = "run id") -> list[str]:
    """The ids, refused if any could break out of a quoted filter string."""
    for item in ids:
        if not SAFE_ID.fullmatch(item):
            raise ValueError(f"invalid {what} {item!r}")
    return list(ids)


def name_filter(name: str) -> str:
    """A search filter for one registered model name. MLflow's filter strings take no escapes
    (checked on 3.17), so a name holding both kinds of quote is matched with LIKE, which can
    also match other names: callers keep only the exact name."""
    if "'" not in name:
        return f"name = '{name}'"
    if '"' not in name:
        return f'name = "{name}"'
    return "name LIKE '{}'".format(name.replace("'", "_").replace('"', "_"))


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def metric_value(value: float) -> float | str:
    """A metric as records keep it: non-finite values spelt as JSON cannot hold them."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def experiment_names(mlflow_client: MlflowClient) -> dict[str, str]:
    """Experiment id -> name, deleted experiments included."""
    from mlflow.entities import ViewType

    return {
        e.experiment_id: e.name
        for e in paged(mlflow_client.search_experiments, view_type=ViewType.ALL)
    }


def to_run(found: Any, uri: str, experiments: Mapping[str, str]) -> MlflowRun:
    """An ``mlflow.entities.Run`` as records keep it (the store's URI without credentials)."""
    from lineage.records import MlflowRun

    info, data = found.info, found.data
    return MlflowRun(
        run_id=info.run_id,
        tracking_uri=redact_uri(uri),
        experiment_id=info.experiment_id,
        experiment_name=experiments.get(info.experiment_id),
        name=info.run_name or None,
        status=info.status,
        start_ms=info.start_time,
        end_ms=info.end_time,
        parent_run_id=data.tags.get(PARENT_TAG),
        params=dict(data.params),
        metrics={k: metric_value(v) for k, v in data.metrics.items()},
    )


# What `lineage run` asks after its child


def preload(uri: str) -> None:
    """Import MLflow's client ahead of use, e.g. in a thread while a child process trains.

    Only modules are loaded: no store is opened, so nothing races the child's own first use
    of a new SQLite store (whose schema MLflow creates on first open).
    """
    with contextlib.suppress(Exception):
        import mlflow.tracking

        if uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "mssql"):
            import mlflow.store.tracking.sqlalchemy_store  # noqa: F401  (~0.7 s of the client)


def find_session_runs(uri: str, session: str) -> list[MlflowRun]:
    """Every run tagged ``lineage.session = session``, in any experiment, live or deleted."""
    return [run for run, _ in find_session_runs_tagged(uri, session)]


def find_session_runs_with_stages(uri: str, session: str) -> list[tuple[MlflowRun, str | None]]:
    """``find_session_runs``, each run with the DVC stage it was started in (its
    ``lineage.stage`` tag: ``DVC_STAGE`` as lineage's plugin saw it), if any."""
    return [(run, tags.get(STAGE_TAG)) for run, tags in find_session_runs_tagged(uri, session)]


def find_session_runs_tagged(uri: str, session: str) -> list[tuple[MlflowRun, dict[str, str]]]:
    """``find_session_runs``, each run with those of its tags in ``SESSION_RUN_TAGS`` it has
    (empty values left out), read in the same one search."""
    checked_ids([session], "session id")
    if missing_sqlite(uri):
        return []
    with quiet(), store_errors(uri):
        found = [
            (
                to_run(run, uri, experiments),
                {k: v for k in SESSION_RUN_TAGS if (v := run.data.tags.get(k))},
            )
            for run, experiments in _search_everywhere(uri, f"tags.`{SESSION_TAG}` = '{session}'")
        ]
    return sorted(found, key=lambda pair: (pair[0].start_ms or 0, pair[0].run_id))


def _search_everywhere(uri: str, filter_string: str) -> Iterator[tuple[Any, dict[str, str]]]:
    """Every run matching ``filter_string`` in any experiment, live or deleted, with the
    experiment names (id -> name) ``to_run`` needs."""
    from mlflow.entities import ViewType

    mlflow_client = client(uri)
    experiments = experiment_names(mlflow_client)
    for ids in batches(sorted(experiments), 100):
        for run in paged(
            mlflow_client.search_runs,
            experiment_ids=list(ids),
            filter_string=filter_string,
            run_view_type=ViewType.ALL,
        ):
            yield run, experiments


def runs_by_id_tagged(uri: str, run_ids: Sequence[str]) -> list[tuple[MlflowRun, dict[str, str]]]:
    """The runs with these ids (a run that is not there is left out), each with those of its
    tags in ``SESSION_RUN_TAGS`` it has."""
    wanted = checked_ids(run_ids)
    if not wanted or missing_sqlite(uri):
        return []
    with quiet(), store_errors(uri):
        from mlflow.exceptions import MlflowException

        mlflow_client = client(uri)
        experiments = experiment_names(mlflow_client)
        found = []
        for run_id in wanted:
            try:
                run = mlflow_client.get_run(run_id)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                continue
            tags = {k: v for k in SESSION_RUN_TAGS if (v := run.data.tags.get(k))}
            found.append((to_run(run, uri, experiments), tags))
    return sorted(found, key=lambda pair: (pair[0].start_ms or 0, pair[0].run_id))


def project_runs_between(uri: str, start_ms: int, end_ms: int) -> list[tuple[MlflowRun, str]]:
    """Runs `mlflow run` created (source type PROJECT) that started in [start_ms, end_ms], each
    with its ``lineage.session`` tag ("" when it has none)."""
    if missing_sqlite(uri):
        return []
    started_between = (
        f"tags.`{SOURCE_TYPE_TAG}` = 'PROJECT' AND attributes.start_time >= {int(start_ms)} "
        f"AND attributes.start_time <= {int(end_ms)}"
    )
    with quiet(), store_errors(uri):
        found = [
            (to_run(run, uri, experiments), run.data.tags.get(SESSION_TAG, ""))
            for run, experiments in _search_everywhere(uri, started_between)
        ]
    return sorted(found, key=lambda item: (item[0].start_ms or 0, item[0].run_id))


def registered_versions(
    uri: str, registry: str, run_ids: Sequence[str]
) -> dict[str, list[ModelVersion]]:
    """The model versions registered from each run (every run id is a key)."""
    found: dict[str, list[ModelVersion]] = {run_id: [] for run_id in checked_ids(run_ids)}
    if not found or missing_sqlite(registry):
        return found
    check_registry(registry, uri)
    with quiet(), store_errors(registry, registry_named(registry, uri)):
        mlflow_client = client(uri, registry)
        for ids in batches(sorted(found), 100):
            quoted = ", ".join(f"'{run_id}'" for run_id in ids)
            for mv in paged(
                mlflow_client.search_model_versions, filter_string=f"run_id IN ({quoted})"
            ):
                if mv.run_id in found:
                    found[mv.run_id].append(ModelVersion(mv.name, int(mv.version)))
    return {
        run_id: sorted(set(versions), key=lambda v: v.sort_key)
        for run_id, versions in found.items()
    }


def set_tags(uri: str, run_id: str, tags: Mapping[str, str]) -> None:
    """Add tags to a finished run; values longer than MLflow allows are cut."""
    with quiet(), store_errors(uri):
        from mlflow.entities import RunTag

        mlflow_client = client(uri)
        items = [RunTag(k, v[:MAX_TAG_VALUE]) for k, v in tags.items()]
        for start in range(0, len(items), MAX_TAGS_PER_BATCH):
            mlflow_client.log_batch(run_id, tags=items[start : start + MAX_TAGS_PER_BATCH])


def mark_killed(uri: str, run_id: str) -> None:
    """Set a run's status to KILLED (a run whose command was interrupted)."""
    with quiet(), store_errors(uri):
        client(uri).set_terminated(run_id, status="KILLED")
