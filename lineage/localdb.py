"""Opening the SQLite files lineage keeps in ``<git-common-dir>/lineage/`` (index, stat cache).

Several lineage processes (parallel ``lineage run``s, a hook during a run) open the same file at
once, often just after it was created. SQLite's busy timeout does not cover everything there:
switching a fresh file to WAL needs an exclusive lock, and a connection that already holds a
shared lock gets ``database is locked`` at once rather than wait (SQLite's deadlock avoidance).
So the journal-mode switch is retried until ``timeout``, and schema set-up, when needed, runs in
a ``BEGIN IMMEDIATE`` transaction, which takes the write lock before reading anything and
therefore does wait: only one process creates or migrates the schema, the others see it done.
Opening a file whose schema is in place takes no write lock at all.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# The files SQLite keeps beside a database: a rollback journal (see first_fill), the WAL and
# its index. Deleting or copying the database, do the same with them: a hot journal is what
# undoes a half-written transaction, and one left behind belongs to no later file of that name.
COMPANIONS = ("-journal", "-wal", "-shm")


def open_shared(
    path: Path,
    *,
    timeout: float,
    ready: Callable[[sqlite3.Connection], bool],
    setup: Callable[[sqlite3.Connection], None],
    page_size: int | None = None,
) -> sqlite3.Connection:
    """A WAL-mode autocommit connection to ``path`` with its schema in place; ``page_size``:
    the page size of a file this call creates (one that exists keeps its own).

    ``ready`` says whether the schema is already right (a plain read, which never waits in WAL
    mode); if not, ``setup`` creates or migrates it inside a write transaction, after ``ready``
    is asked again there, since another opener may have done it meanwhile.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread off: the index's cold build hands its connection to one writer thread
    # while the caller decodes the next records (index._Writer); every use stays serialized.
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        deadline = time.monotonic() + timeout
        if page_size is not None:
            db.execute(f"PRAGMA page_size={int(page_size)}")  # no write: taken on the first
        _retry(lambda: _wal(db), deadline)
        db.execute("PRAGMA synchronous=NORMAL")
        if not ready(db):
            _retry(lambda: db.execute("BEGIN IMMEDIATE"), deadline)
            try:
                if not ready(db):
                    setup(db)
                db.execute("COMMIT")
            except BaseException:
                rollback(db)
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


@contextlib.contextmanager
def first_fill(db: sqlite3.Connection, *, timeout: float) -> Iterator[bool]:
    """Fill an empty file with SQLite's rollback journal instead of the WAL, when no other
    connection has it open (yields whether it could): the pages go once into the file, not
    into the WAL and then again into the file by the checkpoint (~900 MB each way for the index
    of a million records). It costs no safety: the rollback journal keeps the pages that
    existed before the transaction, and an empty file has a handful, so a killed fill rolls
    back to empty. Another process opening the file meanwhile waits, as it would for the write
    lock. Back to WAL afterwards; should another connection hold it off, the next opener
    switches it (see :func:`open_shared`)."""
    db.execute("PRAGMA busy_timeout=0")  # another connection has it open: the WAL then
    try:
        mode = db.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if not is_busy(exc):
            raise
        mode = "wal"
    finally:
        db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    alone = str(mode).lower() == "delete"
    try:
        yield alone
    finally:
        if alone and not db.in_transaction:
            with contextlib.suppress(sqlite3.OperationalError):
                _retry(lambda: _wal(db), time.monotonic() + 1.0)


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
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        import random  # only a writer that waits pays for it (~1 ms)

        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.2)


def rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already: after "database or disk is
    full" (and some I/O errors) it rolls back by itself, and a second ROLLBACK would replace
    the real cause with "cannot rollback - no transaction is active"."""
    if db.in_transaction:
        db.execute("ROLLBACK")


def is_damaged(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite said the file is not a database or its content is corrupt."""
    text = str(exc).lower()
    return _primary(exc) in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) or (
        "not a database" in text or "malformed" in text
    )


def is_full(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite said the disk (or the database's page limit) is full."""
    return _primary(exc) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)


def _primary(exc: sqlite3.DatabaseError) -> int | None:
    # sqlite_errorcode is SQLite's extended code (e.g. SQLITE_CORRUPT_INDEX); its low byte is
    # the primary one.
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_busy(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite said another connection holds the lock (as opposed to a damaged file)."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)
