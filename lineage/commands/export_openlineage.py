"""`lineage export openlineage`: recorded runs as OpenLineage run events, sent to a lineage
server over HTTP (openlineage-python's transport and auth), written as JSON lines, or printed.
A cursor per target (``.git/lineage/openlineage-cursors.json``, local, never pushed) remembers
the store's tip at the last export, so ``--since-last`` sends only the runs new records touch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lineage.adapters import git
from lineage.context import Context
from lineage.errors import LineageError
from lineage.export_source import Records, read_records
from lineage.redact import redact_uri

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
    events: tuple[str, ...]  # JSON of each event, in the order sent
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


def _new_record_ids(ctx: Context, old: str, tip: str) -> set[str] | None:
    """Records added since ``old``; None when ``old`` is no longer in this clone."""
    if old == tip:
        return set()
    if not git.has_commit(ctx.paths, old):
        return None
    added, _ = ctx.store.added_between(old, tip)
    return {name for name, _ in added}


def export_openlineage(
    ctx: Context, *, target: Target, since_last: bool = False, namespace: str | None = None
) -> Exported:
    """Build the events, deliver them to ``target``, then move its cursor."""
    from lineage import openlineage_export

    records = read_records(ctx)
    since = _cursors(ctx).get(target.key) if since_last else None
    run_keys = _since(ctx, records, since)
    events = openlineage_export.to_events(records, names_of(ctx, namespace), run_keys)
    texts = tuple(openlineage_export.to_json(e) for e in events)
    _deliver(ctx, target, events, texts, append=since_last)
    if records.tip is not None:
        try:
            _move_cursor(ctx, target, records.tip)
        except OSError as exc:
            raise LineageError(
                f"the events were delivered to {target.shown}, but the cursor could not be "
                f"written to {cursor_path(ctx)} ({exc.strerror}); make that directory writable "
                "before the next --since-last, or it sends these runs again"
            ) from None
    runs = len({json.loads(t)["run"]["runId"] for t in texts})
    return Exported(texts, runs, since, records.tip)


def _since(ctx: Context, records: Records, since: str | None) -> set[str] | None:
    from lineage.openlineage_export import touched_runs

    if since is None or records.tip is None:
        return None
    new = _new_record_ids(ctx, since, records.tip)
    if new is None:
        ctx.warn(
            f"the last export's records tip {since[:10]} is not in this clone any more; "
            "sending every run"
        )
        return None
    return touched_runs(records, new)


def _deliver(
    ctx: Context, target: Target, events: list[RunEvent], texts: tuple[str, ...], *, append: bool
) -> None:
    if target.url:
        _send(target, events)
    elif target.file is not None:
        path = target.file if target.file.is_absolute() else ctx.cwd / target.file
        with path.open("a" if append else "w", encoding="utf-8") as out:
            out.writelines(text + "\n" for text in texts)


def _send(target: Target, events: list[RunEvent]) -> None:
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
    for sent, event in enumerate(events):
        try:
            transport.emit(event)
        except (requests.RequestException, RuntimeError) as exc:
            raise LineageError(
                f"could not send OpenLineage events to {target.shown} ({_reason(exc)}); "
                f"{sent} of {len(events)} were sent and the cursor was not moved: check the "
                "server, --url and --endpoint, then run the same command again"
            ) from None


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
