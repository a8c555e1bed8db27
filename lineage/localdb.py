"""Opening the SQLite files lineage keeps in ``<git-common-dir>/lineage/`` (index, stat cache).

Several lineage processes (parallel ``lineage run``s, a hook during a run) open the same file at
once, often just after it was created. SQLite's busy timeout does not cover everything there:
switching a fresh file to WAL needs an exclusive lock, and a connection that already holds a
shared lock gets ``database is locked`` at once rather than wait (SQLite's deadlock avoidance).
So the journal-mode switch is retried until ``timeout``, and schema set-up runs in a
``BEGIN IMMEDIATE`` transaction, which takes the write lock before reading anything and therefore
does wait: only one process creates or migrates the schema, the others see it done.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path


def open_shared(
    path: Path, *, timeout: float, setup: Callable[[sqlite3.Connection], None]
) -> sqlite3.Connection:
    """A WAL-mode autocommit connection to ``path`` whose schema ``setup`` has run exactly once
    (``setup`` gets the connection inside a write transaction and must be idempotent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        deadline = time.monotonic() + timeout
        _retry(lambda: _wal(db), deadline)
        db.execute("PRAGMA synchronous=NORMAL")
        _retry(lambda: db.execute("BEGIN IMMEDIATE"), deadline)
        try:
            setup(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except BaseException:
        db.close()
        raise
    return db


def execute_script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements one by one (``executescript`` would commit the open
    transaction first). The script must not contain ``;`` inside literals."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _wal(db: sqlite3.Connection) -> None:
    mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        db.execute("PRAGMA journal_mode=WAL")


def _retry(step: Callable[[], object], deadline: float) -> None:
    delay = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.2)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
