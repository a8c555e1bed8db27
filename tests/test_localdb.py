"""Many processes open lineage's SQLite files at once, often just after creating them.

Opening a fresh file used to fail now and then with ``database is locked`` (the switch to WAL
needs an exclusive lock, and SQLite answers busy at once instead of waiting when two openers each
hold a shared lock). Threads hit the same file locks as processes and start closer together,
which makes the race show within a couple of hundred fresh files.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from lineage import index
from lineage.adapters import git
from lineage.adapters.dvc_hash import StatCache
from lineage.adapters.store import Store
from lineage.errors import LineageError
from lineage.localdb import open_shared
from tests.conftest import sh

TRIALS = 200
OPENERS = 8


def _open_all_at_once(tmp_path: Path, opener: Callable[[Path], None]) -> list[str]:
    errors: list[str] = []
    for trial in range(TRIALS):
        path = tmp_path / f"{trial}.sqlite"
        barrier = threading.Barrier(OPENERS)

        def work(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                opener(path)
            except Exception as exc:  # collected and asserted on below
                errors.append(repr(exc))

        threads = [threading.Thread(target=work) for _ in range(OPENERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return errors


def test_stat_cache_opens_under_concurrent_first_use(tmp_path: Path) -> None:
    def opener(path: Path) -> None:
        StatCache(path).close()

    assert _open_all_at_once(tmp_path, opener) == []


def test_index_schema_is_created_once_under_concurrent_first_use(tmp_path: Path) -> None:
    def opener(path: Path) -> None:
        db = open_shared(path, timeout=60.0, ready=index._current, setup=index._migrate)
        try:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA user_version").fetchone()[0] == index.SCHEMA_VERSION
        finally:
            db.close()

    assert _open_all_at_once(tmp_path, opener) == []


def test_an_index_from_another_schema_version_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE records(id TEXT PRIMARY KEY)")
    old.execute("INSERT INTO records VALUES ('stale')")
    old.execute(f"PRAGMA user_version={index.SCHEMA_VERSION - 1}")
    old.commit()
    old.close()

    db = open_shared(path, timeout=5.0, ready=index._current, setup=index._migrate)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == index.SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0
        columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
        assert {"id", "oid", "kind", "run"} <= columns and "body" not in columns
    finally:
        db.close()


def test_opening_a_ready_file_takes_no_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    open_shared(path, timeout=5.0, ready=index._current, setup=index._migrate).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # e.g. another process catching the index up
    try:
        db = open_shared(path, timeout=0.2, ready=index._current, setup=index._migrate)
        assert db.execute("SELECT count(*) FROM records").fetchone() == (0,)
        db.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_an_index_locked_past_the_timeout_is_an_error_not_a_deletion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    sh("git", "init", "-q", str(repo), cwd=tmp_path)
    store = Store(git.discover(repo))
    index.Index(store).close()
    path = store.paths.lineage_dir / "index.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute(f"PRAGMA user_version={index.SCHEMA_VERSION - 1}")  # a migration is due
    holder.execute("BEGIN IMMEDIATE")  # and another process holds the write lock
    monkeypatch.setattr(index.Index, "LOCK_TIMEOUT_S", 0.2)
    try:
        with pytest.raises(LineageError, match="stayed locked by another lineage process"):
            index.Index(store)
        assert path.exists()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    index.Index(store).close()  # once the lock is gone, the migration goes through
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == index.SCHEMA_VERSION
    check.close()
