"""`lineage export openlineage`: recorded runs as OpenLineage run events, sent to a lineage
server over HTTP (openlineage-python's transport and auth), written as JSON lines, or printed.
A cursor per target (``.git/lineage/openlineage-cursors.json``, local, never pushed) remembers
the store's tip at the last export, so ``--since-last`` sends only the runs new records touch.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from lineage import progress
from lineage.adapters import git
from lineage.context import Context
from lineage.documents import run_key_of
from lineage.errors import LineageError
from lineage.export_source import Records, sort_records
from lineage.redact import redact_uri
from lineage.writable import replaced

if TYPE_CHECKING:
    from openlineage.client.event_v2 import RunEvent

    from lineage.openlineage_export import Names

DEFAULT_ENDPOINT = "api/v1/lineage"  # Marquez's; DataHub's is openapi/openlineage/api/v1/lineage
DEFAULT_KEY_VARIABLE = "OPENLINEAGE_API_KEY"
CURSORS = "openlineage-cursors.json"


@dataclass(frozen=True)
class Target:
    """Exactly one of: an HTTP server (``url`` + ``endpoint``), a JSON-lines file, the console."""

    url: str | None = None
    endpoint: str = DEFAULT_ENDPOINT
    file: Path | None = None
    console: bool = False
    api_key: str | None = None  # from the environment, never from argv
    timeout: float = 5.0

    @property
    def key(self) -> str:
        """The target's name in the cursor file."""
        if self.url:
            return f"http:{self.url.rstrip('/')}/{self.endpoint.lstrip('/')}"
        if self.file:
            return f"file:{self.file.resolve()}"
        return "console"

    @property
    def shown(self) -> str:
        if self.url:
            return f"{redact_uri(self.url.rstrip('/'))}/{self.endpoint.lstrip('/')}"
        return str(self.file) if self.file else "stdout"


@dataclass(frozen=True)
class Exported:
    events: int  # how many were delivered
    runs: int
    since: str | None  # the tip the cursor held, for --since-last
    tip: str | None


def names_of(ctx: Context, namespace: str | None) -> Names:
    """The job namespace (``--namespace``, else the repository's name), and the code and
    dataset namespace: the remote's URL without credentials, else the work tree's file URL."""
    from lineage.openlineage_export import Names

    url = _remote_url(ctx)
    code = code_location(url, ctx.paths.root) if url else ctx.paths.root.resolve().as_uri()
    name = code.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
    return Names(jobs=namespace or name or "lineage", data=code, code_url=code)


def code_location(remote: str, root: Path) -> str:
    """A git remote as the absolute URI OpenLineage wants, credentials stripped: git's
    scp-like ``git@host:team/repo.git`` becomes ``ssh://host/team/repo.git``, and a path
    (``../origin.git``) the file URI of where it leads from the work tree."""
    import re

    if "://" in remote:
        return redact_uri(remote)
    scp = re.fullmatch(r"(?:[^@/:]+@)?([^:/]+):(.+)", remote)
    if scp:
        return f"ssh://{scp.group(1)}/{scp.group(2).lstrip('/')}"
    return (root / remote).resolve().as_uri()


def _remote_url(ctx: Context) -> str | None:
    from lineage.adapters import git_remote

    remotes = git_remote.remotes(ctx.paths)
    remote = "origin" if "origin" in remotes else (remotes[0] if remotes else None)
    return git.config_value(ctx.paths, f"remote.{remote}.url") if remote else None


def cursor_path(ctx: Context) -> Path:
    return ctx.paths.lineage_dir / CURSORS


def _cursors(ctx: Context) -> dict[str, str]:
    try:
        found = json.loads(cursor_path(ctx).read_text())
    except (OSError, ValueError):  # none yet, or unreadable: every record is new
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _move_cursor(ctx: Context, target: Target, tip: str) -> None:
    cursors = {**_cursors(ctx), target.key: tip}
    path = cursor_path(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(cursors, indent=2, sort_keys=True) + "\n")
    temporary.replace(path)  # atomic: a killed export leaves the old cursor


def export_openlineage(
    ctx: Context,
    *,
    target: Target,
    since_last: bool = False,
    namespace: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> Exported:
    """Build the events a page of runs at a time and deliver each page as it is built (to the
    console through ``echo``), then move the target's cursor. Memory holds a page of runs,
    not the store: a million runs export as a thousand do."""
    from lineage.openlineage_export import to_events

    tip = ctx.store.checked_tip()  # before the index: a record added meanwhile is sent again
    since = _cursors(ctx).get(target.key) if since_last else None
    run_keys = _since(ctx, tip, since)
    names = names_of(ctx, namespace)
    runs = 0
    with (
        _delivery(ctx, target, append=since_last, echo=echo) as deliver,
        progress.bar("exporting runs", total=_total(ctx, run_keys), unit="runs") as advance,
    ):
        for records, keys in _pages(ctx, tip, run_keys):
            deliver(to_events(records, names, keys))
            runs += len(keys)
            advance(len(keys))
    if tip is not None:
        try:
            _move_cursor(ctx, target, tip)
        except OSError as exc:
            raise LineageError(
                f"the events were delivered to {target.shown}, but the cursor could not be "
                f"written to {cursor_path(ctx)} ({exc.strerror}); make that directory writable "
                "before the next --since-last, or it sends these runs again"
            ) from None
    return Exported(deliver.events, runs, since, tip)


def _total(ctx: Context, run_keys: set[str] | None) -> int:
    return ctx.index.run_count() if run_keys is None else len(run_keys)


def _pages(
    ctx: Context, tip: str | None, run_keys: set[str] | None
) -> Iterator[tuple[Records, set[str]]]:
    """The runs to export, a page at a time in the order their events go out (oldest start
    first), each page as the records its events need: its runs' representative records, their
    parents', and their registrations and reproductions; with the run keys to send."""
    if tip is None or run_keys == set():
        return
    index = ctx.index
    for page in index.runs_by_start(run_keys):
        keys = [run_key_of(doc) for _, doc in page]
        parents = {p for _, doc in page if (p := (doc.get("run") or {}).get("parent_run_id"))}
        parents -= set(keys)
        around = index.registrations_of(keys)
        around += [r.record_id for found in index.reproductions_of(keys).values() for r in found]
        around += index.representatives(sorted(parents)).values()
        yield sort_records(tip, [*page, *index.documents(around).items()]), set(keys)


def _since(ctx: Context, tip: str | None, since: str | None) -> set[str] | None:
    """The run keys the records added since the cursor ``since`` touch; None: every run."""
    from lineage.openlineage_export import touched_runs

    if since is None or tip is None:
        return None
    if since == tip:
        return set()
    if not git.has_commit(ctx.paths, since):
        ctx.warn(
            f"the last export's records tip {since[:10]} is not in this clone any more; "
            "sending every run"
        )
        return None
    added, _ = ctx.store.added_between(since, tip)
    skipped = {name for name, _ in ctx.index.corrupt}  # warned about when the index opened
    keys: set[str] = set()
    for n in range(0, len(added), 1000):  # decoded a thousand at a time, as the runs are
        chunk = added[n : n + 1000]
        found = [(name, json.loads(blob)) for name, blob in chunk if name not in skipped]
        runs = [run_key_of(doc) for _, doc in found if doc.get("kind") == "run"]
        keys |= touched_runs(found, ctx.index.representatives(runs))
    return keys


class _Deliver:
    """Delivers pages of events to one target and counts them (``events``)."""

    def __init__(self, send: Callable[[RunEvent], object]) -> None:
        self._send = send
        self.events = 0

    def __call__(self, events: list[RunEvent]) -> None:
        for event in events:
            self._send(event)
            self.events += 1


@contextlib.contextmanager
def _delivery(
    ctx: Context, target: Target, *, append: bool, echo: Callable[[str], None] | None
) -> Iterator[_Deliver]:
    """Where the events go. A file is written whole or not at all: beside it, then renamed
    over it; appended to (--since-last), a failure takes back what this export added. The
    HTTP transport serialises each event itself; the file and the console get the same JSON."""
    from lineage.openlineage_export import to_json

    if target.url:
        with _http(target) as send:
            yield _Deliver(send)
    elif target.file is not None:
        path = target.file if target.file.is_absolute() else ctx.cwd / target.file
        with _appended(path) if append else replaced(path) as out:
            yield _Deliver(lambda event: out.write(to_json(event) + "\n"))
    else:
        assert echo is not None
        yield _Deliver(lambda event: echo(to_json(event)))


@contextlib.contextmanager
def _appended(path: Path) -> Iterator[IO[str]]:
    with path.open("a", encoding="utf-8") as out:
        size = out.tell()
        try:
            yield out
        except BaseException:
            out.flush()
            out.truncate(size)  # the file as it was: the cursor stays, the runs go again
            raise


@contextlib.contextmanager
def _http(target: Target) -> Iterator[Callable[[RunEvent], None]]:
    """POST each event with the client's HTTP transport (its retries, compression, auth)."""
    import requests
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    assert target.url is not None
    config: dict[str, object] = {
        "url": target.url,
        "endpoint": target.endpoint,
        "timeout": target.timeout,
    }
    if target.api_key:
        config["auth"] = {"type": "api_key", "apiKey": target.api_key}
    transport = HttpTransport(HttpConfig.from_dict(config))
    sent = 0

    def send(event: RunEvent) -> None:
        nonlocal sent
        try:
            transport.emit(event)
        except (requests.RequestException, RuntimeError) as exc:
            raise LineageError(
                f"could not send OpenLineage events to {target.shown} ({_reason(exc)}); "
                f"{sent} events were sent before that, and the cursor was not moved: check the "
                "server, --url and --endpoint, then run the same command again"
            ) from None
        sent += 1

    try:
        yield send
    finally:
        transport.close()  # its session's connections


def _reason(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or unreachable"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a lineage server's base URL, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"--url {url!r} is not an http(s) URL; give e.g. http://localhost:5000 (Marquez)"
    if "@" in parts.netloc:
        return (
            "--url must not hold credentials (they would land in shell history and process "
            "lists); put the API key in the environment variable --api-key-env names"
        )
    return None
