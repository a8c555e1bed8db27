"""Issue 15 goal 3: `lineage import mlflow` of N runs through a team's tracking server, a real
`mlflow server` with a PostgreSQL backend store and a proxied artifact store
(`--artifacts-destination`), against the client's bare paging floor over the same runs: a fresh
`python` paging `MlflowClient.search_runs`, 1,000 a page (as bench/history.py does for the
SQLite-backed server). Goal ≤ 1.5×.

The store is built once (bench/team_store.py in a subprocess: 200 runs through MlflowClient, the
rest copied as rows) into a PostgreSQL cluster cached under ``bench/.work/cache/`` (or, when
the ``postgres`` user cannot enter that directory, as in a clone under /root, in a directory of
the system's temp dir); each bench run starts a copy of that cluster (``cp -a`` of its data
directory), so nothing a run does leaks into the cache. PostgreSQL's server programs come from
the system packages; as root they run as the ``postgres`` user (initdb and postgres refuse
root).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import fixtures
from fixtures import BENCH, LINEAGE, PYTHON, Workspace
from history import PAGE_ALL
from report import Section, ratio, timing_cells, verdict
from timing import BenchError, Summary, alternate, run, timed

IMPORT_BUDGET = 1.5
FIXTURE_VERSION = 1  # bump when team_store.py changes what it builds
USER, PASSWORD, DB = "team", "bench-pw", "mlflow"
Log = Callable[[str], None]


def _bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise BenchError(
            "PostgreSQL's server is not installed (no initdb); install it (apt-get install "
            "postgresql) or run scripts/test.sh, which does"
        )
    return Path(initdb).parent


def _as_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        run(["chown", "-R", "postgres:", path], cwd=path.parent, env=os.environ)


class Postgres:
    """A PostgreSQL cluster in ``data`` on 127.0.0.1 in its own process group."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = fixtures.free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"postgresql+psycopg2://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DB}"

    def __enter__(self) -> Postgres:
        log = open(self.data.parent / "postgres.log", "ab")
        argv = [*_as_user(), str(_bin() / "postgres"), "-D", str(self.data)]
        argv += ["-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.data), "-c", "fsync=off"]
        self.proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        ready = [str(_bin() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        deadline = time.monotonic() + 60
        while subprocess.run(ready, check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"postgres did not start; see {self.data.parent}/postgres.log")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """A fast shutdown (SIGINT): clean, so the data directory can be cached."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGINT, 30.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc = None


def _reachable(path: Path) -> bool:
    """Whether PostgreSQL's programs, run as they are here, can enter ``path``."""
    return subprocess.run([*_as_user(), "test", "-x", str(path)], check=False).returncode == 0


def _clusters(ws: Workspace) -> Path:
    """Where the PostgreSQL clusters live: the work directory's cache, unless the ``postgres``
    user (root runs PostgreSQL as it) cannot enter it, as in a clone under /root (mode 700);
    then a directory of the system's temp dir named after the cache, kept across runs."""
    ws.cache.mkdir(parents=True, exist_ok=True)  # a first run of this part alone: not made yet
    if _reachable(ws.cache):
        return ws.cache
    digest = hashlib.sha256(str(ws.cache).encode()).hexdigest()[:12]
    home = Path(tempfile.gettempdir()) / f"lineage-bench-pg-{digest}"
    home.mkdir(exist_ok=True)
    home.chmod(0o755)
    return home


def team_store(ws: Workspace, n: int, log: Log) -> tuple[Path, Path, dict[str, object]]:
    """A scratch directory, a fresh copy of the cached cluster holding n runs (its data
    directory), and the fixture's facts."""
    clusters = _clusters(ws)
    cached = clusters / f"team-pg-runs-{n}-v{FIXTURE_VERSION}"
    meta_path = cached / "fixture.json"
    if not meta_path.exists():
        log(f"building a PostgreSQL MLflow store with {n:,} runs in {cached} (once; cached)")
        shutil.rmtree(cached, ignore_errors=True)
        cached.mkdir(parents=True)
        _own(cached)
        pwfile = cached / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        _own(pwfile)
        data = cached / "data"
        initdb = [*_as_user(), _bin() / "initdb", "-D", data, "-U", USER, "--pwfile", pwfile]
        initdb += ["--auth=scram-sha-256", "-E", "UTF8", "--no-sync"]
        run(initdb, cwd=cached, env=os.environ)
        pwfile.unlink()
        with Postgres(data) as pg:
            env = ws.env(PGPASSWORD=PASSWORD)
            run(
                [_bin() / "createdb", "-h", "127.0.0.1", "-p", str(pg.port), "-U", USER, DB],
                cwd=cached,
                env=env,
            )
            script = BENCH / "team_store.py"
            artifacts = cached / "artifacts"
            run(
                [PYTHON, script, pg.uri, artifacts, str(n), cached / "meta.tmp"],
                cwd=cached,
                env=ws.env(),
            )
        (cached / "meta.tmp").rename(meta_path)
    scratch = ws.fresh("team")
    data = clusters / "team-scratch" / "data"
    shutil.rmtree(data.parent, ignore_errors=True)
    data.parent.mkdir()
    run(["cp", "-a", cached / "data", data], cwd=scratch, env=os.environ)
    return scratch, data, json.loads(meta_path.read_text())


def sections(ws: Workspace, n: int, *, repeats: int, warmup: int, log: Log) -> list[Section]:
    base, data, meta = team_store(ws, n, log)
    env = ws.env()
    repo, again_repo = base / "repo", base / "again"
    for path in (repo, again_repo):
        run(["git", "init", "-q", path], cwd=base, env=env)
        run(["git", "commit", "-q", "--allow-empty", "-m", "Start"], cwd=path, env=env)
        run([LINEAGE, "init"], cwd=path, env=env)

    def reset(path: Path) -> None:
        run(["git", "update-ref", "-d", "refs/lineage/records"], cwd=path, env=env, check=False)
        shutil.rmtree(path / ".git" / "lineage", ignore_errors=True)

    log("starting PostgreSQL and an mlflow server on it")
    with (
        Postgres(data) as pg,
        fixtures.MlflowServer(ws, pg.uri, base / "artifacts", proxied=True) as srv,
    ):
        server_env = {**env, "MLFLOW_TRACKING_URI": srv.url}
        importing = [LINEAGE, "import", "mlflow", "--experiment", "churn", "--json"]
        first = json.loads(run(importing, cwd=again_repo, env=server_env).stdout)
        if first["written"] != meta["n"]:
            raise BenchError(f"import wrote {first['written']} records, expected {meta['n']}")

        def fresh_import() -> dict[str, float]:
            reset(repo)
            return timed(importing, cwd=repo, env=server_env)

        cases = {
            "import": fresh_import,
            "again": lambda: timed(importing, cwd=again_repo, env=server_env),
            "floor": lambda: timed(
                [PYTHON, "-c", PAGE_ALL, srv.url, str(meta["experiment_id"])],
                cwd=base,
                env=env,
                expect=f"found {meta['n']}",
            ),
        }
        s = alternate(cases, repeats=repeats, warmup=warmup, progress=log)
    w = {k: Summary.of(v["wall"]) for k, v in s.items()}
    floor = w["floor"]
    count = f"{meta['n']:,}"
    section = Section(
        f"`lineage import mlflow` of {count} runs through a team's server (PostgreSQL)",
        f"A real `mlflow server` (`--workers 1`, jobs off, `--artifacts-destination`: artifacts "
        f"proxied) on 127.0.0.1 over PostgreSQL ({_bin().parent.name}, its own cluster on "
        f"127.0.0.1, a role with a password), holding {count} finished runs (params, metrics, "
        f"tags; no git commit tags, so no data is inferred). Import into a repository with no "
        f"records (reset untimed before each sample) writes {count} inferred records; the "
        f"floor is a fresh `python` paging `MlflowClient.search_runs` over the same experiment "
        f"through the same server, 1,000 a page. Goal: import ≤ {IMPORT_BUDGET}× the floor.",
        ["What", "median ms", "min ms", "n", "vs floor", "goal", "result"],
    )
    section.rows += [
        [
            f"`lineage import mlflow --experiment churn` ({count} new records)",
            *timing_cells(w["import"]),
            ratio(w["import"].median / floor.median),
            f"≤ {IMPORT_BUDGET}×",
            verdict(w["import"].median <= IMPORT_BUDGET * floor.median),
        ],
        [
            "the same import again (nothing new: idempotent)",
            *timing_cells(w["again"]),
            ratio(w["again"].median / floor.median),
            "",
            "",
        ],
        [
            f"floor: `MlflowClient(http://…).search_runs` paging all {count} runs",
            *timing_cells(floor),
            "1×",
            "",
            "",
        ],
    ]
    return [section]
