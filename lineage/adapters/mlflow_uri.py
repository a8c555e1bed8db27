"""Where MLflow keeps runs and registered models, and whether that can be reached, worked out the
way MLflow does but without importing it (``import mlflow`` costs over a second).

:class:`MlflowStores` is resolved once per invocation (``lineage/context.py``) from the
environment and the directory lineage runs in, so that ``lineage -C DIR`` reads the same stores
as running inside DIR. A server is reached through its documented REST API with urllib,
authenticated as MlflowClient would be.
"""

from __future__ import annotations

import os
import posixpath
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.errors import LineageError, TrackingUnreachableError
from lineage.redact import redact_uri

REST_TIMEOUT = 10.0
# With these set, MLflow authenticates in ways urllib cannot copy: use MlflowClient instead.
_CLIENT_ONLY_AUTH = (
    "MLFLOW_TRACKING_AUTH",
    "MLFLOW_TRACKING_AWS_SIGV4",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_WORKSPACE",
)


class StoreUnusableError(TrackingUnreachableError):
    """An MLflow store a reading command cannot use: missing, not MLflow's, unknown scheme."""

    def __init__(self, uri: str, reason: str, what: str = "tracking store") -> None:
        self.uri = uri
        self.reason = reason
        self.what = what
        variable = "MLFLOW_REGISTRY_URI" if what == "model registry" else "MLFLOW_TRACKING_URI"
        LineageError.__init__(
            self, f"the MLflow {what} {uri} cannot be used: {reason}; check {variable}"
        )


@dataclass(frozen=True)
class MlflowStores:
    """The tracking store and the model registry MLflow would use, local ones made absolute."""

    tracking: str
    registry: str

    @classmethod
    def resolve(cls, environ: Mapping[str, str], cwd: Path) -> MlflowStores:
        """What MLflow would pick in ``cwd``: ``MLFLOW_TRACKING_URI``, else ``./mlruns`` when it
        holds experiments, else ``sqlite:///mlflow.db``; ``MLFLOW_REGISTRY_URI``, else the
        tracking store (Unity Catalog for Databricks)."""
        for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            try:
                urllib.parse.urlsplit(environ.get(variable, ""))
            except ValueError as exc:  # e.g. "Invalid IPv6 URL": an unclosed [ in the host
                raise LineageError(
                    f"{variable} is not a valid URI ({exc}); fix it, e.g. "
                    f"{variable}=sqlite:///mlflow.db or http://127.0.0.1:5000"
                ) from None
        tracking = _tracking_uri(environ, cwd)
        registry = environ.get("MLFLOW_REGISTRY_URI")
        return cls(tracking, absolute(registry, cwd) if registry else _registry_for(tracking))


def _tracking_uri(environ: Mapping[str, str], cwd: Path) -> str:
    uri = environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return absolute(uri, cwd)
    if _has_mlruns_data(cwd / "mlruns"):
        return Path(os.path.abspath(cwd / "mlruns")).as_uri()
    return sqlite_uri(str(cwd / "mlflow.db"))


def _registry_for(tracking: str) -> str:
    # mlflow/tracking/_model_registry/utils.py: Databricks tracking implies Unity Catalog.
    if tracking == "databricks":
        return "databricks-uc"
    if tracking.startswith("databricks://"):
        return "databricks-uc://" + tracking[len("databricks://") :]
    return tracking


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


def sqlite_uri(path: str) -> str:
    """A SQLite store's URI, as MLflow builds it (mlflow.utils.file_utils
    path_to_local_sqlite_uri); pathname2url on POSIX is quote(), and avoiding urllib.request
    keeps ~15 ms off `lineage run`."""
    return "sqlite:///" + posixpath.abspath(urllib.parse.quote(os.path.abspath(path)))


def absolute(uri: str, cwd: Path) -> str:
    """Anchor a relative local store at cwd, so the URI means the same from anywhere."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rest, sep, query = uri[len("sqlite:///") :].partition("?")
        path = urllib.parse.unquote(rest)
        if path and path != ":memory:":
            return sqlite_uri(os.path.join(cwd, path)) + sep + query
        return uri
    local = local_path(uri)
    if local is None or os.path.isabs(local):
        return uri
    if uri.startswith("file:"):  # file:./mlruns: MLflow reads the path relative to the cwd
        return Path(os.path.abspath(os.path.join(cwd, local))).as_uri()
    return os.path.abspath(os.path.join(cwd, local))


def local_path(uri: str) -> str | None:
    """The directory of a file store (a file: URI or a plain path), else None."""
    if uri.startswith("file:"):
        return urllib.parse.unquote(urllib.parse.urlsplit(uri).path)
    if uri.split(":", 1)[0] in ("databricks", "databricks-uc"):  # "databricks" has no "://"
        return None
    scheme = urllib.parse.urlsplit(uri).scheme
    return uri if len(scheme) <= 1 else None  # one letter: a Windows drive


def is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def sqlite_path(uri: str) -> str | None:
    """The database file of a sqlite:/// URI (None for in-memory)."""
    path = urllib.parse.unquote(uri[len("sqlite:///") :].split("?", 1)[0])
    return None if not path or path == ":memory:" else path


def missing_sqlite(uri: str) -> bool:
    """A SQLite store that does not exist yet: reading it must not create it."""
    if not uri.startswith("sqlite:///"):
        return False
    path = sqlite_path(uri)
    return path is not None and not os.path.exists(path)


# Reachability


def check_reachable(uri: str, timeout: float = 5.0, what: str = "tracking store") -> None:
    """Raise TrackingUnreachableError unless the store at uri (``what``: see
    :func:`registry_named`) can be used; never imports mlflow."""
    reason: str | None
    if is_http(uri):
        reason = _http_health(uri, timeout)
    elif uri.startswith("sqlite:"):
        reason = _sqlite_writable(uri) or _sqlite_not_mlflow(uri, empty_ok=True)
    elif (path := local_path(uri)) is not None:
        reason = _directory_usable(Path(path))
    elif is_database(uri):
        reason = database_reason(uri, timeout)
    else:  # databricks, plugins: no cheap check beyond MLflow knowing the scheme
        reason = unknown_scheme(uri)
    if reason:
        raise TrackingUnreachableError(redact_uri(uri), reason, what=what)


def check_existing(uri: str, what: str = "tracking store") -> None:
    """Raise unless the store at uri already exists and is MLflow's: for the commands that only
    read it (`audit`, `import mlflow`), where a store that is not there is a typo, not an empty
    history. Never creates it (MLflow creates a SQLite file on first open)."""
    reason: str | None = None
    if uri.startswith("sqlite:"):
        path = sqlite_path(uri) if uri.startswith("sqlite:///") else None
        if path is not None and not os.path.exists(path):
            reason = f"it does not exist (no file {path})"
        else:
            reason = _sqlite_not_mlflow(uri, empty_ok=False)
    elif (local := local_path(uri)) is not None:
        if not os.path.isdir(local):
            reason = f"it does not exist (no directory {os.path.abspath(local)})"
    elif is_database(uri):
        reason = database_reason(uri)
    elif not is_http(uri):
        reason = unknown_scheme(uri)
    if reason:
        raise StoreUnusableError(redact_uri(uri), reason, what)


def check_sqlite_file(uri: str, what: str = "tracking store") -> None:
    """Raise unless the store, when a SQLite file, is one MLflow can open: random bytes or
    another program's database fail inside SQLAlchemy, where the error would say "cannot be
    reached" and "start the server"."""
    if uri.startswith("sqlite:") and (reason := _sqlite_not_mlflow(uri, empty_ok=True)):
        raise StoreUnusableError(redact_uri(uri), reason, what)


def registry_named(registry: str, tracking: str) -> str:
    """What errors call the registry: the tracking store when it is that store, else a model
    registry (whose variable is MLFLOW_REGISTRY_URI)."""
    return "tracking store" if registry == tracking else "model registry"


def check_registry(registry: str, tracking: str) -> None:
    """Before MLflow's client opens the registry (it does so on first use, past the checks
    made when it is created): raise when it is a SQLite file that is not MLflow's, or a SQL
    server whose driver is missing here or where nothing listens. Named as the tracking store
    when it is that store."""
    what = registry_named(registry, tracking)
    check_sqlite_file(registry, what)
    if is_database(registry) and (reason := database_reason(registry)):
        raise StoreUnusableError(redact_uri(registry), reason, what)


def is_database(uri: str) -> bool:
    """A SQL server MLflow reaches through SQLAlchemy: postgresql, mysql, mssql (+driver)."""
    return urllib.parse.urlsplit(uri).scheme.lower().startswith(_SERVER_DATABASES)


def missing_driver(module: str | None) -> str:
    return (
        f"the database driver {module or 'it needs'} is not installed in lineage's Python "
        f"({sys.executable}); install it there, e.g. `pip install "
        f"{_DRIVER_PACKAGES.get(module or '', module or 'the driver')}`"
    )


def database_reason(uri: str, timeout: float = 5.0) -> str | None:
    """Why MLflow could not use the SQL server at uri: no driver for its dialect in lineage's
    Python, or nothing listening at its host and port. Imports SQLAlchemy (~0.1 s), only for
    these stores; never logs in, so a wrong password still shows when MLflow connects."""
    import socket

    from sqlalchemy.engine import make_url

    try:
        url = make_url(uri)
        url.get_dialect().import_dbapi()
    except ModuleNotFoundError as exc:
        return missing_driver(exc.name)
    except Exception as exc:  # ArgumentError, NoSuchModuleError: their text may hold the URL
        return f"not a database URL SQLAlchemy can read ({type(exc).__name__})"
    if not url.host or url.host.startswith("/"):
        return None  # a Unix socket: nothing cheap to probe
    port = url.port or _DEFAULT_PORTS.get(url.get_backend_name())
    if port is None:
        return None
    try:
        socket.create_connection((url.host, port), timeout=timeout).close()
    except OSError as exc:
        return network_reason(exc, timeout)
    return None


def _http_health(uri: str, timeout: float) -> str | None:
    import urllib.error

    try:
        with open_rest(uri, "/health", timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} from /health"
    except OSError as exc:
        return network_reason(exc, timeout)
    return None if status == 200 else f"HTTP {status} from /health"


def network_reason(exc: OSError, timeout: float) -> str:
    """Why a request got no answer, in a few words."""
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
    path = sqlite_path(uri)
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


# A SQLite file starts with these 16 bytes (https://www.sqlite.org/fileformat.html).
_SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every MLflow SQL store has had, tracking or registry (mlflow/store/db_migrations).
_MLFLOW_TABLES = {"experiments", "registered_models", "alembic_version"}


def _sqlite_not_mlflow(uri: str, *, empty_ok: bool) -> str | None:
    """Why the existing SQLite file at uri is no MLflow store (random bytes, another
    program's database), else None; an empty file or database is one MLflow would set up,
    fine to write to (``empty_ok``) but holding nothing to read."""
    path = sqlite_path(uri) if uri.startswith("sqlite:///") else None
    if path is None or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror})"
    if not header:
        return None if empty_ok else f"{path} is an empty file, not an MLflow store"
    if header != _SQLITE_HEADER:
        return f"{path} is not a SQLite database"
    tables = _sqlite_tables(path)
    if tables is None:
        return f"{path} is a damaged SQLite database"
    if not tables:
        return None if empty_ok else f"{path} is an empty database, not an MLflow store"
    if not tables & _MLFLOW_TABLES:
        return f"{path} is a SQLite database, but not MLflow's (it has no experiments table)"
    return None


def _sqlite_tables(path: str) -> set[str] | None:
    """The table names of a SQLite file, read-only (None when SQLite cannot read it)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()
    return {str(name) for (name,) in rows}


# MLflow's own stores (mlflow/tracking/_tracking_service/utils.py, _register_tracking_stores);
# plugins add theirs under the entry point group below.
_KNOWN_SCHEMES = frozenset(
    {"", "file", "databricks", "databricks-uc", "uc", "http", "https"}
    | {"postgresql", "mysql", "sqlite", "mssql"}
)
_DATABASES = ("postgresql", "mysql", "sqlite", "mssql")
_SERVER_DATABASES = ("postgresql", "mysql", "mssql")
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
# pip's name for the module a dialect imports, where it differs.
_DRIVER_PACKAGES = {
    "psycopg": "'psycopg[binary]'",
    "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient",
}
_PLUGIN_GROUP = "mlflow.tracking_store"


def unknown_scheme(uri: str) -> str | None:
    """Why MLflow would refuse uri's scheme (None when it knows it), read as MLflow's
    get_uri_scheme reads it: `postgresql+psycopg2` is postgresql, `C:` a Windows path."""
    if uri in ("databricks", "databricks-uc", "uc"):
        return None
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    if scheme.startswith(_DATABASES) or len(scheme) <= 1 or scheme in _KNOWN_SCHEMES:
        return None
    from importlib.metadata import entry_points

    if any(e.name == scheme for e in entry_points(group=_PLUGIN_GROUP)):
        return None
    return (
        f"unknown scheme {scheme!r}: MLflow reads sqlite:///, http(s)://, file:, "
        "postgresql://, mysql://, mssql://, databricks and its plugins' schemes"
    )


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


# MLflow's REST API, with urllib. Credentials come from the process environment, exactly where
# MlflowClient reads them; they never enter a context, a record or a message.


def rest_usable() -> bool:
    """Whether urllib can authenticate as MlflowClient would (no plugin or signing auth)."""
    return (
        not any(os.environ.get(k) for k in _CLIENT_ONLY_AUTH)
        and not (Path.home() / ".mlflow" / "credentials").exists()
    )


def open_rest(
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
