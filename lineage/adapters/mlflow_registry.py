"""Everything lineage asks of MLflow's model registry: which version a version number or alias
names now, and the aliases of a model; always live, never cached.

A registry behind a server is read through MLflow's documented REST API with urllib (~0.1 s
from a fresh process, against ~1.3 s for MlflowClient's import); a SQLite registry at an alembic
revision lineage knows, directly with sqlite3 (mlflow_sqlite.py, a few ms); any other registry
(another SQLite revision, Databricks, a SQL database) through MlflowClient. When something is
not there, the error says what is.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from lineage.adapters import mlflow as tracking
from lineage.adapters import mlflow_sqlite
from lineage.adapters.mlflow_uri import (
    REST_TIMEOUT,
    MlflowStores,
    check_registry,
    is_http,
    missing_sqlite,
    network_reason,
    open_rest,
    registry_named,
    rest_usable,
)
from lineage.errors import LineageError, TrackingUnreachableError
from lineage.formatting import number_ranges
from lineage.model_version import ModelVersion
from lineage.redact import redact_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient

# A version registered from a run: the version, the run id, when it was registered (ms).
VersionSource = mlflow_sqlite.VersionSource


class ModelNotFoundError(LineageError):
    """A registered model, version or alias that the registry does not have."""

    def __init__(
        self, message: str, *, name: str, version: int | None = None, alias: str | None = None
    ) -> None:
        self.name = name
        self.version = version
        self.alias = alias
        super().__init__(message)


class _NotFound(Exception):
    """The registry has no such model, version or alias."""


# MLflow's error codes for "no such model, version or alias" (an alias it does not know is an
# invalid parameter), when a lookup of one gets them.
_NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


class _RestRegistry:
    """A model registry behind an MLflow server, read through its documented REST API."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def _get(self, path: str, params: dict[str, str], *, lookup: bool = False) -> dict[str, Any]:
        """The server's JSON answer; for a ``lookup`` of one model, version or alias, its "no
        such thing" as ``_NotFound`` (a listing the server refuses is an error, as for the
        client's registries)."""
        import urllib.error

        try:
            with open_rest(self.uri, "/api/2.0/mlflow" + path, params) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"{}")
            except ValueError:
                body = {}
            code = body.get("error_code") if isinstance(body, dict) else None
            if lookup and exc.code in (400, 404) and code in _NOT_FOUND:
                raise _NotFound from None
            message = body.get("message") if isinstance(body, dict) else None
            raise TrackingUnreachableError(
                redact_uri(self.uri), f"HTTP {exc.code} from {path}: {message or exc.reason}"
            ) from None
        except OSError as exc:
            raise TrackingUnreachableError(
                redact_uri(self.uri), network_reason(exc, REST_TIMEOUT)
            ) from None
        except ValueError:
            raise TrackingUnreachableError(
                redact_uri(self.uri), f"{path} did not answer with MLflow's JSON"
            ) from None

    def _version(self, document: dict[str, Any]) -> tuple[ModelVersion, str | None]:
        mv = document["model_version"]
        return ModelVersion(mv["name"], int(mv["version"])), mv.get("run_id") or None

    def by_version(self, name: str, version: int) -> tuple[ModelVersion, str | None]:
        asked = {"name": name, "version": str(version)}
        found = self._get("/model-versions/get", asked, lookup=True)
        return self._version(found)

    def by_alias(self, name: str, alias: str) -> tuple[ModelVersion, str | None]:
        found = self._get("/registered-models/alias", {"name": name, "alias": alias}, lookup=True)
        return self._version(found)

    def aliases(self, name: str) -> dict[str, int] | None:
        try:
            found = self._get("/registered-models/get", {"name": name}, lookup=True)
            model = found["registered_model"]
        except _NotFound:
            return None
        return {a["alias"]: int(a["version"]) for a in model.get("aliases", [])}

    def _pages(self, path: str, key: str, **params: str) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            page = self._get(
                path,
                {
                    "max_results": str(tracking.PAGE),
                    **params,
                    **({"page_token": token} if token else {}),
                },
            )
            yield from page.get(key, [])
            token = page.get("next_page_token", "")
            if not token:
                return

    def model_names(self) -> list[str]:
        return [m["name"] for m in self._pages("/registered-models/search", "registered_models")]

    def versions(self, name: str) -> list[int]:
        return [
            int(v["version"])
            for v in self._pages(
                "/model-versions/search", "model_versions", filter=tracking.name_filter(name)
            )
            if v["name"] == name
        ]

    def sources(self) -> list[VersionSource]:
        return [
            (
                ModelVersion(v["name"], int(v["version"])),
                v["run_id"],
                _int(v.get("creation_timestamp")),
            )
            for v in self._pages("/model-versions/search", "model_versions")
            if v.get("run_id")
        ]


class _ClientRegistry:
    """Any other registry (SQLite, Databricks, ...), read through MlflowClient."""

    def __init__(self, mlflow_client: MlflowClient, uri: str, what: str) -> None:
        self.client = mlflow_client
        self.uri = uri
        self.what = what  # "model registry" when apart from the tracking store

    @contextlib.contextmanager
    def _translated(self, *, lookup: bool = False) -> Iterator[None]:
        """Any failure of the store as one TrackingUnreachableError; for a ``lookup`` of one
        model, version or alias, not found as ``_NotFound``. A listing is never "not found":
        what MLflow refuses there (a file-store registry in maintenance mode says
        INVALID_PARAMETER_VALUE) is an error with MLflow's reason."""
        from mlflow.exceptions import MlflowException

        with tracking.store_errors(self.uri, self.what):
            try:
                yield
            except MlflowException as exc:
                if lookup and exc.error_code in _NOT_FOUND:
                    raise _NotFound from None
                raise

    def by_version(self, name: str, version: int) -> tuple[ModelVersion, str | None]:
        with self._translated(lookup=True):
            mv = self.client.get_model_version(name, str(version))
        return ModelVersion(mv.name, int(mv.version)), mv.run_id or None

    def by_alias(self, name: str, alias: str) -> tuple[ModelVersion, str | None]:
        with self._translated(lookup=True):
            mv = self.client.get_model_version_by_alias(name, alias)
        return ModelVersion(mv.name, int(mv.version)), mv.run_id or None

    def aliases(self, name: str) -> dict[str, int] | None:
        try:
            with self._translated(lookup=True):
                # search_model_versions leaves aliases empty on SQLite; this has them.
                model = self.client.get_registered_model(name)
        except _NotFound:
            return None
        return {alias: int(version) for alias, version in model.aliases.items()}

    def model_names(self) -> list[str]:
        with self._translated():
            return [m.name for m in tracking.paged(self.client.search_registered_models)]

    def versions(self, name: str) -> list[int]:
        with self._translated():
            return [
                int(v.version)
                for v in tracking.paged(
                    self.client.search_model_versions, filter_string=tracking.name_filter(name)
                )
                if v.name == name
            ]

    def sources(self) -> list[VersionSource]:
        with self._translated():
            return [
                (ModelVersion(v.name, int(v.version)), v.run_id, v.creation_timestamp)
                for v in tracking.paged(self.client.search_model_versions)
                if v.run_id
            ]


class _DirectRegistry:
    """A SQLite registry at a known alembic revision, read with sqlite3 (mlflow_sqlite.py)."""

    def __init__(self, reader: mlflow_sqlite.SqliteRegistry) -> None:
        self.reader = reader
        self.uri = reader.uri

    def by_version(self, name: str, version: int) -> tuple[ModelVersion, str | None]:
        found = self.reader.by_version(name, version)
        if found is None:
            raise _NotFound
        return found

    def by_alias(self, name: str, alias: str) -> tuple[ModelVersion, str | None]:
        found = self.reader.by_alias(name, alias)
        if found is None:
            raise _NotFound
        return found

    def aliases(self, name: str) -> dict[str, int] | None:
        return self.reader.aliases(name)

    def model_names(self) -> list[str]:
        return self.reader.model_names()

    def versions(self, name: str) -> list[int]:
        return self.reader.versions(name)

    def sources(self) -> list[VersionSource]:
        return self.reader.sources()


class _EmptyRegistry:
    """A SQLite registry whose database does not exist yet."""

    uri = ""

    def by_version(self, name: str, version: int) -> tuple[ModelVersion, str | None]:
        raise _NotFound

    def by_alias(self, name: str, alias: str) -> tuple[ModelVersion, str | None]:
        raise _NotFound

    def aliases(self, name: str) -> dict[str, int] | None:
        return None

    def model_names(self) -> list[str]:
        return []

    def versions(self, name: str) -> list[int]:
        return []

    def sources(self) -> list[VersionSource]:
        return []


_Registry = _RestRegistry | _DirectRegistry | _ClientRegistry | _EmptyRegistry


@contextlib.contextmanager
def _open_registry(stores: MlflowStores) -> Iterator[_Registry]:
    """The registry, through REST when it is a server urllib can talk to, directly when it is
    a SQLite file at a known revision, else through MlflowClient."""
    try:
        with _registry_at(stores) as reg:
            yield reg
    except TrackingUnreachableError as exc:
        if stores.registry == stores.tracking or exc.uri != redact_uri(stores.registry):
            raise
        raise exc.as_registry() from None  # a registry apart: named so, with its variable


@contextlib.contextmanager
def _registry_at(stores: MlflowStores) -> Iterator[_Registry]:
    import os

    if is_http(stores.registry) and rest_usable():
        yield _RestRegistry(stores.registry)
    elif missing_sqlite(stores.registry):
        yield _EmptyRegistry()
    elif (direct := mlflow_sqlite.open_registry(stores.registry, os.environ)) is not None:
        with contextlib.closing(direct):
            yield _DirectRegistry(direct)
    else:
        check_registry(stores.registry, stores.tracking)
        what = registry_named(stores.registry, stores.tracking)
        with tracking.quiet():
            with tracking.store_errors(stores.registry, what):  # unknown scheme, server errors
                mlflow_client = tracking.client(stores.tracking, stores.registry)
            yield _ClientRegistry(mlflow_client, stores.registry, what)


def resolve_model(
    stores: MlflowStores, name: str, *, version: int | None = None, alias: str | None = None
) -> tuple[ModelVersion, str | None]:
    """The model version a version number or alias names right now, and the run that made it.

    The run id is None for a version registered from a path rather than a run.
    """
    if (version is None) == (alias is None):
        raise ValueError("give exactly one of version and alias")
    with _open_registry(stores) as reg:
        try:
            if alias is not None:
                return reg.by_alias(name, alias)
            assert version is not None
            return reg.by_version(name, version)
        except _NotFound:
            raise _explain(reg, stores.registry, name, version=version, alias=alias) from None


def version_sources(stores: MlflowStores) -> list[VersionSource]:
    """(version, run id, when registered in ms) for every version registered from a run."""
    with _open_registry(stores) as reg:
        return reg.sources()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def model_aliases(stores: MlflowStores, name: str) -> dict[str, int]:
    """The model's aliases, alias -> version, as the registry has them now."""
    with _open_registry(stores) as reg:
        aliases = reg.aliases(name)
        if aliases is None:
            raise _explain(reg, stores.registry, name)
    return dict(sorted(aliases.items()))


def live_aliases(
    stores: MlflowStores, names: Iterable[str]
) -> tuple[dict[str, dict[str, int]], tuple[str, ...]]:
    """Each model's current aliases, asked of the registry once per name, for commands that
    decorate an answer with them (`graph`, `impact`): what cannot be read is left out and said
    in a warning, since aliases decorate an answer and never stop it."""
    found: dict[str, dict[str, int]] = {}
    missing: list[str] = []
    warnings: list[str] = []
    for name in names:
        try:
            found[name] = model_aliases(stores, name)
        except ModelNotFoundError:
            missing.append(name)
        except Exception as exc:  # unreachable, refused, or MLflow failing in its own way
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            warnings.append(
                f"could not read model aliases from the registry ({reason}); they are left out"
            )
            break
    if missing:
        listed = ", ".join(repr(n) for n in missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        warnings.insert(
            0,
            f"{'model' if len(missing) == 1 else 'models'} {listed} "
            f"{'is' if len(missing) == 1 else 'are'} not in the registry "
            f"{redact_uri(stores.registry)}, so aliases are unknown; set "
            "MLFLOW_TRACKING_URI to the registry the models were registered in",
        )
    return found, tuple(warnings)


def set_version_tags(
    stores: MlflowStores, versions: Sequence[ModelVersion], tags: dict[str, str]
) -> None:
    """Tag registered model versions (e.g. as reproductions), one call per tag."""
    with tracking.quiet(), tracking.store_errors(stores.tracking):
        mlflow_client = tracking.client(stores.tracking, stores.registry)
        for v in versions:
            for key, value in tags.items():
                mlflow_client.set_model_version_tag(
                    v.name, str(v.version), key, value[: tracking.MAX_TAG_VALUE]
                )


def _explain(
    reg: _Registry,
    registry: str,
    name: str,
    *,
    version: int | None = None,
    alias: str | None = None,
) -> ModelNotFoundError:
    """Say what the registry does have, so the user can pick it."""
    import difflib

    aliases = reg.aliases(name)
    if aliases is None:
        names = sorted(reg.model_names())
        if not names:
            message = (
                f"no registered model named '{name}'; the registry "
                f"{redact_uri(registry)} has no registered models yet"
            )
        else:
            close = difflib.get_close_matches(name, names, n=5)
            shown = close + [n for n in names if n not in close][: max(0, 10 - len(close))]
            more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
            message = (
                f"no registered model named '{name}'; registered models: " + ", ".join(shown) + more
            )
    elif alias is not None:
        if aliases:
            listed = ", ".join(f"{a} (v{v})" for a, v in sorted(aliases.items()))
            message = f"model '{name}' has no alias '{alias}'; its aliases are: {listed}"
        elif versions := reg.versions(name):
            message = (
                f"model '{name}' has no alias '{alias}'; it has no aliases: "
                f"give a version instead (versions are {number_ranges(versions)})"
            )
        else:
            message = (
                f"model '{name}' has no alias '{alias}'; it has no aliases and no versions yet"
            )
    else:
        versions = reg.versions(name)
        listed = f"versions are {number_ranges(versions)}" if versions else "it has no versions yet"
        message = f"model '{name}' has no version {version}; {listed}"
    return ModelNotFoundError(message, name=name, version=version, alias=alias)
