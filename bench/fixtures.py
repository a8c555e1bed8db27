"""The scenarios the benchmarks run against, all built under ``bench/.work/`` (gitignored).

Cheap fixtures (the small git+DVC repository of goal (a), the small repositories of the
baselines) are rebuilt on every run. Expensive ones (N synthetic lineage records, N MLflow runs)
are built once into ``bench/.work/cache/<name>-<N>-v<FIXTURE_VERSION>[-<record format>]/`` and
reused; every run works on a fresh copy in ``bench/.work/scratch/``, so what the benchmarks do
to them (index builds, appended records, a server's writes) never leaks into the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timing import BenchError, run

from lineage import environment, records
from lineage.config import DEFAULT_CONFIG
from lineage.records import (
    OBSERVED,
    Code,
    Command,
    Data,
    MlflowRun,
    ModelVersion,
    Provenance,
    RunRecord,
    encode,
    record_id,
)

FIXTURE_VERSION = 3  # bump when the generators change what they build (3: split shards)
BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
LINEAGE = str(BIN / "lineage")
BATCH = 1000  # records per Store.append while generating

Log = Callable[[str], None]

# The training script of goal (a): the three lines, plus a stamp when it starts and one
# when it is done, so the harness can split wall time into before / in / after the child.
TRAIN = """\
import time
print("bench-t start", repr(time.time()), flush=True)
import mlflow

with mlflow.start_run():
    mlflow.log_metric("m", 1.0)
print("bench-t end", repr(time.time()), flush=True)
"""
# A child that starts no MLflow run and exits at once; its stamp marks when it began.
TRIVIAL = 'import time; print("bench-t start", repr(time.time()))'


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    def fresh(self, name: str) -> Path:
        """An empty directory under scratch/ (wiped if it was there)."""
        path = self.scratch / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def enter(self) -> None:
        """Give this process the hermetic environment too: in-process ``Store.append`` runs
        ``git`` (identity, update-ref) with it."""
        env = self.env()
        os.environ.clear()
        os.environ.update(env)

    def env(self, **extra: str) -> dict[str, str]:
        """Hermetic: own HOME, git identity and config, no hooks, no inherited MLflow/DVC/git
        settings, this venv first on PATH."""
        home = self.root / "home"
        templates = self.root / "git-templates"  # empty: `git init` installs no sample hooks
        templates.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        (home / ".gitconfig").write_text(
            "[user]\n\tname = Bench Mark\n\temail = bench@example.com\n"
            "[init]\n\tdefaultBranch = main\n"
            "[gc]\n\tauto = 0\n"  # no surprise `git gc --auto` in the middle of a timing
        )
        path = os.environ.get("PATH", os.defpath)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GIT_", "MLFLOW_", "LINEAGE_", "DVC_", "PYTHON"))
        }
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_TEMPLATE_DIR=str(templates),
            DVC_NO_ANALYTICS="1",
            DVC_SITE_CACHE_DIR=str(home / ".dvc-site"),
            PATH=path if path.startswith(f"{BIN}{os.pathsep}") else f"{BIN}{os.pathsep}{path}",
        )
        env.update(extra)
        return env


def sqlite_uri(path: Path) -> str:
    return f"sqlite:///{path}"


# Goal (a): a small git + DVC repository set up with `lineage init`


@dataclass(frozen=True)
class RunRepo:
    repo: Path
    uri: str  # the SQLite tracking store, outside the repository


def run_repo(ws: Workspace) -> RunRepo:
    root = ws.fresh("run")
    repo = root / "repo"
    repo.mkdir()
    uri = sqlite_uri(root / "mlflow.db")
    env = ws.env(MLFLOW_TRACKING_URI=uri)
    run(["git", "init", "-q"], cwd=repo, env=env)
    run(["dvc", "init", "-q"], cwd=repo, env=env)
    (repo / "data").mkdir()
    rows = "".join(f"{i},{i * 7 % 13},{i % 2}\n" for i in range(1000))
    (repo / "data" / "raw.csv").write_text("id,x,y\n" + rows)
    run(["dvc", "add", "-q", "data/raw.csv"], cwd=repo, env=env)
    (repo / "train.py").write_text(TRAIN)
    (repo / ".gitignore").write_text("mlruns/\nmlartifacts/\n")
    run(["git", "add", "-A"], cwd=repo, env=env)
    run(["git", "commit", "-q", "-m", "Train on data/raw.csv"], cwd=repo, env=env)
    run([LINEAGE, "init"], cwd=repo, env=env)
    run(["git", "add", ".lineage"], cwd=repo, env=env)
    run(["git", "commit", "-q", "-m", "Set up lineage"], cwd=repo, env=env)
    # A new SQLite store's first open creates ~70 tables: pay it here, not in a timed sample.
    run([PYTHON, "train.py"], cwd=repo, env=env)
    return RunRepo(repo=repo, uri=uri)


def small_repo(ws: Workspace, name: str) -> Path:
    """A git repository with one commit and no hooks."""
    repo = ws.fresh(name)
    env = ws.env()
    run(["git", "init", "-q"], cwd=repo, env=env)
    (repo / "README.md").write_text("# small\n")
    run(["git", "add", "-A"], cwd=repo, env=env)
    run(["git", "commit", "-q", "-m", "Initial commit"], cwd=repo, env=env)
    return repo


# Goal (b): a store of N synthetic but realistic run records


@dataclass(frozen=True)
class RecordsStore:
    repo: Path
    n: int
    commits: int
    run_id: str  # a run in the middle of history
    commit: str  # a commit in the middle of history
    md5: str  # a data version in the middle of history
    runs_of_commit: int
    runs_of_md5: int
    record_bytes: int  # mean size of a record


DATA_PATHS = (
    ("data/train.csv", None),
    ("data/test.csv", None),
    ("data/features", 120),  # a DVC-tracked directory of 120 files
    ("data/labels.parquet", None),
    ("data/vocab.json", None),
)
PARAMS = ("max_depth", "n_estimators", "learning_rate", "subsample", "seed", "model")
METRICS = ("auc", "f1", "log_loss", "accuracy")
EPOCH_MS = 1_700_000_000_000
SPACING_MS = 5 * 60 * 1000  # one run every five minutes: 100,000 runs span about a year
# The last run a fixture can hold: ISO times past the year 9999 take five digits, which no
# record carries and which sort before "2026-…" as text.
LAST_RUN = (253_402_300_799_000 - EPOCH_MS - 1_000_000) // SPACING_MS


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class _Encoder:
    """Encodes synthetic run records the way ``lineage run`` stores them.

    The environment (~170 packages, one per era of 20,000 runs) becomes whatever lineage's
    records module makes of it: a reference plus an ``environment`` record of its own where
    ``records.split_environment`` exists, inline in every run record before that. A run record
    is serialised with one ``json.dumps`` of ``_to_dict`` (``canonical_bytes`` walks the document
    a second time); ``check`` compares the bytes with ``records.encode``.
    """

    def __init__(self, base: Any | None = None) -> None:
        self.base = base if base is not None else environment.capture()
        self._eras: dict[int, tuple[Any, list[tuple[str, bytes]]]] = {}

    def environment(self, era: int) -> tuple[Any, list[tuple[str, bytes]]]:
        """(what RunRecord.environment holds, the records it needs stored beside it)."""
        if era not in self._eras:
            env = dataclasses.replace(
                self.base, packages={**self.base.packages, "lineage": f"0.1.{era}"}
            )
            split = getattr(records, "split_environment", None)
            if split is None:
                self._eras[era] = (env, [])
            else:
                ref, extra = split(env)
                self._eras[era] = (ref, [extra])
        return self._eras[era]

    def encode(
        self,
        record: RunRecord,
        era: int,
        *,
        check: bool = False,
    ) -> tuple[tuple[str, bytes], list[tuple[str, bytes]]]:
        value, extra = self.environment(era)
        full = dataclasses.replace(record, environment=value)
        blob = json.dumps(
            _to_dict(full),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        ).encode("utf-8")
        named = (record_id(blob), blob)
        if check and named != encode(full):
            raise BenchError("the fast record encoding differs from lineage.records.encode")
        return named, extra


_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAVES = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` + ``records._jsonable`` without the deep copies (~4× faster,
    which is most of a 1,000,000-record build); non-finite floats never occur here."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    names = _FIELDS.get(kind)
    if names is None and dataclasses.is_dataclass(value):
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    return value


def _to_dict(record: RunRecord) -> dict[str, Any]:
    """What ``records.to_dict`` makes of a run record (``check`` compares the two)."""
    document: dict[str, Any] = records._omit_defaults(_plain(record))
    if isinstance(document.get("command"), dict):
        records._omit_defaults(document["command"])
    return document


def record_format() -> str:
    """A digest of how lineage stores one fixed record: cached stores are keyed by it, so a
    change in the record format rebuilds them instead of benchmarking a stale shape."""
    base = dataclasses.replace(
        environment.capture(), packages={"numpy": "2.0.0"}, packages_hash="sha256:0", variables={}
    )
    record, _ = next(synthetic_records(1, ["0" * 40], seed=1))
    (name, _), extra = _Encoder(base).encode(record, 0, check=True)
    return hashlib.sha256(" ".join([name, *(n for n, _ in extra)]).encode()).hexdigest()[:8]


def synthetic_records(
    n: int,
    commits: list[str],
    *,
    seed: int,
    start: int = 0,
) -> Iterator[tuple[RunRecord, int]]:
    """(record, environment era) for runs start..start+n-1, oldest first: each run has its own
    MLflow run id, ~100 runs per commit, 5 data inputs drawn from per-path version pools
    (each version read by ~250 runs), 6 params, 4 metrics, and a model version for 1 in 10."""
    if start + n - 1 > LAST_RUN:
        raise ValueError(
            f"runs {start}..{start + n - 1} would start after the year 9999; "
            f"keep start + n at most {LAST_RUN + 1:,} (fresh_records starts at its seed)"
        )
    rng = random.Random(seed)
    total = max(n + start, 1)
    pool = max(4, total // 250)
    model_version = start // 10
    for i in range(start, start + n):
        t = EPOCH_MS + i * SPACING_MS
        duration = rng.randint(20_000, 900_000)
        commit = commits[min(len(commits) - 1, i * len(commits) // total)]
        inputs = []
        for k, (path, nfiles) in enumerate(DATA_PATHS):
            version = min(pool - 1, i * pool // total + rng.randint(0, 2))
            md5 = _md5(f"{path}:{version}") + (".dir" if nfiles else "")
            pointer = f"{path}.dvc" if k != 2 else "dvc.lock"
            inputs.append(
                Data(
                    path=path,
                    md5=md5,
                    size=rng.randint(10_000, 200_000_000),
                    nfiles=nfiles,
                    pointer=pointer,
                    stage="featurize" if k == 2 else None,
                )
            )
        models: tuple[ModelVersion, ...] = ()
        if rng.random() < 0.1:
            model_version += 1
            models = (ModelVersion("churn", model_version),)
        run_id = f"{rng.getrandbits(128):032x}"
        argv = ("python", "train.py", "--max-depth", str(rng.randint(2, 12)))
        record = RunRecord(
            evidence=OBSERVED,
            session=f"{rng.getrandbits(128):032x}",
            code=Code(commit=commit, dirty=False, branch="main"),
            created=Provenance(
                at=_iso(t + duration + 900),
                name="Bench Mark",
                email="bench@example.com",
                tool="lineage 0.1.0",
            ),
            run=MlflowRun(
                run_id=run_id,
                tracking_uri="http://mlflow.internal:5000",
                experiment_id="1",
                experiment_name="churn",
                name=f"run-{i}",
                status="FINISHED" if rng.random() > 0.05 else "FAILED",
                start_ms=t,
                end_ms=t + duration,
                params={p: str(rng.randint(1, 500)) for p in PARAMS},
                metrics={m: round(rng.random(), 6) for m in METRICS},
            ),
            command=Command(
                argv=argv,
                cwd=".",
                exit_code=0,
                status="succeeded",
                started=_iso(t - 800),
                ended=_iso(t + duration + 200),
                duration_s=round((duration + 1000) / 1000, 3),
            ),
            inputs=tuple(inputs),
            models=models,
        )
        yield record, i // 20_000


def _git_history(repo: Path, count: int, env: dict[str, str]) -> list[str]:
    """``count`` commits on main, each changing train.py (with git fast-import: ~1 s)."""
    lines = []
    for i in range(count):
        body = f"# revision {i}\nimport mlflow\n".encode()
        message = f"Train, revision {i}\n".encode()
        when = (EPOCH_MS // 1000) + i * 3600
        lines += [
            b"commit refs/heads/main",
            f"committer Bench Mark <bench@example.com> {when} +0000".encode(),
            f"data {len(message)}".encode(),
            message,
        ]
        lines += [b"M 100644 inline train.py", f"data {len(body)}".encode(), body]
        if i == 0:
            config = DEFAULT_CONFIG.encode()
            lines += [
                b"M 100644 inline .lineage/config.toml",
                f"data {len(config)}".encode(),
                config,
            ]
    stream = b"\n".join(lines) + b"\n"
    proc = subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, env=env, input=stream, capture_output=True
    )
    if proc.returncode != 0:
        raise BenchError(f"git fast-import failed: {proc.stderr.decode()[-2000:]}")
    run(["git", "reset", "-q", "--hard", "main"], cwd=repo, env=env)
    out = run(["git", "rev-list", "--reverse", "main"], cwd=repo, env=env).stdout
    return out.split()


class _AppendWriter:
    """Writes batches with ``Store.append``, as ``lineage run`` does (~1.5 ms a record)."""

    batch = BATCH

    def __init__(self, repo: Path) -> None:
        from lineage.adapters import git
        from lineage.adapters.store import Store

        self.store = Store(git.discover(repo))

    def write(self, batch: list[tuple[str, bytes]]) -> None:
        self.store.append(batch, message=f"lineage: record {len(batch)} run(s)")

    def close(self) -> None:
        pass


class _FastImportWriter:
    """Writes the same trees as ``Store.append`` through one ``git fast-import`` (~20x
    faster): each batch is a commit on ``refs/lineage/records`` adding the batch's records at
    the paths the store gives them (a shard that passes ``SPLIT_AT`` records is moved one level
    deeper, as ``Store.append`` does), and the names go to the store's journal, as
    ``Store.append`` writes them.

    A commit holds 50,000 records, not 1,000: each commit rewrites every shard tree it touches,
    so 1,000 commits would cost as much as the appends themselves. Readers see the same tree
    at the tip."""

    batch = 50_000

    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        from lineage.adapters import git
        from lineage.adapters.store import REF, Store

        self.ref = REF
        self.store = Store(git.discover(repo))
        self.proc = subprocess.Popen(
            ["git", "fast-import", "--quiet"],
            cwd=repo,
            env=env,
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.name, self.email = git.identity(self.store.paths)
        self.marks = 0
        self.shards: dict[str, dict[str, int]] = {}  # shard -> record name -> blob mark
        self.split: set[str] = set()

    def write(self, batch: list[tuple[str, bytes]]) -> None:
        from lineage.adapters import store

        assert self.proc.stdin is not None
        out = []
        touched: dict[str, list[str]] = {}
        for record_name, blob in batch:
            shard = self.shards.setdefault(record_name[: store.SHARD], {})
            if record_name in shard:
                continue
            self.marks += 1
            shard[record_name] = self.marks
            touched.setdefault(record_name[: store.SHARD], []).append(record_name)
            out += [f"blob\nmark :{self.marks}\ndata {len(blob)}\n".encode(), blob, b"\n"]
        message = f"lineage: record {len(batch)} run(s)\n".encode()
        out += [
            f"commit {self.ref}\n".encode(),
            f"committer {self.name} <{self.email}> {int(time.time())} +0000\n".encode(),
            f"data {len(message)}\n".encode(),
            message,
        ]
        for prefix, names in sorted(touched.items()):
            held = self.shards[prefix]
            if prefix not in self.split and len(held) > store.SPLIT_AT:
                self.split.add(prefix)
                out.append(f"D {prefix}\n".encode())
                names = list(held)  # every record of the shard moves one level deeper
            split = prefix in self.split
            out += [
                f"M 100644 :{held[n]} {store.record_path(n, split=split)}\n".encode() for n in names
            ]
        self.proc.stdin.write(b"".join(out) + b"\n")
        self.store._journal([record_name for record_name, _ in batch])

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        error = self.proc.stderr.read()
        if self.proc.wait() != 0:
            raise BenchError(f"git fast-import failed: {error.decode()[-2000:]}")


def _build_records(
    ws: Workspace, repo: Path, n: int, log: Log, *, with_append: bool = False
) -> dict[str, Any]:
    env = ws.env()
    repo.mkdir(parents=True)
    run(["git", "init", "-q"], cwd=repo, env=env)
    commits = _git_history(repo, max(10, n // 100), env)
    writer = _AppendWriter(repo) if with_append else _FastImportWriter(repo, env)
    encoder = _Encoder()
    middle = n // 2
    picked: dict[str, Any] = {}
    batch: list[tuple[str, bytes]] = []
    stored_eras: set[int] = set()
    size = logged = 0
    started = time.perf_counter()
    try:
        for i, (record, era) in enumerate(synthetic_records(n, commits, seed=n)):
            named, extra = encoder.encode(record, era, check=i % 997 == 0)
            if era not in stored_eras:
                batch += extra
                stored_eras.add(era)
            if i == middle:
                assert record.run is not None
                picked = {
                    "run_id": record.run.run_id,
                    "commit": record.code.commit,
                    "md5": record.inputs[0].md5,
                }
            batch.append(named)
            size += len(named[1])
            if len(batch) >= writer.batch or i == n - 1:
                writer.write(batch)
                batch = []
                if (i + 1) // 50_000 > logged or i == n - 1:
                    logged = (i + 1) // 50_000
                    log(f"  {i + 1:,} records written ({time.perf_counter() - started:.0f} s)")
    finally:
        writer.close()
    if with_append:
        log("  packing the repository (git gc)")
        run(["git", "gc", "-q", "--prune=now"], cwd=repo, env=env)
    # fast-import wrote one pack already; a `git gc` of 1,000,000 records would take minutes.
    counts = {"runs_of_commit": 0, "runs_of_md5": 0}
    for record, _ in synthetic_records(n, commits, seed=n):
        counts["runs_of_commit"] += record.code.commit == picked["commit"]
        counts["runs_of_md5"] += any(d.md5 == picked["md5"] for d in record.inputs)
    return {**picked, **counts, "n": n, "commits": len(commits), "record_bytes": size // n}


CHECK_N = 2_500  # records built both ways before a store is built with fast-import
CHECK_SPLIT_AT = 8  # ~10 records a shard: some shards split, some not


def check_fast_build(ws: Workspace, log: Log) -> None:
    """Build the same small store with ``Store.append`` and with fast-import, and refuse to
    go on unless both give the same tree (so readers see exactly what appends make). Shards
    are split past 8 records here, so the check has both flat and split shards."""
    from lineage.adapters import store

    trees = []
    split_at, store.SPLIT_AT = store.SPLIT_AT, CHECK_SPLIT_AT
    try:
        for with_append in (True, False):
            repo = ws.fresh(f"records-check-{'append' if with_append else 'fast'}") / "repo"
            _build_records(ws, repo, CHECK_N, lambda _: None, with_append=with_append)
            tree = run(["git", "rev-parse", "refs/lineage/records^{tree}"], cwd=repo, env=ws.env())
            trees.append(tree.stdout.strip())
    finally:
        store.SPLIT_AT = split_at
    if trees[0] != trees[1]:
        raise BenchError(
            f"fast-import built tree {trees[1]} where Store.append built {trees[0]} "
            f"({CHECK_N:,} records): the fixture would not be what lineage writes"
        )
    log(f"  fast-import and Store.append build the same tree for {CHECK_N:,} records")


def records_store(ws: Workspace, n: int, log: Log, *, scratch: str = "records") -> RecordsStore:
    cached = ws.cache / f"records-{n}-v{FIXTURE_VERSION}-{record_format()}"
    meta_path = cached / "fixture.json"
    if not meta_path.exists():
        check_fast_build(ws, log)
        log(f"building {n:,} synthetic records in {cached} (once; cached)")
        shutil.rmtree(cached, ignore_errors=True)
        started = time.perf_counter()
        meta = _build_records(ws, cached / "repo", n, log)
        meta["build_s"] = round(time.perf_counter() - started, 1)
        meta_path.write_text(json.dumps(meta, indent=2))
    meta = json.loads(meta_path.read_text())
    copy = ws.scratch / scratch
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(cached / "repo", copy, symlinks=True)
    return RecordsStore(
        repo=copy,
        n=meta["n"],
        commits=meta["commits"],
        run_id=meta["run_id"],
        commit=meta["commit"],
        md5=meta["md5"],
        runs_of_commit=meta["runs_of_commit"],
        runs_of_md5=meta["runs_of_md5"],
        record_bytes=meta["record_bytes"],
    )


def fresh_records(
    count: int,
    commit: str,
    *,
    seed: int,
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """``count`` realistic run records in none of the stores yet, and the records they need
    stored beside them (their environment), as lineage encodes them."""
    encoder = _Encoder()
    runs = []
    for record, _ in synthetic_records(count, [commit], seed=seed, start=seed):
        named, _ = encoder.encode(record, 0, check=True)
        runs.append(named)
    return runs, encoder.environment(0)[1]


def remove_index(repo: Path) -> None:
    for suffix in ("-journal", "-wal", "-shm", ""):
        (repo / ".git" / "lineage" / f"index.sqlite{suffix}").unlink(missing_ok=True)


# Goal (b): an MLflow SQLite store with N runs


@dataclass(frozen=True)
class RunsStore:
    db: Path
    uri: str
    experiment_id: str
    run_id: str  # a run in the middle
    record: str  # its lineage.record tag
    n: int


def mlflow_runs_store(ws: Workspace, n: int, log: Log) -> RunsStore:
    cached = ws.cache / f"mlflow-runs-{n}-v{FIXTURE_VERSION}"
    meta_path = cached / "fixture.json"
    if not meta_path.exists():
        log(f"building an MLflow store with {n:,} runs in {cached} (once; cached)")
        shutil.rmtree(cached, ignore_errors=True)
        cached.mkdir(parents=True)
        script = BENCH / "mlflow_store.py"
        run(
            [PYTHON, script, cached / "mlflow.db", cached / "artifacts", str(n), meta_path],
            cwd=cached,
            env=ws.env(),
        )
    meta = json.loads(meta_path.read_text())
    scratch = ws.fresh("mlflow-runs")
    shutil.copy2(cached / "mlflow.db", scratch / "mlflow.db")
    return RunsStore(
        db=scratch / "mlflow.db",
        uri=sqlite_uri(scratch / "mlflow.db"),
        experiment_id=meta["experiment_id"],
        run_id=meta["run_id"],
        record=meta["record"],
        n=meta["n"],
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 in its own process group; the whole group is stopped."""

    def __init__(
        self, ws: Workspace, backend_uri: str, artifacts: Path, *, proxied: bool = False
    ) -> None:
        self.ws = ws
        self.backend_uri = backend_uri
        self.artifacts = artifacts
        self.proxied = proxied  # artifacts served through the server (--artifacts-destination)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = ws.scratch / "mlflow-server.log"

    def __enter__(self) -> MlflowServer:
        argv = [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            self.backend_uri,
            *(
                ("--artifacts-destination", str(self.artifacts))
                if self.proxied
                else ("--default-artifact-root", self.artifacts.as_uri())
            ),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        with open(self.log_path, "wb") as out:
            # Without jobs: its 7 idle huey consumers would take ~half a core from every
            # command timed while it is up; tracking lookups need none of them.
            env = self.ws.env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
            self.proc = subprocess.Popen(
                argv,
                cwd=self.ws.scratch,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"mlflow server exited {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise BenchError(f"mlflow server did not become healthy in 180 s; see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None:
            return
        group = self.proc.pid  # start_new_session: the server leads its own group
        # A benchmark server holds nothing worth a graceful shutdown (it takes ~10 s).
        for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; workers it started may linger in the group a moment.
            time.sleep(0.2)
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
        self.proc = None
