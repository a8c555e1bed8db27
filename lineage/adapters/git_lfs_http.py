"""Ask a Git LFS server over HTTP(S) which objects it holds, with the Batch API
(https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md): ``POST <lfs-url>/objects/batch``
with operation ``download``; an object the server lacks comes back with ``error.code`` 404.

Credentials are found the way git finds them, through ``git credential fill`` (protocol, host,
path on stdin, never in argv), and only after the server answered 401 without them. They are
sent as Basic auth and never said, logged or recorded. stdlib only (urllib): the pre-push hook
imports this module (and urllib.request only when it asks a server).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path

from lineage.adapters.git import run_git
from lineage.redact import redact_uri

MEDIA_TYPE = "application/vnd.git-lfs+json"
BATCH = 100  # objects per request (servers commonly cap a batch at 100)
TIMEOUT = 30  # seconds per request
_ABSENT = (404, 410)  # per-object error codes that mean "not on this server"


class LfsServerError(Exception):
    """The server could not say which objects it holds: ``problem`` what happened, ``step``
    what the user does next (callers join them into one sentence)."""

    def __init__(self, problem: str, step: str) -> None:
        self.problem = problem
        self.step = step
        super().__init__(f"{problem}; {step}")


def is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def endpoint_of(remote_url: str) -> str:
    """The LFS URL git-lfs derives from an HTTP(S) Git remote URL."""
    url = remote_url.rstrip("/")
    return f"{url}/info/lfs" if url.endswith(".git") else f"{url}.git/info/lfs"


def missing(root: Path, url: str, objects: Sequence[tuple[str, int]]) -> list[str]:
    """The oids (bare hex) of ``objects`` (oid, size) that the LFS server at ``url`` lacks.
    Raises :class:`LfsServerError` when it cannot tell."""
    session = _Session(root, url)
    lacking: list[str] = []
    for start in range(0, len(objects), BATCH):
        answer = session.batch(objects[start : start + BATCH])
        lacking.extend(_absent(answer, session.shown))
    return lacking


def _absent(answer: Mapping[str, object], shown: str) -> list[str]:
    objects = answer.get("objects")
    if not isinstance(objects, list):
        raise LfsServerError(
            f"the LFS server at {shown} gave an answer without objects",
            "check `lfs.url` points at a Git LFS server",
        )
    lacking = []
    for item in objects:
        error = item.get("error") if isinstance(item, dict) else None
        if not error:
            continue
        if error.get("code") in _ABSENT:
            lacking.append(str(item.get("oid")))
        else:
            raise LfsServerError(
                f"the LFS server at {shown} answered {error.get('code')} for "
                f"sha256:{str(item.get('oid'))[:10]} ({error.get('message', '')})",
                "check it with `git lfs fetch --all`",
            )
    return lacking


class _Session:
    """One server: its URL without user info, and credentials asked for at most once."""

    def __init__(self, root: Path, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.root = root
        self.parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.batch_url = urllib.parse.urlunsplit(self.parts).rstrip("/") + "/objects/batch"
        self.shown = redact_uri(url)  # what messages may say: no user info, no token query
        self.auth: str | None = None
        if parts.username is not None and parts.password is not None:
            self.auth = _basic(
                urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password)
            )

    def batch(self, objects: Sequence[tuple[str, int]]) -> Mapping[str, object]:
        body = {
            "operation": "download",
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": size} for oid, size in objects],
        }
        status, answer = self._post(json.dumps(body).encode())
        if status == 401 and self.auth is None:
            self.auth = self._fill()
            status, answer = self._post(json.dumps(body).encode())
        if status in (401, 403):
            given = "the credentials git gave" if self.auth else "access without credentials"
            raise LfsServerError(
                f"the LFS server at {self.shown} refused {given} for "
                f"{self.parts.hostname} (HTTP {status})",
                "update them in your credential helper (`git credential reject` drops them)",
            )
        if status != 200:
            raise LfsServerError(
                f"the LFS server at {self.shown} answered HTTP {status}",
                "try again later, or check `lfs.url`",
            )
        return answer

    def _post(self, data: bytes) -> tuple[int, Mapping[str, object]]:
        # urllib.request pulls in http.client and ssl: only when a server is really asked.
        import urllib.error
        import urllib.request

        headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
        if self.auth is not None:
            headers["Authorization"] = self.auth
        request = urllib.request.Request(self.batch_url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, _json(response.read(), self.shown)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, {}
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LfsServerError(
                f"cannot reach the LFS server at {self.shown} ({reason})",
                "check the network and the URL (`git config lfs.url`)",
            ) from None

    def _fill(self) -> str:
        """Basic auth from ``git credential fill``; never prompts (hooks have no terminal)."""
        asked = {
            "protocol": self.parts.scheme,
            "host": self.parts.netloc,
            "path": self.parts.path.lstrip("/"),
        }
        query = "".join(f"{k}={v}\n" for k, v in asked.items()) + "\n"
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        proc = run_git(
            self.root, ["credential", "fill"], env=env, input=query.encode(), check=False
        )
        given = dict(
            line.partition("=")[::2] for line in proc.stdout.decode(errors="replace").splitlines()
        )
        if proc.returncode != 0 or "password" not in given:
            raise LfsServerError(
                f"the LFS server at {self.shown} needs credentials and git has none for "
                f"{self.parts.hostname}",
                "store them with a credential helper (`git config credential.helper store`, "
                "then `git lfs fetch` once asks for them)",
            )
        return _basic(given.get("username", ""), given["password"])


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _json(body: bytes, shown: str) -> Mapping[str, object]:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise LfsServerError(
            f"the LFS server at {shown} did not answer in JSON",
            "check `lfs.url` points at a Git LFS server",
        )
    return answer
