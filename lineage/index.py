"""The query index: SQLite in ``<git-common-dir>/lineage/index.sqlite``, derived from the store.

It holds nothing the records do not: deleted, it is rebuilt; behind the ref, it catches up by
reading only the records added since the tip it last saw (a tree diff). Every query answers the
same with or without it. When the tip has not moved, a query costs one ``git rev-parse`` and one
SQLite read, and never imports pygit2.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from lineage.adapters.store import Store
from lineage.documents import run_key_of, run_rank, started_ms
from lineage.edges import edges_of, model_key, node_key
from lineage.errors import CorruptRecordError, LineageError
from lineage.localdb import execute_script, is_busy, is_damaged, is_full, open_shared, rollback
from lineage.writable import check_lineage_dir, shown

SCHEMA_VERSION = 5  # 5: the reruns table
_TABLES = ("meta", "records", "nodes", "edges", "corrupt", "runs", "reproductions", "reruns")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, evidence TEXT, created_at TEXT,
    run_key TEXT, started_ms INTEGER, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_run ON records(run_key);
CREATE INDEX IF NOT EXISTS records_started ON records(started_ms);
CREATE TABLE IF NOT EXISTS nodes(key TEXT PRIMARY KEY, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edges(
    src TEXT NOT NULL, rel TEXT NOT NULL, dst TEXT NOT NULL, path TEXT,
    record_id TEXT NOT NULL, evidence TEXT);
CREATE INDEX IF NOT EXISTS edges_src ON edges(src);
CREATE INDEX IF NOT EXISTS edges_dst ON edges(dst);
CREATE INDEX IF NOT EXISTS edges_path ON edges(path);
CREATE TABLE IF NOT EXISTS corrupt(id TEXT PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    run_key TEXT PRIMARY KEY, record_id TEXT NOT NULL, rank TEXT NOT NULL, started_ms INTEGER);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_ms);
CREATE INDEX IF NOT EXISTS runs_record ON runs(record_id);
CREATE TABLE IF NOT EXISTS reproductions(
    record_id TEXT PRIMARY KEY, original TEXT NOT NULL, rerun TEXT, model TEXT,
    verdict TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reproductions_original ON reproductions(original);
CREATE TABLE IF NOT EXISTS reruns(run_key TEXT PRIMARY KEY, original TEXT NOT NULL);
"""


def _missing_tables(db: sqlite3.Connection) -> list[str]:
    """The tables of this schema version that are not there (all of them for another version):
    a table dropped by hand or by a tool makes the index damaged, rebuilt rather than a crash
    in some later query."""
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        return list(_TABLES)
    found = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return [table for table in _TABLES if table not in found]


def _current(db: sqlite3.Connection) -> bool:
    return not _missing_tables(db)


def _why_unwritable(path: Path, exc: sqlite3.DatabaseError) -> str:
    from lineage.writable import directory_problem

    return directory_problem(path.parent) or str(exc)


def _migrate(db: sqlite3.Connection) -> None:
    """Create the tables, or drop and recreate them when they come from another schema version
    (the index is derived data: it refills from the records on the next refresh)."""
    for table in _TABLES:
        db.execute(f"DROP TABLE IF EXISTS {table}")
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
    """The index rows some records make, table by table."""

    def __init__(self) -> None:
        self.records: list[tuple[Any, ...]] = []
        self.edges: list[tuple[Any, ...]] = []
        self.nodes: set[str] = set()
        self.runs: list[tuple[Any, ...]] = []
        self.reproductions: list[tuple[Any, ...]] = []
        self.reruns: list[tuple[str, str]] = []  # (rerun's run key, the run it reproduces)
        self.corrupt: list[tuple[str, str]] = []


def _rows(records: Iterable[tuple[str, bytes]], trusted: Callable[[], set[str]]) -> _Rows:
    # Only catching up decodes records: a query on an index that is level with the store
    # never pays the ~10 ms it costs to import records' dataclasses.
    from lineage.records import decode

    out = _Rows()
    mine: set[str] | None = None  # read once, and only when there is something to decode
    for name, blob in records:
        if mine is None:
            mine = trusted()
        try:
            _add(out, name, decode(name, blob, trusted=name in mine), blob)
        except CorruptRecordError as exc:
            out.corrupt.append((name, exc.reason))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Valid JSON under its name, but not a record this lineage can read (a hand-made
            # or foreign one): skipped like a corrupted one, never a crash of every command.
            out.corrupt.append((name, f"malformed {type(exc).__name__}: {exc}"[:200]))
    return out


def _add(out: _Rows, name: str, doc: dict[str, Any], blob: bytes) -> None:
    """The rows of one record; raises before adding any when the record cannot be read."""
    kind = doc["kind"]
    created = (doc.get("created") or {}).get("at")
    run_key = run_key_of(doc) if kind == "run" else None
    start = started_ms(doc) if kind == "run" else None
    edges = edges_of(name, doc)
    reproduction = None
    if kind == "reproduction":
        model = doc.get("model")
        version = model_key(model["name"], model["version"]).partition(":")[2] if model else None
        rerun = doc.get("rerun_run")
        reproduction = (name, doc["original_run"], rerun, version, doc["verdict"], created or "")
        if rerun:  # also how reruns recorded before the `reproduces` field are recognised
            out.reruns.append((rerun, doc["original_run"]))
    elif run_key is not None and doc.get("reproduces"):
        out.reruns.append((run_key, doc["reproduces"]))
    out.records.append((name, kind, doc.get("evidence"), created, run_key, start, blob.decode()))
    for src, rel, dst, path in edges:
        out.edges.append((src, rel, dst, path, name, doc.get("evidence")))
        out.nodes.update((src, dst))
    if run_key is not None:
        out.nodes.add(node_key("run", run_key))
        out.runs.append((run_key, name, run_rank(doc, name), start))
    if reproduction is not None:
        out.reproductions.append(reproduction)


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
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return self._open(self.path)
        except OSError as exc:
            return self._open_temporary(exc.strerror or str(exc), copy=False)

    def _open(self, path: Path) -> sqlite3.Connection:
        damaged: list[str] = []

        def ready(db: sqlite3.Connection) -> bool:
            missing = _missing_tables(db)
            if missing and len(missing) < len(_TABLES):
                damaged[:] = missing
            return not missing

        db = open_shared(path, timeout=self.LOCK_TIMEOUT_S, ready=ready, setup=_migrate)
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
        for suffix in ("", "-wal") if copy else ():
            try:
                shutil.copyfile(f"{self.path}{suffix}", f"{path}{suffix}")
            except OSError:  # missing, unreadable, a directory: start empty
                break
        try:
            return self._open(path)
        except sqlite3.DatabaseError as exc:
            if not is_damaged(exc):
                raise
            for suffix in ("", "-wal", "-shm"):
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
        if tip != self._meta("tip"):
            try:
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
        if seen == tip:
            return
        if tip is None:
            self._clear()
            return
        known = bool(seen) and self.store.has_commit(seen or "")
        self.store.commit(tip, last_good=seen if known else None)  # the ref may be damaged
        if seen and known:
            added, removed = self.store.added_between(seen, tip)
            if removed:
                self._clear()
                added = list(self.store.iter_all(tip))
        else:
            self._clear()
            added = list(self.store.iter_all(tip))
        self._insert(added)
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('tip', ?)", (tip,))

    def _clear(self) -> None:
        for table in _TABLES:
            self.db.execute(f"DELETE FROM {table}")

    def _insert(self, records: Iterable[tuple[str, bytes]]) -> None:
        found = _rows(records, self.store.written_names)
        db = self.db
        db.executemany("INSERT OR REPLACE INTO corrupt(id, reason) VALUES(?, ?)", found.corrupt)
        # Records already indexed (a catch-up racing a rebuild) must not duplicate their edges.
        known = self._known([r[0] for r in found.records])
        db.executemany(
            "INSERT OR IGNORE INTO records(id, kind, evidence, created_at, run_key, started_ms, "
            "body) VALUES(?,?,?,?,?,?,?)",
            [r for r in found.records if r[0] not in known],
        )
        db.executemany(
            "INSERT INTO edges(src, rel, dst, path, record_id, evidence) VALUES(?,?,?,?,?,?)",
            [e for e in found.edges if e[4] not in known],
        )
        db.executemany(
            "INSERT OR IGNORE INTO nodes(key, kind) VALUES(?, ?)",
            sorted((key, key.partition(":")[0]) for key in found.nodes),
        )
        db.executemany(
            "INSERT OR IGNORE INTO reproductions(record_id, original, rerun, model, verdict, "
            "created_at) VALUES(?,?,?,?,?,?)",
            [r for r in found.reproductions if r[0] not in known],
        )
        db.executemany("INSERT OR IGNORE INTO reruns(run_key, original) VALUES(?, ?)", found.reruns)
        # The run's representative record: observed beats inferred, then the newest, then the
        # larger id, so the answer does not depend on the order records arrived in.
        db.executemany(
            "INSERT INTO runs(run_key, record_id, rank, started_ms) VALUES(?,?,?,?) "
            "ON CONFLICT(run_key) DO UPDATE SET record_id=excluded.record_id, "
            "rank=excluded.rank, started_ms=excluded.started_ms WHERE excluded.rank > runs.rank",
            found.runs,
        )

    def _known(self, ids: list[str]) -> set[str]:
        known: set[str] = set()
        for n in range(0, len(ids), 500):
            chunk = ids[n : n + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id FROM records WHERE id IN ({marks})"
            known.update(r[0] for r in self.db.execute(query, chunk))
        return known

    # -- queries -----------------------------------------------------------------------

    def record(self, record_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT body FROM records WHERE id=?", (record_id,)).fetchone()
        return json.loads(row[0]) if row else None

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
        where = "" if reruns else "WHERE runs.run_key NOT IN (SELECT run_key FROM reruns) "
        rows = self.db.execute(
            "SELECT records.id, records.body FROM runs JOIN records ON records.id = runs.record_id "
            f"{where}ORDER BY runs.started_ms DESC, runs.run_key LIMIT ?",
            (-1 if limit is None else limit,),
        )
        for rid, body in rows:
            yield rid, json.loads(body)

    def records_for_run(self, run_key: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT records.id, body FROM records LEFT JOIN runs ON runs.record_id = records.id "
            "WHERE records.run_key=? ORDER BY runs.record_id IS NULL, evidence='observed' DESC, "
            "created_at DESC, records.id DESC",
            (run_key,),
        )
        return [(rid, json.loads(body)) for rid, body in rows]

    def nodes_with_prefix(self, kind: str, prefix: str) -> list[str]:
        lo = node_key(kind, prefix)
        return [
            r[0]
            for r in self.db.execute(
                "SELECT key FROM nodes WHERE key >= ? AND key < ? ORDER BY key LIMIT 20",
                (lo, lo + "\uffff"),
            )
        ]

    def has_node(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM nodes WHERE key=?", (key,)).fetchone() is not None

    def edges_touching(self, key: str) -> list[Edge]:
        rows = self.db.execute(
            "SELECT src, rel, dst, path, record_id, evidence FROM edges WHERE src=? OR dst=? "
            "ORDER BY rel, src, dst, path",
            (key, key),
        )
        return [Edge(*r) for r in rows]

    def md5s_at_path(self, path: str) -> list[str]:
        """The md5s recorded at one data path, oldest record first (an indexed lookup)."""
        found: dict[str, None] = {}
        for src, dst in self.db.execute(
            "SELECT src, dst FROM edges WHERE path=? AND rel IN ('input', 'output') ORDER BY rowid",
            (path,),
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
            (path,),
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
        query = "SELECT COUNT(*) FROM reruns WHERE run_key IN (SELECT run_key FROM runs)"
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
            WHERE EXISTS (SELECT 1 FROM runs WHERE runs.run_key = pairs.run_key)
              AND NOT EXISTS (SELECT 1 FROM edges WHERE src = 'run:' || pairs.run_key
                              AND dst = pairs.model AND rel = 'produced')
            ORDER BY run_key, model
            """
        ).fetchall()
        return [(run, model) for run, model in rows]

    def registered_later(self, run_keys: Sequence[str]) -> dict[str, list[str]]:
        """run key -> the model keys registered from it after its record was written (by a
        ``registration`` record), for the runs of ``run_keys`` that have any (one query)."""
        if not run_keys:
            return {}
        found: dict[str, list[str]] = {}
        for chunk in range(0, len(run_keys), 500):  # SQLite's bound-parameter limit
            keys = [node_key("run", k) for k in run_keys[chunk : chunk + 500]]
            rows = self.db.execute(
                "SELECT edges.src, edges.dst FROM edges "
                "JOIN records ON records.id = edges.record_id "
                f"WHERE edges.src IN ({','.join('?' * len(keys))}) AND edges.rel = 'produced' "
                "AND records.kind = 'registration' ORDER BY edges.src, edges.dst",
                keys,
            )
            for src, dst in rows:
                found.setdefault(src.partition(":")[2], []).append(dst)
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
                SELECT json_extract(body, '$.session') FROM records WHERE id IN (
                    SELECT json_extract(body, '$.rerun_record') FROM records
                    WHERE kind = 'reproduction')
            )
            SELECT r.run_key, r.body,
                   EXISTS(SELECT 1 FROM edges p
                          WHERE p.rel = 'produced' AND p.src = 'run:' || r.run_key)
            FROM records r
            WHERE r.kind = 'run' AND r.evidence = 'observed'
              AND 'run:' || r.run_key IN (SELECT run FROM ran)
              AND r.run_key NOT IN (SELECT rerun FROM reproductions WHERE rerun IS NOT NULL)
              AND COALESCE(json_extract(r.body, '$.session'), '') NOT IN (
                  SELECT session FROM rerun_sessions WHERE session IS NOT NULL)
              AND json_extract(r.body, '$.reproduces') IS NULL
            ORDER BY r.run_key, r.id
            """
        ).fetchall()
        return [PushedRun(key, json.loads(body), bool(produced)) for key, body, produced in rows]

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
            for r in self.db.execute(
                "SELECT id FROM records WHERE kind = 'run' "
                "AND json_extract(body, '$.code.commit') IS NULL "
                "AND json_extract(body, '$.code.snapshot') IS NOT NULL"
            )
        ]


class PushedRun(NamedTuple):
    """A run on commits being pushed: its record's document, and whether a model version was
    registered from it."""

    run_key: str
    record: dict[str, Any]
    produced_model: bool


def open_index(store: Store) -> Index:
    index = Index(store)
    index.refresh()
    return index
