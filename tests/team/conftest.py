"""A team's tracking server, for real: PostgreSQL from the system packages (`initdb` in a temp
dir, as a non-root user, on 127.0.0.1 with a password) and `mlflow server` on it with a proxied
artifact store (`--artifacts-destination`).

Both are session-scoped and live in this directory's conftest, so no other test pays for them.
Under pytest-xdist each worker that runs a test of this directory starts its own pair (ports and
directories are its own); `scripts/test.sh` runs with `--dist loadgroup` and the tests here share
one `xdist_group`, so in practice one worker does. Everything is torn down even when a test
fails: each process leads its own process group, and the group is stopped.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.scenarios import hermetic_env

# Distinctive, so a grep for them finds every place they could have leaked to.
DB_USER = "team"
DB_NAME = "mlflow"
HTTP_USER = "ada"
START_TIMEOUT = 180.0  # the first `mlflow server` on an empty database runs every migration


@dataclass(frozen=True)
class Postgres:
    port: int
    password: str
    log: Path

    def uri(self, driver: str = "+psycopg2") -> str:
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the dev extra installs
        # psycopg2-binary, which a team's `pip install mlflow psycopg2-binary` gives too.
        return f"postgresql{driver}://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"


@dataclass(frozen=True)
class TeamServer:
    url: str  # http://127.0.0.1:PORT
    auth_url: str  # http://ada:PASSWORD@127.0.0.1:PORT, as a teammate may write it
    http_password: str
    backend: Postgres
    artifacts: Path
    log: Path

    @property
    def credentials(self) -> tuple[str, str]:
        return self.backend.password, self.http_password


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin() -> Path | None:
    """The directory of PostgreSQL's server programs: Debian keeps them out of PATH."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable(reason: str) -> None:
    """Skip where PostgreSQL truly cannot be had; CI always has it (scripts/test.sh)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run these tests: scripts/test.sh installs it)")
    pytest.skip(reason)


def stop_group(proc: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Stop the process group proc leads: ``first``, then SIGKILL."""
    for sig, wait in ((first, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.2)  # children of the leader may linger a moment
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    bindir = postgres_bin()
    if bindir is None:
        unavailable(
            "PostgreSQL's server is not installed (no initdb); install it "
            "(apt-get install postgresql) or run scripts/test.sh, which does"
        )
    assert bindir is not None
    try:
        import psycopg2  # noqa: F401
    except ModuleNotFoundError:
        unavailable("psycopg2 is not installed in .venv; run scripts/test.sh, which installs it")
    # Not under pytest's tmp dir: that is 0700 root's, and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="lineage-pg-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no `postgres` user to run PostgreSQL")
            os.chown(root, owner.pw_uid, owner.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        password = "pg-" + secrets.token_hex(8)
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n")
        if as_user:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        data = root / "data"
        subprocess.run(
            [
                *as_user,
                bindir / "initdb",
                "-D",
                data,
                "-U",
                DB_USER,
                "--pwfile",
                pwfile,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        port = free_port()
        log = root / "postgres.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    *as_user,
                    bindir / "postgres",
                    "-D",
                    data,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-k",
                    root,
                    "-c",
                    "fsync=off",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = Postgres(port, password, log)
        _create_database(server, proc)
        yield server
    finally:
        if proc is not None:
            stop_group(proc, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(root, ignore_errors=True)


def _create_database(server: Postgres, proc: subprocess.Popen[bytes]) -> None:
    import psycopg2

    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited {proc.returncode}: {server.log.read_text()}")
        try:
            con = psycopg2.connect(
                host="127.0.0.1",
                port=server.port,
                user=DB_USER,
                password=server.password,
                dbname="postgres",
            )
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    con.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        con.cursor().execute(f"CREATE DATABASE {DB_NAME}")
    finally:
        con.close()


@pytest.fixture(scope="session")
def team_server(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TeamServer]:
    base = tmp_path_factory.mktemp("team-server")
    artifacts = base / "artifacts"
    artifacts.mkdir()
    port = free_port()
    log = base / "mlflow-server.log"
    env = {**hermetic_env(base), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI")
    argv = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        postgres.uri(),
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    with open(log, "wb") as out:
        # Jobs off: their idle consumers would take a core from the tests; nothing here uses them.
        proc = subprocess.Popen(
            argv,
            cwd=base,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc, log)
        http_password = "http-" + secrets.token_hex(8)
        yield TeamServer(
            url=url,
            auth_url=f"http://{HTTP_USER}:{http_password}@127.0.0.1:{port}",
            http_password=http_password,
            backend=postgres,
            artifacts=artifacts,
            log=log,
        )
    finally:
        stop_group(proc, signal.SIGTERM)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"mlflow server did not become healthy in {START_TIMEOUT:g} s: {log}")
