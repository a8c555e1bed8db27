"""Bulk reads of an MLflow tracking store and registry, for `import mlflow` and `audit`.

Part of the MLflow adapter (``mlflow.py`` holds the per-run calls and the shared client helpers):
these page through whole experiments and registries, 1,000 items per request, through
MlflowClient, so they work the same against SQLite and a tracking server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lineage.adapters import mlflow as tracking
from lineage.adapters.mlflow_uri import (
    MlflowStores,
    check_existing,
    missing_sqlite,
    registry_named,
)
from lineage.errors import LineageError
from lineage.records import MlflowRun, ModelVersion
from lineage.redact import redact_uri

Progress = Callable[[int], None]


@dataclass(frozen=True)
class HistoricRun:
    """A run as MLflow has it, with the tags an inferred record is made from."""

    run: MlflowRun
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegisteredVersion:
    version: ModelVersion
    run_id: str | None
    stage: str | None  # the legacy stage (Production, Staging), None when "None"
    aliases: tuple[str, ...]
    user: str | None
    created_ms: int | None
    updated_ms: int | None


def require_stores(stores: MlflowStores) -> None:
    """Raise unless both stores exist and are MLflow's: reading history from a store that is
    not there would answer "nothing" to a typo in MLFLOW_TRACKING_URI."""
    check_existing(stores.tracking)
    if stores.registry != stores.tracking:
        check_existing(stores.registry, "model registry")


def registered_versions(stores: MlflowStores, names: Sequence[str] = ()) -> list[RegisteredVersion]:
    """Every version of the named models (all models when none are named), with aliases."""
    if missing_sqlite(stores.registry):
        return []
    what = registry_named(stores.registry, stores.tracking)
    with tracking.quiet(), tracking.store_errors(stores.registry, what):
        from mlflow.exceptions import MlflowException

        mlflow_client = tracking.client(stores.tracking, stores.registry)
        wanted = list(names) or [
            m.name for m in tracking.paged(mlflow_client.search_registered_models)
        ]
        found: list[RegisteredVersion] = []
        for name in wanted:
            try:
                # search_model_versions leaves aliases empty on SQLite; the model has them.
                model = mlflow_client.get_registered_model(name)
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    raise LineageError(
                        f"the registry has no model {name!r}; `lineage log` lists the models "
                        "lineage recorded"
                    ) from None
                raise
            by_version: dict[int, list[str]] = {}
            for alias, version in model.aliases.items():
                by_version.setdefault(int(version), []).append(alias)
            for mv in tracking.paged(
                mlflow_client.search_model_versions, filter_string=tracking.name_filter(name)
            ):
                if mv.name != name:
                    continue
                version = int(mv.version)
                stage = mv.current_stage if mv.current_stage not in (None, "None") else None
                found.append(
                    RegisteredVersion(
                        version=ModelVersion(mv.name, version),
                        run_id=mv.run_id or None,
                        stage=stage,
                        aliases=tuple(sorted(by_version.get(version, ()))),
                        user=mv.user_id or None,
                        created_ms=mv.creation_timestamp,
                        updated_ms=mv.last_updated_timestamp,
                    )
                )
    return sorted(found, key=lambda v: v.version.sort_key)


def runs(
    uri: str,
    *,
    experiments: Sequence[str] = (),
    run_ids: Sequence[str] = (),
    since_ms: int | None = None,
    progress: Progress | None = None,
) -> Iterator[HistoricRun]:
    """The runs of the named experiments, plus the given runs wherever they are; each once."""
    ids = sorted(set(tracking.checked_ids(run_ids)))
    if missing_sqlite(uri):
        return
    with tracking.quiet(), tracking.store_errors(uri):
        mlflow_client = tracking.client(uri)
        all_experiments = tracking.experiment_names(mlflow_client)
        by_name = {name: eid for eid, name in all_experiments.items()}
        missing = [name for name in experiments if name not in by_name]
        if missing:
            raise LineageError(
                f"the tracking store {redact_uri(uri)} has no experiment "
                f"{', '.join(map(repr, missing))}; known: {', '.join(sorted(by_name)) or 'none'}"
            )
        searches: list[tuple[list[str], str]] = []
        if experiments:
            since = f"attributes.start_time >= {since_ms}" if since_ms is not None else ""
            searches.append(([by_name[n] for n in experiments], since))
        for batch in tracking.batches(ids, 100):
            quoted = ", ".join(f"'{i}'" for i in batch)
            searches.append((sorted(all_experiments), f"attributes.run_id IN ({quoted})"))
        done = 0
        for found in _searched(mlflow_client, searches):
            yield HistoricRun(tracking.to_run(found, uri, all_experiments), dict(found.data.tags))
            done += 1
            if progress is not None and done % 100 == 0:
                progress(done)
        if progress is not None:
            progress(done)


def _searched(mlflow_client: Any, searches: Sequence[tuple[list[str], str]]) -> Iterator[Any]:
    """The runs each (experiment ids, filter) search finds, every run once."""
    from mlflow.entities import ViewType

    seen: set[str] = set()
    for experiment_ids, filter_string in searches:
        for eids in tracking.batches(experiment_ids, 100):
            for found in tracking.paged(
                mlflow_client.search_runs,
                experiment_ids=list(eids),
                filter_string=filter_string,
                run_view_type=ViewType.ALL,
            ):
                if found.info.run_id not in seen:
                    seen.add(found.info.run_id)
                    yield found
