"""The query index: SQLite in ``<git-common-dir>/lineage/index.sqlite``, derived from the store.

It holds nothing the records do not: deleted, it is rebuilt; behind the ref, it catches up by
reading only the records added since the tip it last saw (a tree diff). Every query answers the
same with or without it. When the tip has not moved, a query costs one ``git rev-parse`` and one
SQLite read, and never imports pygit2.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from lineage import progress
from lineage.adapters.store import Blobs, Store
from lineage.documents import run_key_of, started_ms
from lineage.edges import edges_of, model_key, node_key
from lineage.errors import CorruptRecordError, LineageError
from lineage.localdb import (
    COMPANIONS,
    execute_script,
    first_fill,
    is_busy,
    is_damaged,
    is_full,
    open_shared,
    rollback,
)
from lineage.writable import check_lineage_dir, shown

SCHEMA_VERSION = 9  # 6: no record bodies (blob oids instead), node keys and paths interned
# 7: the unique indexes on record ids, node keys and paths are built after a rebuild's inserts
# 8: W&B model artifacts are model nodes (``model:wandb:<project>/<name>:<digest>``)
# 9: runs, and records by run, keyed by the run node's integer id, not the run key; the
# reproductions' reruns indexed (a push's check read every record for them)
_TABLES = (
    "meta",
    "records",
    "nodes",
    "paths",
    "links",
    "corrupt",
    "runs",
    "reproductions",
    "reruns",
)
_VIEWS = ("edges",)
# Dropped before a rebuild and made once after it: sorting a million keys once costs far less
# than inserting them one by one into B-trees larger than SQLite's page cache.
_SECONDARY = (
    "records_id",
    "nodes_key",
    "paths_path",
    "records_run",
    "records_rerun",
    "links_src",
    "links_dst",
    "links_path",
    "runs_started",
)
_BATCH = 20_000  # records decoded and inserted at a time
# A catch-up inserts records as git reads them, this many at a time: while they are decoded
# and inserted, git diffs and reads on the other core.
_STREAMED = 1_000
# 16 KB pages (SQLite's default is 4 KB): a million-record build writes and sorts fewer, fuller
# pages (~3 s of ~57 measured), and a lookup descends fewer levels.
_PAGE_SIZE = 16384

# Sized for a million records (~0.5 KB each): a record keeps its blob's oid, not its body (read
# from git when a query needs it), node keys are stored once and edges hold their integer ids,
# and only indexes some query uses exist. Record ids stay text: a hand-made record's name need
# not be hex. A run is known by its node's id (``run:<run key>`` in nodes): new runs get the
# highest ids, so a catch-up appends to the end of ``runs`` and ``records_run``, where keyed by
# the random run key it rewrote most of their pages (~140 MB of the WAL for 10,000 records at
# a million).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records(
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL, oid BLOB NOT NULL, kind TEXT NOT NULL,
    evidence TEXT, created_at TEXT, run INTEGER, session TEXT, rerun_record TEXT,
    reproduces TEXT, unbased INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS records_id ON records(id);
CREATE INDEX IF NOT EXISTS records_run ON records(run) WHERE run IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_rerun ON records(rerun_record) WHERE rerun_record IS NOT NULL;
CREATE TABLE IF NOT EXISTS nodes(nid INTEGER PRIMARY KEY, key TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS nodes_key ON nodes(key);
CREATE TABLE IF NOT EXISTS paths(pid INTEGER PRIMARY KEY, path TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS paths_path ON paths(path);
CREATE TABLE IF NOT EXISTS links(
    src INTEGER NOT NULL, rel TEXT NOT NULL, dst INTEGER NOT NULL, path INTEGER,
    rid INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS links_src ON links(src);
CREATE INDEX IF NOT EXISTS links_dst ON links(dst);
CREATE INDEX IF NOT EXISTS links_path ON links(path) WHERE path IS NOT NULL;
CREATE VIEW IF NOT EXISTS edges AS
    SELECT s.key AS src, l.rel AS rel, d.key AS dst, p.path AS path, r.id AS record_id,
           r.evidence AS evidence, l.rowid AS seq
    FROM links l JOIN nodes s ON s.nid = l.src JOIN nodes d ON d.nid = l.dst
    JOIN records r ON r.rid = l.rid LEFT JOIN paths p ON p.pid = l.path;
CREATE TABLE IF NOT EXISTS corrupt(id TEXT PRIMARY KEY, reason TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs(
    nid INTEGER PRIMARY KEY, rid INTEGER NOT NULL, rank TEXT NOT NULL, started_ms INTEGER);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_ms);
CREATE TABLE IF NOT EXISTS reproductions(
    record_id TEXT PRIMARY KEY, original TEXT NOT NULL, rerun TEXT, model TEXT,
    verdict TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reproductions_original ON reproductions(original);
CREATE TABLE IF NOT EXISTS reruns(run_key TEXT PRIMARY KEY, original TEXT NOT NULL);
"""


def _missing_tables(db: sqlite3.Connection) -> list[str]:
    """The tables (and views) of this schema version that are not there (all of them for
    another version): one dropped by hand or by a tool makes the index damaged, rebuilt rather
    than a crash in some later query."""
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        return [*_TABLES, *_VIEWS]
    found = {
        row[0]
        for row in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    }
    return [name for name in (*_TABLES, *_VIEWS) if name not in found]


def _current(db: sqlite3.Connection) -> bool:
    return not _missing_tables(db)


def _why_unwritable(path: Path, exc: sqlite3.DatabaseError) -> str:
    from lineage.writable import directory_problem

    return directory_problem(path.parent) or str(exc)


def _migrate(db: sqlite3.Connection) -> None:
    """Create the tables, or drop and recreate them when they come from another schema version
    (the index is derived data: it refills from the records on the next refresh)."""
    found = db.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    for kind, name in found:  # whatever an older version made ("edges" was a table in 5)
        db.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
    execute_script(db, _SCHEMA)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


# Rows read back, as named tuples: the functional form takes evaluated types, so creating them
# costs a process microseconds (a frozen dataclass costs ~1 ms, and every query pays it).


# src was used to make dst (rel: code, snapshot, input, output, produced, parent, reproduced).
class Edge(NamedTuple):
    src: str
    rel: str
    dst: str
    path: str | None
    record_id: str
    evidence: str | None


# A `lineage reproduce` of a run: the rerun it made (if any), the model version reproduced
# ("name/version", if one was), the verdict (reproduced, differs, failed), when (ISO 8601 UTC).
class Reproduction(NamedTuple):
    record_id: str
    original: str
    rerun: str | None
    model: str | None
    verdict: str
    created: str


class _Rows:
    """The index rows some records make, table by table (node keys and record ids not yet
    turned into integers)."""

    def __init__(self) -> None:
        self.records: list[tuple[Any, ...]] = []
        # (record id, its edges): src, rel, dst, path
        self.edges: list[tuple[str, list[tuple[str, str, str, str | None]]]] = []
        self.runs_alone: list[str] = []  # run nodes, whether or not an edge names them
        # (run node key, record id, rank, started): the record rows name their run likewise
        self.runs: list[tuple[str, str, str, int | None]] = []
        self.reproductions: list[tuple[Any, ...]] = []
        self.reruns: list[tuple[str, str]] = []  # (rerun's run key, the run it reproduces)
        self.corrupt: list[tuple[str, str]] = []


class _Batch(NamedTuple):
    """The rows some records add, table by table, with integer ids; a record row is (rid,
    id, blob oid, the other columns)."""

    corrupt: list[tuple[str, str]]
    records: list[tuple[int, str, bytes, tuple[Any, ...]]]
    nodes: list[tuple[int, str]]
    paths: list[tuple[int, str]]
    links: list[tuple[int, str, int, int | None, int]]
    reproductions: list[tuple[Any, ...]]
    reruns: list[tuple[str, str]]
    runs: list[tuple[int, int, str, int | None]]


_INSERT_REPRODUCTIONS = (
    "INSERT OR IGNORE INTO reproductions(record_id, original, rerun, model, verdict, created_at)"
)
_INSERT_RERUNS = "INSERT OR IGNORE INTO reruns(run_key, original)"
_INSERT_COLD_RUNS = "INSERT INTO temp.cold_runs(nid, rid, rank, started_ms)"


def _storable(text: str) -> str:
    """``text`` as SQLite can hold it: a lone surrogate (a non-UTF-8 byte of a file name, as
    Python decodes it and records keep it) as its escape, ``\\udce9``; the same on insert and
    on lookup, so a data path recorded that way is found again."""
    # backslashreplace touches only what UTF-8 cannot encode: other text comes back as it was.
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def _has_json(db: sqlite3.Connection) -> bool:
    """Whether this SQLite has its JSON functions (built in since 3.38; an option before)."""
    try:
        db.execute("SELECT json_extract('[1]', '$[0]')")
    except sqlite3.OperationalError:
        return False
    return True


def _from_json(head: str, width: int) -> str:
    """``head`` (an INSERT up to its column list) filled from one JSON array of rows, each an
    array of ``width`` values: JSON null is SQL NULL."""
    columns = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(width))
    return f"{head} SELECT {columns} FROM json_each(?)"


def _rows(records: Iterable[tuple[str, bytes, bytes]], mine: set[str]) -> _Rows:
    # Only catching up decodes records: a query on an index that is level with the store
    # never pays for json and the record check.
    from lineage.index_fields import index_fields
    from lineage.records import decode

    out = _Rows()
    for name, oid, blob in records:
        try:
            doc = index_fields(name, blob) if name in mine else None
            _add(out, name, oid, decode(name, blob, trusted=name in mine) if doc is None else doc)
        except CorruptRecordError as exc:
            out.corrupt.append((name, exc.reason))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Valid JSON under its name, but not a record this lineage can read (a hand-made
            # or foreign one): skipped like a corrupted one, never a crash of every command.
            out.corrupt.append((name, f"malformed {type(exc).__name__}: {exc}"[:200]))
    return out


def _add(out: _Rows, name: str, oid: bytes, doc: dict[str, Any]) -> None:
    """The rows of one record; raises before adding any when the record cannot be read."""
    kind = doc["kind"]
    created = (doc.get("created") or {}).get("at")
    evidence = doc.get("evidence")
    if kind == "run":
        key = run_key_of(doc)
        run_key: str | None = key
        run_node = node_key("run", key)
        edges = edges_of(name, doc, key)
        code = doc.get("code") or {}
        # The fields queries filter on, as columns (the body stays in git).
        unbased = 1 if code.get("commit") is None and code.get("snapshot") is not None else None
        reproduces = doc.get("reproduces")
        # The run's representative record: observed beats inferred, then the newest, then
        # the larger id (compared on insert), whatever order records arrive in.
        rank = f"{'1' if evidence == 'observed' else '0'}|{created or ''}"
        run_row: tuple[str, str, str, int | None] | None = (run_node, name, rank, started_ms(doc))
        rerun_record = None
    else:
        run_key = unbased = reproduces = run_row = None
        edges = edges_of(name, doc)
        rerun_record = doc.get("rerun_record") if kind == "reproduction" else None
    reproduction = None
    if kind == "reproduction":
        model = doc.get("model")
        version = model_key(model["name"], model["version"]).partition(":")[2] if model else None
        rerun = doc.get("rerun_run")
        reproduction = (name, doc["original_run"], rerun, version, doc["verdict"], created or "")
        if rerun:  # also how reruns recorded before the `reproduces` field are recognised
            out.reruns.append((rerun, doc["original_run"]))
    elif run_key is not None and reproduces:
        out.reruns.append((run_key, reproduces))
    out.records.append(
        (
            name,
            oid,
            kind,
            evidence,
            created,
            None if run_row is None else run_row[0],  # the run's node, its id once interned
            doc.get("session"),
            rerun_record,
            reproduces,
            unbased,
        )
    )
    out.edges.append((name, edges))
    if run_row is not None:
        out.runs_alone.append(run_row[0])
        out.runs.append(run_row)
    if reproduction is not None:
        out.reproductions.append(reproduction)


class _Writer:
    """Runs a cold build's inserts on a thread of its own, one batch at a time, at most two
    batches behind the caller; the first error stops it and is raised to the caller."""

    def __init__(self, db: sqlite3.Connection) -> None:
        import queue
        import threading

        self.db = db
        self.jobs: queue.Queue[list[tuple[str, tuple[Any, ...]]] | None] = queue.Queue(2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="lineage-index-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is not None:
                continue  # drain, so the caller never blocks on a full queue
            try:
                for sql, parameters in job:
                    self.db.execute(sql, parameters)
            except BaseException as exc:  # handed to the caller's thread, raised there
                self.error = exc

    def put(self, job: list[tuple[str, tuple[Any, ...]]]) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put(job)

    def close(self) -> None:
        """Wait for every batch put so far; no other thread touches the connection after."""
        self.jobs.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class IndexFullError(LineageError):
    """The disk (or file system quota) holding the index is full."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"the disk holding the index {shown(path)} is full (database or disk is full); "
            "free some space there and run the command again"
        )


class Index:
    LOCK_TIMEOUT_S = 60.0  # how long to wait for another process's write (catch-up, schema)

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path = store.paths.lineage_dir / "index.sqlite"
        # Why the index is a throwaway copy in a temporary directory (None: it is in place),
        # and what was repaired on opening it: warnings for the user, said by the Context.
        self.notes: list[str] = []
        self._temporary: Path | None = None
        self.db = self._connect()
        self.corrupt: list[tuple[str, str]] = []
        self._nids: dict[str, int] = {}  # node key -> id, during one catch-up
        self._pids: dict[str, int] = {}  # data path -> id, likewise
        self._rids = 0  # the last record id a rebuild handed out
        self._mine: set[str] | None = None  # the records this clone wrote (trusted)
        self._journal_seen: int | None = None  # bytes of the journal read by this catch-up

    def _connect(self) -> sqlite3.Connection:
        check_lineage_dir(self.path.parent)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._open(self.path)
        except OSError as exc:
            return self._open_temporary(exc.strerror or str(exc))
        except sqlite3.DatabaseError as exc:
            if is_busy(exc):
                # Busy past the timeout: another process holds it; deleting it would pull the
                # file from under that process.
                raise LineageError(
                    f"the index {shown(self.path)} stayed locked by another lineage process; "
                    "wait for it to finish and run the command again"
                ) from exc
            if is_full(exc):
                raise IndexFullError(self.path) from None
            if self.path.is_dir():
                return self._open_temporary(
                    "a directory is in its place", "remove that directory to keep the index"
                )
            if not is_damaged(exc):
                # It cannot be written here (a read-only file system): never deleted, since
                # it may be fine; answer from a copy instead.
                return self._open_temporary(_why_unwritable(self.path, exc))
        # A damaged index is only a cache: throw it away and rebuild from the records.
        self.notes.append(f"the index {shown(self.path)} was damaged; rebuilt it from the records")
        try:
            for suffix in (*COMPANIONS, ""):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return self._open(self.path)
        except OSError as exc:
            return self._open_temporary(exc.strerror or str(exc), copy=False)

    def _open(self, path: Path) -> sqlite3.Connection:
        damaged: list[str] = []

        def ready(db: sqlite3.Connection) -> bool:
            missing = _missing_tables(db)
            if missing and len(missing) < len(_TABLES) + len(_VIEWS):
                damaged[:] = missing
            return not missing

        db = open_shared(
            path, timeout=self.LOCK_TIMEOUT_S, ready=ready, setup=_migrate, page_size=_PAGE_SIZE
        )
        if damaged:
            self.notes.append(
                f"the index {shown(self.path)} was damaged (table {', '.join(damaged)} "
                "missing); rebuilt it from the records"
            )
        return db

    def _open_temporary(
        self,
        why: str,
        next_step: str = "make its directory writable to keep the index",
        *,
        copy: bool = True,
    ) -> sqlite3.Connection:
        """The index in a temporary directory, started from a copy of the one in place when it
        can be read (so catching up stays incremental), thrown away by close()."""
        import shutil
        import tempfile

        self._temporary = Path(tempfile.mkdtemp(prefix="lineage-index-"))
        path = self._temporary / "index.sqlite"
        self.notes.append(
            f"cannot use the index {shown(self.path)} ({why}); answering from a temporary "
            f"index, thrown away afterwards ({next_step})"
        )
        # With its WAL (what was committed since the last checkpoint) and its rollback journal
        # (what undoes a killed first build: see first_fill).
        for suffix in ("", "-wal", "-journal") if copy else ():
            try:
                shutil.copyfile(f"{self.path}{suffix}", f"{path}{suffix}")
            except OSError:  # missing, unreadable, a directory: without it
                if not suffix:
                    break  # the index itself: start empty
        try:
            return self._open(path)
        except sqlite3.DatabaseError as exc:
            if not is_damaged(exc):
                raise
            for suffix in (*COMPANIONS, ""):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return self._open(path)

    def close(self) -> None:
        self.db.close()
        if self._temporary is not None:
            import shutil

            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    # -- keeping up with the store -------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def refresh(self) -> None:
        """Bring the index level with the store's tip (no-op when it already is)."""
        tip = self.store.tip()
        seen = self._meta("tip")
        if tip != seen:
            # An index that never held records: its first build skips the WAL if it can.
            first = tip is not None and seen is None
            try:
                with (
                    first_fill(self.db, timeout=self.LOCK_TIMEOUT_S)
                    if first
                    else contextlib.nullcontext(False)
                ):
                    # Inserting into B-trees larger than SQLite's 2 MB default cache rereads
                    # pages.
                    self.db.execute("PRAGMA cache_size=-65536")
                    self.db.execute("BEGIN IMMEDIATE")
                    try:
                        self._catch_up(tip)
                        self.db.execute("COMMIT")
                    except BaseException:
                        rollback(self.db)
                        raise
            except sqlite3.DatabaseError as exc:
                if is_full(exc):
                    raise IndexFullError(self.path) from None
                raise
        self.corrupt = list(self.db.execute("SELECT id, reason FROM corrupt ORDER BY id"))

    def _catch_up(self, tip: str | None) -> None:
        seen = self._meta("tip")  # re-read inside the write lock: another process may have won
        # What an earlier (maybe rolled back) catch-up learned is forgotten.
        self._nids, self._pids, self._mine, self._journal_seen = {}, {}, None, None
        if seen == tip:
            return
        if tip is None:
            self._clear()
            return
        known = bool(seen) and self.store.has_commit(seen or "")
        self.store.commit(tip, last_good=seen if known else None)  # the ref may be damaged
        if not (seen and known) or self._insert_arrivals(seen or "", tip):
            self._rebuild(tip)
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('tip', ?)", (tip,))
        self._note_journal_read()

    def _insert_arrivals(self, old: str, new: str) -> bool:
        """Index the records ``new`` holds and ``old`` lacks, a batch at a time as git finds
        and reads them (see ``Store.arrivals``); True when a record vanished or changed, and
        the index must be rebuilt instead (what was inserted here goes with the rest)."""
        arrivals = self.store.arrivals(old, new)
        # Closed on any error too: that stops the git processes still reading.
        with (
            contextlib.closing(iter(arrivals)) as read,
            progress.bar("indexing records", total=None, unit="records") as advance,
        ):
            while batch := list(itertools.islice(read, _STREAMED)):
                self._insert(batch)
                advance(len(batch))
        return arrivals.rewritten

    def _note_journal_read(self) -> None:
        """Keep how much of the journal this catch-up read (see :meth:`_trusted`)."""
        if self._journal_seen is not None:
            self.db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES('journal', ?)",
                (str(self._journal_seen),),
            )

    def _rebuild(self, tip: str) -> None:
        """Refill every table from the records at ``tip``, in batches (a million bodies do not
        fit in memory at once), with the secondary indexes built once at the end: cheaper than
        keeping them sorted row by row. A writer thread runs each batch's inserts in SQLite,
        which releases the GIL, while this thread decodes the next batch and git inflates the
        blobs after it in a process of its own: three stages on two cores."""
        self._clear()
        for name in _SECONDARY:
            self.db.execute(f"DROP INDEX IF EXISTS {name}")
        # Building the indexes sorts a million keys at a time: in memory when it fits (SQLite
        # takes pages as it needs them, up to 256 MB, for this connection only).
        self.db.execute("PRAGMA cache_size=-262144")
        # A run's records arrive in any order (observed and inferred ones, in any batch):
        # staged, they go into `runs` once, sorted, the best record of each run last.
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS cold_runs("
            "nid INTEGER, rid INTEGER, rank TEXT, started_ms INTEGER)"
        )
        self.db.execute("DELETE FROM temp.cold_runs")
        leaves = self.store.leaves(tip, in_pack_order=True)
        entries = self.store.entries(tip, leaves)
        if not _has_json(self.db):  # a SQLite built without JSON: row by row, on this thread
            with progress.bar("indexing records", total=len(leaves), unit="records") as advance:
                while batch := list(itertools.islice(entries, _BATCH)):
                    rows = self._rows_of(batch, cold=True)
                    self._insert_rows(rows, _INSERT_COLD_RUNS + " VALUES(?,?,?,?)")
                    advance(len(batch))
            self._finish_rebuild()
            return
        writer = _Writer(self.db)
        # Millions of rows alive at once make Python's cyclic collector walk them over and
        # over (a third of a million-record build's time); nothing here makes a cycle.
        collecting = gc.isenabled()
        gc.disable()
        try:
            with progress.bar("indexing records", total=len(leaves), unit="records") as advance:
                while batch := list(itertools.islice(entries, _BATCH)):
                    writer.put(self._cold_inserts(batch))
                    advance(len(batch))
        finally:
            if collecting:
                gc.enable()
            writer.close()  # waits for the last batch, and says why the writer stopped
        self._finish_rebuild()

    def _finish_rebuild(self) -> None:
        """Rank the staged runs into ``runs`` and build the indexes a rebuild dropped."""
        self.db.execute(
            "INSERT INTO runs(nid, rid, rank, started_ms) "
            "SELECT c.nid, c.rid, c.rank, c.started_ms FROM temp.cold_runs c "
            "JOIN records r ON r.rid = c.rid WHERE true ORDER BY c.nid, c.rank, r.id "
            "ON CONFLICT(nid) DO UPDATE SET rid=excluded.rid, rank=excluded.rank, "
            "started_ms=excluded.started_ms"
        )
        self.db.execute("DROP TABLE temp.cold_runs")
        execute_script(self.db, _SCHEMA)  # the indexes dropped above
        self._nids.clear()
        self._pids.clear()

    def _clear(self) -> None:
        for table in _TABLES:
            self.db.execute(f"DELETE FROM {table}")
        self._nids.clear()
        self._pids.clear()
        self._rids = 0

    def _insert(self, records: Sequence[tuple[str, bytes, bytes]]) -> None:
        """Index some records into the tables as they are (a catch-up)."""
        self._insert_rows(
            self._rows_of(records, cold=False),
            "INSERT INTO runs(nid, rid, rank, started_ms) VALUES(?,?,?,?) "
            "ON CONFLICT(nid) DO UPDATE SET rid=excluded.rid, rank=excluded.rank, "
            "started_ms=excluded.started_ms WHERE (excluded.rank, "
            "(SELECT id FROM records WHERE rid = excluded.rid)) > "
            "(runs.rank, (SELECT id FROM records WHERE rid = runs.rid))",
        )

    def _insert_rows(self, rows: _Batch, insert_runs: str) -> None:
        """Insert ``rows`` row by row (runs by ``insert_runs``)."""
        db = self.db
        db.executemany("INSERT OR REPLACE INTO corrupt(id, reason) VALUES(?, ?)", rows.corrupt)
        db.executemany(
            "INSERT INTO records(rid, id, oid, kind, evidence, created_at, run, session, "
            "rerun_record, reproduces, unbased) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
            [(rid, name, oid, *rest) for rid, name, oid, rest in rows.records],
        )
        db.executemany("INSERT INTO nodes(nid, key) VALUES(?, ?)", rows.nodes)
        db.executemany("INSERT INTO paths(pid, path) VALUES(?, ?)", rows.paths)
        db.executemany("INSERT INTO links(src, rel, dst, path, rid) VALUES(?,?,?,?,?)", rows.links)
        db.executemany(_INSERT_REPRODUCTIONS + " VALUES(?,?,?,?,?,?)", rows.reproductions)
        db.executemany(_INSERT_RERUNS + " VALUES(?, ?)", rows.reruns)
        db.executemany(insert_runs, rows.runs)

    def _cold_inserts(
        self, records: Sequence[tuple[str, bytes, bytes]]
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """A rebuild's inserts of ``records``, as (SQL, parameters): each table's rows go to
        SQLite as one JSON array, unpacked by ``json_each`` in C, so the writer thread runs a
        whole batch without the GIL. Row by row (``executemany``), it took the GIL back after
        every row and waited each time for the decoding thread to let go of it: the two threads
        took turns instead of running side by side. Runs go to a staging table, and into
        ``runs`` once at the end, sorted (see :meth:`_rebuild`)."""
        import msgspec  # the cold build's decoding imported it already

        rows = self._rows_of(records, cold=True)
        dumps = msgspec.json.encode  # ~6x json.dumps on lists of tuples
        return [
            (_from_json("INSERT OR REPLACE INTO corrupt(id, reason)", 2), (dumps(rows.corrupt),)),
            (
                # A blob cannot be JSON: the oids travel as one blob, 20 bytes a record.
                "INSERT INTO records(rid, id, oid, kind, evidence, created_at, run, session, "
                "rerun_record, reproduces, unbased) SELECT json_extract(value, '$[0]'), "
                "json_extract(value, '$[1]'), substr(?2, key * 20 + 1, 20), "
                + ", ".join(f"json_extract(value, '$[{n}]')" for n in range(2, 10))
                + " FROM json_each(?1)",
                (
                    dumps([(rid, name, *rest) for rid, name, _, rest in rows.records]),
                    b"".join(oid for _, _, oid, _ in rows.records),
                ),
            ),
            (_from_json("INSERT INTO nodes(nid, key)", 2), (dumps(rows.nodes),)),
            (_from_json("INSERT INTO paths(pid, path)", 2), (dumps(rows.paths),)),
            (_from_json("INSERT INTO links(src, rel, dst, path, rid)", 5), (dumps(rows.links),)),
            (_from_json(_INSERT_REPRODUCTIONS, 6), (dumps(rows.reproductions),)),
            (_from_json(_INSERT_RERUNS, 2), (dumps(rows.reruns),)),
            (_from_json(_INSERT_COLD_RUNS, 4), (dumps(rows.runs),)),
        ]

    def _rows_of(self, records: Sequence[tuple[str, bytes, bytes]], *, cold: bool) -> _Batch:
        """The rows that index ``records``, with integer ids. ``cold``: into tables this
        rebuild emptied, whose ids it hands out itself (the writer thread may not have inserted
        the previous batch yet); otherwise looked up in the tables as they are."""
        found = _rows(records, self._trusted([r[0] for r in records], cold=cold))
        db = self.db
        # Records already indexed (a catch-up racing a rebuild) must not duplicate their edges.
        known = set() if cold else self._known([r[0] for r in found.records])
        fresh = [r for r in found.records if r[0] not in known]
        first = (
            self._rids + 1
            if cold
            else db.execute("SELECT COALESCE(MAX(rid), 0) + 1 FROM records").fetchone()[0]
        )
        self._rids = first + len(fresh) - 1
        rids = {r[0]: first + n for n, r in enumerate(fresh)}
        if cold:
            new_nodes, new_paths, links = self._cold_links(found, rids)
            nids = self._nids
        else:
            nodes = set(found.runs_alone)
            paths: set[str] = set()
            for _, edges in found.edges:
                for src, _, dst, path in edges:
                    nodes.add(src)
                    nodes.add(dst)
                    if path is not None:
                        paths.add(_storable(path))
            nids, new_nodes = self._interned(self._nids, "nodes", "nid", "key", nodes)
            pids, new_paths = self._interned(self._pids, "paths", "pid", "path", paths)
            links = [
                (
                    nids[src],
                    rel,
                    nids[dst],
                    None if path is None else pids[_storable(path)],
                    rids[name],
                )
                for name, edges in found.edges
                if name in rids
                for src, rel, dst, path in edges
            ]
        return _Batch(
            corrupt=found.corrupt,
            records=[
                (rids[name], name, oid, (kind, ev, at, None if run is None else nids[run], *rest))
                for name, oid, kind, ev, at, run, *rest in fresh
            ],
            nodes=new_nodes,
            paths=new_paths,
            links=links,
            reproductions=[r for r in found.reproductions if r[0] not in known],
            reruns=found.reruns,
            runs=[
                (nids[run], rids[name], rank, start)
                for run, name, rank, start in found.runs
                if name in rids
            ],
        )

    def _trusted(self, names: list[str], *, cold: bool) -> set[str]:
        """Of ``names``, those this clone wrote (its journal: see ``Store.written_names``).
        The journal holds a line per record written here (65 MB at a million): a rebuild reads
        it once into a set; a catch-up reads only what was appended since the last one (its
        size then is in ``meta``), since a record is journaled before the ref moves to it. A
        name it misses (journaled while the last catch-up ran) is read as pulled: checked
        whole, never trusted by mistake."""
        path = self.store.journal_path
        if self._mine is None and cold:
            with contextlib.suppress(OSError):
                self._journal_seen = path.stat().st_size  # before reading: a lower bound
            self._mine = self.store.written_names()
        if self._mine is not None:
            return self._mine
        start = int(self._meta("journal") or 0)
        try:
            with path.open("rb") as f:
                if os.fstat(f.fileno()).st_size < start:  # rewritten: read it all
                    start = 0
                f.seek(start)
                tail = f.read()
        except FileNotFoundError:
            return set()
        complete = tail.rfind(b"\n") + 1  # a line being appended is read next time
        self._journal_seen = start + complete
        lines = tail[:complete].split(b"\n")
        return {n.decode() for n in {name.encode() for name in names}.intersection(lines)}

    def _cold_links(
        self, found: _Rows, rids: dict[str, int]
    ) -> tuple[list[tuple[int, str]], list[tuple[int, str]], list[tuple[Any, ...]]]:
        """A rebuild's new nodes, new paths and links for ``found``: every id so far was
        handed out here, so the next is one past them (no lookups)."""
        nids, pids = self._nids, self._pids
        new_nodes: list[tuple[int, str]] = []
        new_paths: list[tuple[int, str]] = []
        links: list[tuple[Any, ...]] = []
        for key in found.runs_alone:
            if key not in nids:
                nids[key] = nid = len(nids) + 1
                new_nodes.append((nid, key))
        for name, edges in found.edges:
            rid = rids[name]
            for src, rel, dst, path in edges:
                if (s := nids.get(src)) is None:
                    nids[src] = s = len(nids) + 1
                    new_nodes.append((s, src))
                if (d := nids.get(dst)) is None:
                    nids[dst] = d = len(nids) + 1
                    new_nodes.append((d, dst))
                if path is not None and (p := pids.get(path)) is None:
                    pids[path] = p = len(pids) + 1
                    new_paths.append((p, _storable(path)))
                links.append((s, rel, d, None if path is None else p, rid))
        return new_nodes, new_paths, links

    def _interned(
        self, ids: dict[str, int], table: str, id_column: str, column: str, values: set[str]
    ) -> tuple[dict[str, int], list[tuple[int, str]]]:
        """Each of ``values``' integer id in ``table`` (``ids`` caches them), and the rows to
        insert for those not there yet."""
        missing = [v for v in values if v not in ids]
        for n in range(0, len(missing), 500):
            chunk = missing[n : n + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {column}, {id_column} FROM {table} WHERE {column} IN ({marks})"
            ids.update(self.db.execute(query, chunk))
        missing = [v for v in missing if v not in ids]
        query = f"SELECT COALESCE(MAX({id_column}), 0) + 1 FROM {table}"
        first = self.db.execute(query).fetchone()[0]
        new = [(first + n, value) for n, value in enumerate(sorted(missing))]
        ids.update((value, n) for n, value in new)
        return ids, new

    def _known(self, ids: list[str]) -> set[str]:
        known: set[str] = set()
        for n in range(0, len(ids), 500):
            chunk = ids[n : n + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id FROM records WHERE id IN ({marks})"
            known.update(r[0] for r in self.db.execute(query, chunk))
        return known

    def documents(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Record id -> its document, for the ids indexed (bodies read from git in one batch)."""
        with self.fetch(ids) as fetching:
            return fetching.documents()

    def fetch(self, ids: Iterable[str]) -> Fetch:
        """:meth:`documents`, with git reading the bodies from now on, while the caller goes on
        with other queries; ``documents()`` of what it returns waits for them."""
        oids: dict[str, bytes] = {}
        wanted = list(dict.fromkeys(ids))
        for n in range(0, len(wanted), 500):
            chunk = wanted[n : n + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, oid FROM records WHERE id IN ({marks})"
            oids.update(self.db.execute(query, chunk))
        return self._fetch_bodies(oids)

    def _fetch_bodies(self, oids: dict[str, bytes]) -> Fetch:
        ids: dict[bytes, list[str]] = {}
        for rid, oid in oids.items():
            ids.setdefault(oid, []).append(rid)
        return Fetch(Blobs(self.store.paths, list(ids)), ids)

    def _bodies(self, oids: dict[str, bytes]) -> dict[str, dict[str, Any]]:
        with self._fetch_bodies(oids) as fetching:
            return fetching.documents()

    # -- queries -----------------------------------------------------------------------

    def record(self, record_id: str) -> dict[str, Any] | None:
        return self.documents([record_id]).get(record_id)

    def record_ids_with_prefix(self, prefix: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM records WHERE id >= ? AND id < ? ORDER BY id LIMIT 20",
                (prefix, prefix + "\uffff"),
            )
        ]

    def runs(
        self, limit: int | None = None, *, reruns: bool = True
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """One (record id, record) per run, newest first; an observed record wins over an
        inferred one for the same run, then the newest record. ``reruns`` False leaves out
        the reruns `lineage reproduce` made."""
        # Every key in the join is ``run:<run key>``: ordered as the run keys are.
        where = "" if reruns else "WHERE substr(n.key, 5) NOT IN (SELECT run_key FROM reruns) "
        cursor = self.db.execute(
            "SELECT records.id, records.oid FROM runs JOIN records ON records.rid = runs.rid "
            f"JOIN nodes n ON n.nid = runs.nid {where}ORDER BY runs.started_ms DESC, n.key "
            "LIMIT ?",
            (-1 if limit is None else limit,),
        )
        # A thousand at a time, rows and bodies: the first runs of a million are out in a
        # fraction of a second, and memory holds a page, not the store.
        while rows := cursor.fetchmany(1000):
            docs = self._bodies(dict(rows))
            yield from ((rid, docs[rid]) for rid, _ in rows if rid in docs)

    def runs_by_start(
        self, run_keys: set[str] | None = None
    ) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Pages of (record id, record), one per run (its representative record, as
        :meth:`runs` chooses), oldest start first (runs with no start before them), then by run
        key; ``run_keys``: only those runs. Bodies a thousand at a time: memory holds a page,
        not the store."""
        # started_ms ascending puts NULL first: documents.start_order spells the same.
        cursor = self.db.execute(
            "SELECT n.key, records.id, records.oid FROM runs "
            "JOIN records ON records.rid = runs.rid JOIN nodes n ON n.nid = runs.nid "
            "ORDER BY runs.started_ms, n.key"
        )
        while rows := cursor.fetchmany(1000):
            if run_keys is not None:
                rows = [row for row in rows if row[0][4:] in run_keys]
            docs = self._bodies({rid: oid for _, rid, oid in rows})
            if page := [(rid, docs[rid]) for _, rid, _ in rows if rid in docs]:
                yield page

    def representatives(self, run_keys: Sequence[str]) -> dict[str, str]:
        """Run key -> the id of its representative record (the one :meth:`runs` gives), for
        those of ``run_keys`` recorded; no body is read."""
        found: dict[str, str] = {}
        for chunk in range(0, len(run_keys), 500):  # SQLite's bound-parameter limit
            keys = [node_key("run", k) for k in run_keys[chunk : chunk + 500]]
            rows = self.db.execute(
                "SELECT n.key, records.id FROM nodes n JOIN runs ON runs.nid = n.nid "
                "JOIN records ON records.rid = runs.rid "
                f"WHERE n.key IN ({','.join('?' * len(keys))})",
                keys,
            )
            found.update((key.partition(":")[2], rid) for key, rid in rows)
        return found

    def registrations_of(self, run_keys: Sequence[str]) -> list[str]:
        """The ids of the ``registration`` records of versions registered from ``run_keys``
        after their records were written, in id order."""
        return sorted({record_id for _, _, record_id in self._registrations(run_keys)})

    def records_for_run(self, run_key: str) -> list[tuple[str, dict[str, Any]]]:
        """The records of one run, its representative first (see :meth:`records_for_runs`)."""
        return self.records_for_runs([run_key]).get(run_key, [])

    def records_for_runs(
        self, run_keys: Sequence[str]
    ) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """Run key -> its records (id, document), the run's representative record first, then
        observed before inferred, newest first; a run with none is left out. One query per 500
        runs and one git read for all: an import that asks for each of 10,000 runs in turn
        started git 10,000 times."""
        rows: list[tuple[str, str, bytes]] = []
        keys = list(dict.fromkeys(node_key("run", key) for key in run_keys))
        for n in range(0, len(keys), 500):
            chunk = keys[n : n + 500]
            rows += self.db.execute(
                "SELECT nodes.key, records.id, records.oid FROM nodes "
                "JOIN records ON records.run = nodes.nid "
                "LEFT JOIN runs ON runs.nid = records.run AND runs.rid = records.rid "
                f"WHERE nodes.key IN ({','.join('?' * len(chunk))}) "
                "ORDER BY nodes.key, runs.rid IS NULL, evidence='observed' DESC, "
                "created_at DESC, records.id DESC",
                chunk,
            ).fetchall()
        docs = self._bodies({rid: oid for _, rid, oid in rows})
        found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for key, rid, _ in rows:
            if rid in docs:
                found.setdefault(key.partition(":")[2], []).append((rid, docs[rid]))
        return found

    def nodes_with_prefix(self, kind: str, prefix: str) -> list[str]:
        lo = node_key(kind, prefix)
        return [
            r[0]
            for r in self.db.execute(
                "SELECT key FROM nodes WHERE key >= ? AND key < ? ORDER BY key LIMIT 20",
                (lo, lo + "\uffff"),
            )
        ]

    def nodes_matching(
        self, kind: str, prefix: str, like: str = "%", limit: int | None = None
    ) -> list[str]:
        """Node keys of ``kind`` that start with ``prefix`` and whose rest matches the LIKE
        pattern ``like`` (escape with ``\\``); the key range keeps the scan to the prefix."""
        lo = node_key(kind, prefix)
        rows = self.db.execute(
            "SELECT key FROM nodes WHERE key >= ? AND key < ? AND key LIKE ? ESCAPE '\\' "
            "ORDER BY key LIMIT ?",
            (lo, lo + "\uffff", like_escaped(lo) + like, -1 if limit is None else limit),
        )
        return [r[0] for r in rows]

    def has_node(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM nodes WHERE key=?", (key,)).fetchone() is not None

    def edges_touching(self, key: str) -> list[Edge]:
        rows = self.db.execute(
            "SELECT src, rel, dst, path, record_id, evidence FROM edges WHERE src=? "
            "UNION ALL SELECT src, rel, dst, path, record_id, evidence FROM edges "
            "WHERE dst=? AND src<>? ORDER BY rel, src, dst, path",
            (key, key, key),
        )
        return [Edge(*r) for r in rows]

    def md5s_at_path(self, path: str) -> list[str]:
        """The md5s recorded at one data path, oldest record first (an indexed lookup)."""
        found: dict[str, None] = {}
        for src, dst in self.db.execute(
            "SELECT src, dst FROM edges WHERE path=? AND rel IN ('input', 'output') ORDER BY seq",
            (_storable(path),),
        ):
            found[(src if src.startswith("data:") else dst).partition(":")[2]] = None
        return list(found)

    def data_versions(self, path: str) -> list[tuple[str, str]]:
        """(md5, when first recorded) of every version recorded at one data path (read or
        written), oldest first: the order does not depend on how the index was filled."""
        rows = self.db.execute(
            "SELECT CASE WHEN e.rel = 'input' THEN e.src ELSE e.dst END AS data, "
            "MIN(r.created_at) AS first FROM edges e JOIN records r ON r.id = e.record_id "
            "WHERE e.path = ? AND e.rel IN ('input', 'output') GROUP BY data "
            "ORDER BY first, data",
            (_storable(path),),
        )
        return [(data.partition(":")[2], first or "") for data, first in rows]

    def data_paths(self, limit: int = 1000) -> list[str]:
        """Recorded data paths (read or written by some run), sorted."""
        return [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT path FROM edges WHERE rel IN ('input', 'output') "
                "AND path IS NOT NULL ORDER BY path LIMIT ?",
                (limit,),
            )
        ]

    def attached_commits(self, run_key: str) -> list[str]:
        """Commits the post-commit hook recorded as holding the code of a run made on a dirty
        tree (``attachment`` records), first attached first."""
        rows = self.db.execute(
            "SELECT e.src, MIN(r.created_at) AS first FROM edges e "
            "JOIN records r ON r.id = e.record_id "
            "WHERE e.dst = ? AND e.rel = 'code' AND r.kind = 'attachment' "
            "GROUP BY e.src ORDER BY first, e.src",
            (node_key("run", run_key),),
        )
        return [src.partition(":")[2] for src, _ in rows]

    def model_versions(self, name: str) -> list[int]:
        lo = node_key("model", f"{name}/")
        keys = [
            r[0]
            for r in self.db.execute(
                "SELECT key FROM nodes WHERE key >= ? AND key < ?",
                (lo, lo + "\uffff"),
            )
        ]
        versions = []
        for key in keys:
            tail = key[len(lo) :]
            if tail.isdigit():
                versions.append(int(tail))
        return sorted(versions)

    def reproductions_of(self, run_keys: Sequence[str]) -> dict[str, list[Reproduction]]:
        """Run key -> its reproductions, newest first, for those of ``run_keys`` that have any:
        one query per 500 runs, where :meth:`reproductions` asks once per run."""
        found: dict[str, list[Reproduction]] = {}
        for chunk in range(0, len(run_keys), 500):  # SQLite's bound-parameter limit
            keys = list(run_keys[chunk : chunk + 500])
            marks = ",".join("?" * len(keys))
            rows = self.db.execute(
                "SELECT record_id, original, rerun, model, verdict, created_at FROM reproductions"
                f" WHERE original IN ({marks}) ORDER BY created_at DESC, record_id",
                keys,
            )
            for row in rows:
                found.setdefault(row[1], []).append(Reproduction(*row))
        return found

    def reproductions(self, run_key: str | None = None) -> list[Reproduction]:
        """Reproductions of one run (or of every run), newest first."""
        query = "SELECT record_id, original, rerun, model, verdict, created_at FROM reproductions"
        if run_key is None:
            rows = self.db.execute(query + " ORDER BY created_at DESC, record_id")
        else:
            rows = self.db.execute(
                query + " WHERE original=? ORDER BY created_at DESC, record_id", (run_key,)
            )
        return [Reproduction(*r) for r in rows]

    def producers(self, model_key: str) -> list[str]:
        """The runs that produced a model version; never a rerun (a rerun registers in a
        throwaway registry, whose version numbers are not the real registry's)."""
        return [
            r[0].partition(":")[2]
            for r in self.db.execute(
                "SELECT DISTINCT src FROM edges WHERE dst=? AND rel='produced' "
                "AND substr(src, 5) NOT IN (SELECT run_key FROM reruns) ORDER BY src",
                (model_key,),
            )
        ]

    def rerun_count(self) -> int:
        """How many recorded runs are reruns made by `lineage reproduce`."""
        # A join, not `run_key IN (SELECT run_key FROM runs)`: SQLite walked every run for that
        # (0.38 s at a million runs, on every `lineage log`).
        query = (
            "SELECT COUNT(*) FROM reruns JOIN nodes n ON n.key = 'run:' || reruns.run_key "
            "JOIN runs ON runs.nid = n.nid"
        )
        return int(self.db.execute(query).fetchone()[0])

    def reruns_among(self, run_keys: Sequence[str]) -> dict[str, str]:
        """Of ``run_keys``, the reruns `lineage reproduce` made: run key -> the run reproduced."""
        found: dict[str, str] = {}
        for chunk in range(0, len(run_keys), 500):  # SQLite's bound-parameter limit
            keys = list(run_keys[chunk : chunk + 500])
            marks = ",".join("?" * len(keys))
            query = f"SELECT run_key, original FROM reruns WHERE run_key IN ({marks})"
            rows = self.db.execute(query, keys)
            found.update((key, original) for key, original in rows)
        return found

    def run_count(self) -> int:
        """How many runs are recorded (reruns included), without reading a record body."""
        return int(self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def has_runs(self) -> bool:
        return self.db.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is not None

    def unlinked(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Of ``pairs`` (run key, model key), those whose run is recorded but whose model has
        no ``produced`` edge from it yet (one query)."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS pairs(run_key TEXT, model TEXT)")
        db.execute("DELETE FROM pairs")
        db.executemany("INSERT INTO pairs VALUES(?, ?)", list(pairs))
        rows = db.execute(
            """
            SELECT DISTINCT run_key, model FROM pairs
            WHERE EXISTS (SELECT 1 FROM nodes n JOIN runs ON runs.nid = n.nid
                          WHERE n.key = 'run:' || pairs.run_key)
              AND NOT EXISTS (SELECT 1 FROM edges WHERE src = 'run:' || pairs.run_key
                              AND dst = pairs.model AND rel = 'produced')
            ORDER BY run_key, model
            """
        ).fetchall()
        return [(run, model) for run, model in rows]

    def registered_later(self, run_keys: Sequence[str]) -> dict[str, list[str]]:
        """run key -> the model keys registered from it after its record was written (by a
        ``registration`` record), for the runs of ``run_keys`` that have any."""
        found: dict[str, list[str]] = {}
        for run_key, model, _ in self._registrations(run_keys):
            found.setdefault(run_key, []).append(model)
        return found

    def _registrations(self, run_keys: Sequence[str]) -> list[tuple[str, str, str]]:
        """(run key, model key, registration record id) of the versions registered from
        ``run_keys`` by ``registration`` records, by run, then model: one query per 500 runs."""
        found: list[tuple[str, str, str]] = []
        for chunk in range(0, len(run_keys), 500):  # SQLite's bound-parameter limit
            keys = [node_key("run", k) for k in run_keys[chunk : chunk + 500]]
            rows = self.db.execute(
                "SELECT edges.src, edges.dst, edges.record_id FROM edges "
                "JOIN records ON records.id = edges.record_id "
                f"WHERE edges.src IN ({','.join('?' * len(keys))}) AND edges.rel = 'produced' "
                "AND records.kind = 'registration' ORDER BY edges.src, edges.dst",
                keys,
            )
            found += ((src.partition(":")[2], dst, rid) for src, dst, rid in rows)
        return found

    def pushed_runs(self, commits: Sequence[str]) -> list[PushedRun]:
        """The observed runs recorded on ``commits`` (directly or through a snapshot of a dirty
        tree based on one), leaving out reruns made by `lineage reproduce`: a rerun's outputs
        exist only in its throwaway worktree, and its inputs are the original's.

        A rerun is known by a reproduction record naming it (``rerun_run``), by sharing the
        session of the record a reproduction names (``rerun_record``: a grid search reruns as
        many runs), or by a ``reproduces`` field of its own record."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS pushed(key TEXT PRIMARY KEY)")
        db.execute("DELETE FROM pushed")
        db.executemany(
            "INSERT OR IGNORE INTO pushed VALUES(?)", [(node_key("commit", c),) for c in commits]
        )
        rows = db.execute(
            """
            WITH code(key) AS (
                SELECT key FROM pushed
                UNION SELECT dst FROM edges
                      WHERE rel = 'snapshot' AND src IN (SELECT key FROM pushed)
            ), ran(run) AS (
                SELECT dst FROM edges WHERE rel = 'code' AND src IN (SELECT key FROM code)
            ), rerun_sessions(session) AS (
                SELECT session FROM records WHERE id IN (
                    SELECT rerun_record FROM records WHERE rerun_record IS NOT NULL)
            )
            SELECT substr(n.key, 5) AS run_key, r.id, r.oid,
                   EXISTS(SELECT 1 FROM links p WHERE p.src = r.run AND p.rel = 'produced')
            FROM records r JOIN nodes n ON n.nid = r.run
            WHERE r.kind = 'run' AND r.evidence = 'observed'
              AND n.key IN (SELECT run FROM ran)
              AND substr(n.key, 5) NOT IN (
                  SELECT rerun FROM reproductions WHERE rerun IS NOT NULL)
              AND COALESCE(r.session, '') NOT IN (
                  SELECT session FROM rerun_sessions WHERE session IS NOT NULL)
              AND r.reproduces IS NULL
            ORDER BY n.key, r.id
            """
        ).fetchall()
        docs = self._bodies({rid: oid for _, rid, oid, _ in rows})
        return [
            PushedRun(key, docs[rid], bool(produced))
            for key, rid, _, produced in rows
            if rid in docs
        ]

    def readers(self, md5s: Iterable[str]) -> dict[str, set[str]]:
        """md5 -> the run keys of every recorded run that read it as an input."""
        keys = [node_key("data", m) for m in dict.fromkeys(md5s)]
        found: dict[str, set[str]] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            for src, dst in self.db.execute(
                f"SELECT src, dst FROM edges WHERE rel = 'input' AND src IN ({marks})", batch
            ):
                found.setdefault(src.partition(":")[2], set()).add(dst.partition(":")[2])
        return found

    def snapshot_records(self, base: str | None) -> list[str]:
        """Ids of the run records made on a dirty tree whose snapshot's base is ``base`` (None:
        a repository with no commit yet)."""
        if base is not None:
            return [
                r[0]
                for r in self.db.execute(
                    "SELECT record_id FROM edges WHERE src = ? AND rel = 'snapshot'",
                    (node_key("commit", base),),
                )
            ]
        return [
            r[0]
            for r in self.db.execute("SELECT id FROM records WHERE kind = 'run' AND unbased = 1")
        ]


class Fetch:
    """Record bodies git is reading (:meth:`Index.fetch`); use it in a ``with``, which ends git
    if ``documents()`` was not called or stopped early."""

    def __init__(self, blobs: Blobs, ids: dict[bytes, list[str]]) -> None:
        self._blobs = blobs
        self._ids = ids

    def documents(self) -> dict[str, dict[str, Any]]:
        """Record id -> its document; each decoded as it arrives, while git inflates the next."""
        return {rid: json.loads(blob) for oid, blob in self._blobs for rid in self._ids[oid]}

    def __enter__(self) -> Fetch:
        return self

    def __exit__(self, *_: object) -> None:
        self._blobs.close()


class PushedRun(NamedTuple):
    """A run on commits being pushed: its record's document, and whether a model version was
    registered from it."""

    run_key: str
    record: dict[str, Any]
    produced_model: bool


def like_escaped(text: str) -> str:
    """``text`` matched literally in a LIKE pattern that escapes with ``\\``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def open_index(store: Store) -> Index:
    index = Index(store)
    index.refresh()
    return index
