"""A tiny Git LFS server for tests: the Batch API (``POST …/objects/batch``) over HTTP on
127.0.0.1, answering from the objects it holds, with basic transfers (``PUT …/objects/<oid>``
stores an upload, ``GET`` serves one), optionally behind Basic auth. It is the edge of the
environment, a server as GitHub or GitLab run one, so both the real git-lfs and lineage talk to
it: https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MEDIA_TYPE = "application/vnd.git-lfs+json"


@dataclass
class LfsServer:
    """What the server holds (oid -> bytes) and the credentials it demands, if any."""

    url: str = ""  # the LFS URL to put in `lfs.url`
    held: dict[str, bytes] = field(default_factory=dict)
    credentials: tuple[str, str] | None = None
    authorizations: list[str] = field(default_factory=list)  # Authorization headers seen
    batches: list[int] = field(default_factory=list)  # objects asked for, per batch request

    def hold(self, content: bytes) -> str:
        oid = hashlib.sha256(content).hexdigest()
        self.held[oid] = content
        return oid


@contextmanager
def serve(credentials: tuple[str, str] | None = None) -> Iterator[LfsServer]:
    server = LfsServer(credentials=credentials)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/org/dataset.git/info/lfs"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _handler(server: LfsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest's output clean
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if not self._authorized():
                return
            if self.path.endswith("/locks/verify"):  # git-lfs's pre-push asks first
                self._json(200, {"ours": [], "theirs": []})
                return
            if not self.path.endswith("/objects/batch"):
                self._json(404, {"message": "Not found"})
                return
            batch = json.loads(body)
            server.batches.append(len(batch["objects"]))
            answer = [self._object(batch["operation"], o) for o in batch["objects"]]
            self._json(200, {"transfer": "basic", "objects": answer})

        def do_PUT(self) -> None:
            content = self.rfile.read(int(self.headers["Content-Length"]))
            server.hold(content)
            self._json(200, {})

        def do_GET(self) -> None:
            content = server.held.get(self.path.rsplit("/", 1)[-1])
            if content is None:
                self._json(404, {"message": "Object does not exist"})
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _object(self, operation: str, wanted: dict[str, Any]) -> dict[str, Any]:
            oid, size = wanted["oid"], wanted["size"]
            href = {"href": f"{server.url}/objects/{oid}"}
            if oid in server.held:
                download = {"actions": {"download": href}} if operation == "download" else {}
                return {"oid": oid, "size": size, **download}
            if operation == "upload":
                return {"oid": oid, "size": size, "actions": {"upload": href}}
            error = {"code": 404, "message": "Object does not exist"}
            return {"oid": oid, "size": size, "error": error}

        def _authorized(self) -> bool:
            given = self.headers.get("Authorization")
            if given:
                server.authorizations.append(given)
            if server.credentials is None:
                return True
            user, password = server.credentials
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if given == expected:
                return True
            self.send_response(401)
            self.send_header("LFS-Authenticate", 'Basic realm="lfs"')
            self.send_header("Content-Type", MEDIA_TYPE)
            self.end_headers()
            self.wfile.write(b'{"message": "Credentials needed"}')
            return False

        def _json(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", MEDIA_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
