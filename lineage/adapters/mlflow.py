"""Everything lineage asks of MLflow.

``import mlflow`` costs over a second, so this module imports only the standard library at its top
level: URI handling, reachability checks and alias resolution against a server (MLflow's REST API
through urllib) never load MLflow; reading runs and local registries imports it inside the
function that needs the client.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import posixpath
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.errors import LineageError, TrackingUnreachableError
from lineage.records import MlflowRun, ModelVersion

if TYPE_CHECKING:
    from mlflow import MlflowClient

SESSION_TAG = "lineage.session"
PARENT_TAG = "mlflow.parentRunId"
# Limits of MLflow 3.17, mlflow/utils/validation.py.
MAX_TAG_VALUE = 8000
MAX_TAGS_PER_BATCH = 100
REST_TIMEOUT = 10.0
PAGE = 1000

_SECRET_NAME = re.compile(r"token|passw|secret|key|auth|sig|credential", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]+")
# With these set, MLflow authenticates in ways urllib cannot copy: use MlflowClient instead.
_CLIENT_ONLY_AUTH = (
    "MLFLOW_TRACKING_AUTH",
    "MLFLOW_TRACKING_AWS_SIGV4",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_WORKSPACE",
)


class ModelNotFoundError(LineageError):
    """A registered model, version or alias that the registry does not have."""

    def __init__(
        self, message: str, *, name: str, version: int | None = None, alias: str | None = None
    ) -> None:
        self.name = name
        self.version = version
        self.alias = alias
        super().__init__(message)


# URIs


def redact_uri(uri: str) -> str:
    """The URI without user info or secret-looking query parameters; local paths unchanged."""
    parts = urllib.parse.urlsplit(uri)
    if not parts.netloc:  # sqlite:///..., file:///..., plain paths
        return uri
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(
        item
        for item in parts.query.split("&")
        if item and not _SECRET_NAME.search(urllib.parse.unquote_plus(item.partition("=")[0]))
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """The command line with every URL in it redacted (also inside ``--opt=URL``)."""
    return tuple(_URL_IN_TEXT.sub(lambda m: redact_uri(m.group(0)), arg) for arg in argv)


def _sqlite_uri(path: str) -> str:
    # As MLflow builds it: mlflow.utils.file_utils.path_to_local_sqlite_uri.
    # pathname2url on POSIX is quote(); avoiding urllib.request keeps ~15 ms off `lineage run`.
    return "sqlite:///" + posixpath.abspath(urllib.parse.quote(os.path.abspath(path)))


def _absolute(uri: str, cwd: Path) -> str:
    """Anchor a relative local store at cwd, so the URI means the same from anywhere."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rest, sep, query = uri[len("sqlite:///") :].partition("?")
        path = urllib.parse.unquote(rest)
        if path and path != ":memory:":
            return _sqlite_uri(os.path.join(cwd, path)) + sep + query
        return uri
    local = _local_path(uri)
    if local is not None and not uri.startswith("file:") and not os.path.isabs(local):
        return os.path.abspath(os.path.join(cwd, local))
    return uri


def _local_path(uri: str) -> str | None:
    """The directory of a file store (a file: URI or a plain path), else None."""
    if uri.startswith("file:"):
        return urllib.parse.unquote(urllib.parse.urlsplit(uri).path)
    if uri.split(":", 1)[0] in ("databricks", "databricks-uc"):  # "databricks" has no "://"
        return None
    scheme = urllib.parse.urlsplit(uri).scheme
    return uri if len(scheme) <= 1 else None  # one letter: a Windows drive


def _has_mlruns_data(mlruns: Path) -> bool:
    # MLflow keeps using ./mlruns when it holds experiments (mlflow/tracking/_tracking_service/
    # utils.py, _has_existing_mlruns_data); otherwise its default is sqlite:///mlflow.db.
    try:
        with os.scandir(mlruns) as entries:
            return any(
                entry.is_dir()
                and entry.name.isdigit()
                and os.path.lexists(os.path.join(entry.path, "meta.yaml"))
                for entry in entries
            )
    except OSError:
        return False


def tracking_uri(environ: Mapping[str, str], cwd: Path) -> str:
    """The tracking URI MLflow would use in cwd, with a relative local store made absolute."""
    uri = environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return _absolute(uri, cwd)
    if _has_mlruns_data(cwd / "mlruns"):
        return Path(os.path.abspath(cwd / "mlruns")).as_uri()
    return _sqlite_uri(str(cwd / "mlflow.db"))


def registry_uri(environ: Mapping[str, str], tracking: str, *, cwd: Path | None = None) -> str:
    """The model registry URI MLflow would use next to this tracking URI."""
    uri = environ.get("MLFLOW_REGISTRY_URI")
    if uri:
        return _absolute(uri, cwd) if cwd is not None else uri
    # mlflow/tracking/_model_registry/utils.py: Databricks tracking implies Unity Catalog.
    if tracking == "databricks":
        return "databricks-uc"
    if tracking.startswith("databricks://"):
        return "databricks-uc://" + tracking[len("databricks://") :]
    return tracking


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _sqlite_path(uri: str) -> str | None:
    """The database file of a sqlite:/// URI (None for in-memory)."""
    path = urllib.parse.unquote(uri[len("sqlite:///") :].split("?", 1)[0])
    return None if not path or path == ":memory:" else path


def _missing_sqlite(uri: str) -> bool:
    """A SQLite store that does not exist yet: reading it must not create it."""
    if not uri.startswith("sqlite:///"):
        return False
    path = _sqlite_path(uri)
    return path is not None and not os.path.exists(path)


# Reachability


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Raise TrackingUnreachableError unless the store at uri can be used; never imports mlflow."""
    reason: str | None
    if _is_http(uri):
        reason = _http_health(uri, timeout)
    elif uri.startswith("sqlite:"):
        reason = _sqlite_writable(uri)
    elif (path := _local_path(uri)) is not None:
        reason = _directory_usable(Path(path))
    else:  # databricks, postgresql, ...: no cheap check
        reason = None
    if reason:
        raise TrackingUnreachableError(redact_uri(uri), reason)


def _http_health(uri: str, timeout: float) -> str | None:
    import urllib.error

    try:
        with _open(uri, "/health", timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} from /health"
    except OSError as exc:
        return _network_reason(exc, timeout)
    return None if status == 200 else f"HTTP {status} from /health"


def _network_reason(exc: OSError, timeout: float) -> str:
    import socket
    import urllib.error

    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s"
    if isinstance(cause, socket.gaierror):
        return f"unknown host ({cause.strerror})"
    return str(getattr(cause, "strerror", None) or cause)


def _sqlite_writable(uri: str) -> str | None:
    if not uri.startswith("sqlite:///"):
        return None
    path = _sqlite_path(uri)
    if path is None:
        return None
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return f"directory {directory} does not exist"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"directory {directory} is not writable"
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        return f"{path} is not writable"
    return None


def _directory_usable(path: Path) -> str | None:
    path = Path(os.path.abspath(path))
    if path.exists():
        if not path.is_dir():
            return f"{path} is not a directory"
        return None if os.access(path, os.W_OK | os.X_OK) else f"{path} is not writable"
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{path} cannot be created"
    return None


# MLflow's REST API, with urllib


def _rest_usable(environ: Mapping[str, str]) -> bool:
    return (
        not any(environ.get(k) for k in _CLIENT_ONLY_AUTH)
        and not (Path.home() / ".mlflow" / "credentials").exists()
    )


def _open(
    uri: str, path: str, params: Mapping[str, str] | None = None, timeout: float = REST_TIMEOUT
) -> Any:
    """GET uri+path the way MlflowClient would authenticate (token, user and password)."""
    import base64
    import ssl
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    userinfo, _, host = parts.netloc.rpartition("@")
    url = urllib.parse.urlunsplit(
        (
            parts.scheme,
            host,
            parts.path.rstrip("/") + path,
            urllib.parse.urlencode(params or {}),
            "",
        )
    )
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not user and userinfo:
        user, _, password = (urllib.parse.unquote(p) for p in userinfo.partition(":"))
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        request.add_header("Authorization", f"Bearer {token}")
    elif user:
        basic = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {basic}")
    context = None
    if parts.scheme == "https":
        context = ssl.create_default_context(
            cafile=os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None
        )
        if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("true", "1"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    return urllib.request.urlopen(request, timeout=timeout, context=context)


class _NotFound(Exception):
    """The registry has no such model, version or alias."""


class _RestRegistry:
    """A model registry behind an MLflow server, read through its documented REST API."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def _get(self, path: str, **params: str) -> dict[str, Any]:
        import urllib.error

        try:
            with _open(self.uri, "/api/2.0/mlflow" + path, params) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"{}")
            except ValueError:
                body = {}
            code = body.get("error_code") if isinstance(body, dict) else None
            if exc.code in (400, 404) and code in (
                "RESOURCE_DOES_NOT_EXIST",
                "INVALID_PARAMETER_VALUE",
            ):
                raise _NotFound from None
            message = body.get("message") if isinstance(body, dict) else None
            raise TrackingUnreachableError(
                redact_uri(self.uri), f"HTTP {exc.code} from {path}: {message or exc.reason}"
            ) from None
        except OSError as exc:
            raise TrackingUnreachableError(
                redact_uri(self.uri), _network_reason(exc, REST_TIMEOUT)
            ) from None
        except ValueError:
            raise TrackingUnreachableError(
                redact_uri(self.uri), f"{path} did not answer with MLflow's JSON"
            ) from None

    def _version(self, document: dict[str, Any]) -> tuple[ModelVersion, str | None]:
        mv = document["model_version"]
        return ModelVersion(mv["name"], int(mv["version"])), mv.get("run_id") or None

    def by_version(self, name: str, version: int) -> tuple[ModelVersion, str | None]:
        return self._version(self._get("/model-versions/get", name=name, version=str(version)))

    def by_alias(self, name: str, alias: str) -> tuple[ModelVersion, str | None]:
        return self._version(self._get("/registered-models/alias", name=name, alias=alias))

    def aliases(self, name: str) -> dict[str, int] | None:
        try:
            model = self._get("/registered-models/get", name=name)["registered_model"]
        except _NotFound:
            return None
        return {a["alias"]: int(a["version"]) for a in model.get("aliases", [])}

    def _pages(self, path: str, key: str, **params: str) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            page = self._get(
                path, max_results=str(PAGE), **params, **({"page_token": token} if token else {})
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
                "/model-versions/search", "model_versions", filter=_name_filter(name)
            )
        ]


class _ClientRegistry:
    """Any other registry (SQLite, Databricks, ...), read through MlflowClient."""

    def __init__(self, client: MlflowClient, uri: str) -> None:
        self.client = client
        self.uri = uri

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        from mlflow.exceptions import MlflowException

        try:
            yield
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise _NotFound from None
            raise TrackingUnreachableError(redact_uri(self.uri), _first_line(exc)) from None

    def by_version(self, name: str, version: int) -> tuple[ModelVersion, str | None]:
        with self._translated():
            mv = self.client.get_model_version(name, str(version))
        return ModelVersion(mv.name, int(mv.version)), mv.run_id or None

    def by_alias(self, name: str, alias: str) -> tuple[ModelVersion, str | None]:
        with self._translated():
            mv = self.client.get_model_version_by_alias(name, alias)
        return ModelVersion(mv.name, int(mv.version)), mv.run_id or None

    def aliases(self, name: str) -> dict[str, int] | None:
        try:
            with self._translated():
                # search_model_versions leaves aliases empty on SQLite; this has them.
                model = self.client.get_registered_model(name)
        except _NotFound:
            return None
        return {alias: int(version) for alias, version in model.aliases.items()}

    def model_names(self) -> list[str]:
        with self._translated():
            return [m.name for m in _paged(self.client.search_registered_models)]

    def versions(self, name: str) -> list[int]:
        with self._translated():
            return [
                int(v.version)
                for v in _paged(self.client.search_model_versions, filter_string=_name_filter(name))
            ]


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


_Registry = _RestRegistry | _ClientRegistry | _EmptyRegistry


def _name_filter(name: str) -> str:
    quote = "'" if "'" not in name else '"'
    return f"name = {quote}{name}{quote}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# MlflowClient


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
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


def _client(uri: str, registry: str | None = None) -> MlflowClient:
    # MlflowClient retries a refused connection for minutes; one /health request fails in ms.
    for store in {uri, registry or uri}:
        if _is_http(store):
            check_reachable(store)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=registry)


def _paged(search: Any, **kwargs: Any) -> Iterator[Any]:
    token = None
    while True:
        page = search(max_results=PAGE, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _metric(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


@contextlib.contextmanager
def _store_errors(uri: str) -> Iterator[None]:
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, OSError) as exc:
        raise TrackingUnreachableError(redact_uri(uri), _first_line(exc)) from None


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
    if not _SAFE_ID.fullmatch(session):
        raise ValueError(f"invalid session id {session!r}")
    if _missing_sqlite(uri):
        return []
    with _quiet_mlflow(), _store_errors(uri):
        from mlflow.entities import ViewType

        client = _client(uri)
        experiments = {
            e.experiment_id: e.name
            for e in _paged(client.search_experiments, view_type=ViewType.ALL)
        }
        runs = [
            run
            for ids in _batches(sorted(experiments), 100)
            for run in _paged(
                client.search_runs,
                experiment_ids=list(ids),
                filter_string=f"tags.`{SESSION_TAG}` = '{session}'",
                run_view_type=ViewType.ALL,
            )
        ]
    found = [
        MlflowRun(
            run_id=run.info.run_id,
            tracking_uri=redact_uri(uri),
            experiment_id=run.info.experiment_id,
            experiment_name=experiments.get(run.info.experiment_id),
            name=run.info.run_name or None,
            status=run.info.status,
            start_ms=run.info.start_time,
            end_ms=run.info.end_time,
            parent_run_id=run.data.tags.get(PARENT_TAG),
            params=dict(run.data.params),
            metrics={k: _metric(v) for k, v in run.data.metrics.items()},
        )
        for run in runs
    ]
    return sorted(found, key=lambda r: (r.start_ms or 0, r.run_id))


def registered_versions(
    uri: str, registry: str, run_ids: Sequence[str]
) -> dict[str, list[ModelVersion]]:
    """The model versions registered from each run (every run id is a key)."""
    found: dict[str, list[ModelVersion]] = {run_id: [] for run_id in run_ids}
    for run_id in found:
        if not _SAFE_ID.fullmatch(run_id):
            raise ValueError(f"invalid run id {run_id!r}")
    if not found or _missing_sqlite(registry):
        return found
    with _quiet_mlflow(), _store_errors(registry):
        client = _client(uri, registry)
        for ids in _batches(sorted(found), 100):
            quoted = ", ".join(f"'{run_id}'" for run_id in ids)
            for mv in _paged(client.search_model_versions, filter_string=f"run_id IN ({quoted})"):
                if mv.run_id in found:
                    found[mv.run_id].append(ModelVersion(mv.name, int(mv.version)))
    return {
        run_id: sorted(set(versions), key=lambda v: (v.name, v.version))
        for run_id, versions in found.items()
    }


def set_tags(uri: str, run_id: str, tags: Mapping[str, str]) -> None:
    """Add tags to a finished run; values longer than MLflow allows are cut."""
    with _quiet_mlflow(), _store_errors(uri):
        from mlflow.entities import RunTag

        client = _client(uri)
        items = [RunTag(k, v[:MAX_TAG_VALUE]) for k, v in tags.items()]
        for start in range(0, len(items), MAX_TAGS_PER_BATCH):
            client.log_batch(run_id, tags=items[start : start + MAX_TAGS_PER_BATCH])


def set_version_tags(
    uri: str, registry: str, versions: Sequence[ModelVersion], tags: Mapping[str, str]
) -> None:
    """Tag registered model versions (e.g. as reproductions), one call per tag."""
    with _quiet_mlflow(), _store_errors(uri):
        client = _client(uri, registry)
        for v in versions:
            for key, value in tags.items():
                client.set_model_version_tag(v.name, str(v.version), key, value[:MAX_TAG_VALUE])


# The model registry


@contextlib.contextmanager
def _open_registry(uri: str, registry: str) -> Iterator[_Registry]:
    """The registry, through REST when it is a server urllib can talk to, else MlflowClient."""
    if _is_http(registry) and _rest_usable(os.environ):
        yield _RestRegistry(registry)
    elif _missing_sqlite(registry):
        yield _EmptyRegistry()
    else:
        with _quiet_mlflow():
            yield _ClientRegistry(_client(uri, registry), registry)


def resolve_model(
    uri: str, registry: str, name: str, *, version: int | None = None, alias: str | None = None
) -> tuple[ModelVersion, str | None]:
    """The model version a version number or alias names right now, and the run that made it.

    The run id is None for a version registered from a path rather than a run.
    """
    if (version is None) == (alias is None):
        raise ValueError("give exactly one of version and alias")
    with _open_registry(uri, registry) as reg:
        try:
            if alias is not None:
                return reg.by_alias(name, alias)
            assert version is not None
            return reg.by_version(name, version)
        except _NotFound:
            raise _explain(reg, registry, name, version=version, alias=alias) from None


def model_aliases(uri: str, registry: str, name: str) -> dict[str, int]:
    """The model's aliases, alias -> version, as the registry has them now."""
    with _open_registry(uri, registry) as reg:
        aliases = reg.aliases(name)
        if aliases is None:
            raise _explain(reg, registry, name)
    return dict(sorted(aliases.items()))


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
                f"give a version instead (versions are {_ranges(versions)})"
            )
        else:
            message = (
                f"model '{name}' has no alias '{alias}'; it has no aliases and no versions yet"
            )
    else:
        versions = reg.versions(name)
        listed = f"versions are {_ranges(versions)}" if versions else "it has no versions yet"
        message = f"model '{name}' has no version {version}; {listed}"
    return ModelNotFoundError(message, name=name, version=version, alias=alias)


def _ranges(numbers: Sequence[int]) -> str:
    """1, 2, 3, 5 -> "1-3, 5"."""
    spans: list[list[int]] = []
    for n in sorted(set(numbers)):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans) or "none"
