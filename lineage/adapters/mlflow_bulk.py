"""Bulk reads of an MLflow tracking store and registry, for `import mlflow` and `audit`.

Part of the MLflow adapter (`lineage/adapters/mlflow.py` holds the per-run calls): these page
through whole experiments and registries, 1,000 items per request, through MlflowClient, so they
work the same against SQLite and a tracking server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from lineage.adapters.mlflow import (
    _SAFE_ID,
    PARENT_TAG,
    _batches,
    _client,
    _metric,
    _missing_sqlite,
    _paged,
    _quiet_mlflow,
    _store_errors,
    redact_uri,
)
from lineage.errors import LineageError
from lineage.records import MlflowRun, ModelVersion

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


def registered_versions(
    uri: str, registry: str, names: Sequence[str] = ()
) -> list[RegisteredVersion]:
    """Every version of the named models (all models when none are named), with aliases."""
    if _missing_sqlite(registry):
        return []
    with _quiet_mlflow(), _store_errors(registry):
        client = _client(uri, registry)
        wanted = list(names) or [m.name for m in _paged(client.search_registered_models)]
        found: list[RegisteredVersion] = []
        for name in wanted:
            from mlflow.exceptions import MlflowException

            try:
                # search_model_versions leaves aliases empty on SQLite; the model has them.
                model = client.get_registered_model(name)
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
            quoted = name.replace("'", "\\'")
            for mv in _paged(client.search_model_versions, filter_string=f"name = '{quoted}'"):
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
    return sorted(found, key=lambda v: (v.version.name, v.version.version))


def runs(
    uri: str,
    *,
    experiments: Sequence[str] = (),
    run_ids: Sequence[str] = (),
    since_ms: int | None = None,
    progress: Progress | None = None,
) -> Iterator[HistoricRun]:
    """The runs of the named experiments, plus the given runs wherever they are; each once."""
    for run_id in run_ids:
        if not _SAFE_ID.fullmatch(run_id):
            raise ValueError(f"invalid run id {run_id!r}")
    if _missing_sqlite(uri):
        return
    with _quiet_mlflow(), _store_errors(uri):
        from mlflow.entities import ViewType

        client = _client(uri)
        all_experiments = {
            e.experiment_id: e.name
            for e in _paged(client.search_experiments, view_type=ViewType.ALL)
        }
        by_name = {name: eid for eid, name in all_experiments.items()}
        missing = [name for name in experiments if name not in by_name]
        if missing:
            raise LineageError(
                f"the tracking store {redact_uri(uri)} has no experiment "
                f"{', '.join(map(repr, missing))}; known: {', '.join(sorted(by_name)) or 'none'}"
            )
        since = f"attributes.start_time >= {since_ms}" if since_ms is not None else ""
        seen: set[str] = set()
        done = 0

        def convert(found: object) -> HistoricRun:
            run = found  # mlflow.entities.Run
            info, data = run.info, run.data  # type: ignore[attr-defined]
            return HistoricRun(
                MlflowRun(
                    run_id=info.run_id,
                    tracking_uri=redact_uri(uri),
                    experiment_id=info.experiment_id,
                    experiment_name=all_experiments.get(info.experiment_id),
                    name=info.run_name or None,
                    status=info.status,
                    start_ms=info.start_time,
                    end_ms=info.end_time,
                    parent_run_id=data.tags.get(PARENT_TAG),
                    params=dict(data.params),
                    metrics={k: _metric(v) for k, v in data.metrics.items()},
                ),
                dict(data.tags),
            )

        searches: list[tuple[list[str], str]] = []
        if experiments:
            searches.append(([by_name[n] for n in experiments], since))
        ids = sorted(set(run_ids))
        for batch in _batches(ids, 100):
            quoted = ", ".join(f"'{i}'" for i in batch)
            searches.append((sorted(all_experiments), f"attributes.run_id IN ({quoted})"))
        for experiment_ids, filter_string in searches:
            for eids in _batches(experiment_ids, 100):
                for found in _paged(
                    client.search_runs,
                    experiment_ids=list(eids),
                    filter_string=filter_string,
                    run_view_type=ViewType.ALL,
                ):
                    if found.info.run_id in seen:
                        continue
                    seen.add(found.info.run_id)
                    yield convert(found)
                    done += 1
                    if progress is not None and done % 100 == 0:
                        progress(done)
        if progress is not None:
            progress(done)
