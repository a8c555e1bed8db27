"""Hashing the workspace as DVC does, without importing ``dvc`` (``import dvc.repo`` alone costs
~140 ms, more than the git hook and ``lineage run``'s pre-child phase may spend):

* a file's hash is the plain md5 of its bytes (``hash: md5``). Pointers DVC 2 wrote have no
  ``hash`` field and mean ``md5-dos2unix``: each 1 MiB chunk whose first 512 bytes look like text
  has CRLF turned into LF before hashing (dvc_data/hashfile/hash.py).
* a directory's hash is ``<md5>.dir``, the md5 of its manifest (:func:`manifest_md5`, the one
  place that rule is written). Symlinks to files are followed; symlinked and empty directories
  contribute nothing; DVC's ignore rules apply (``dvc_ignore.py``).
* :class:`StatCache` keeps each file's md5 under its (path, inode, mtime, size), so an unchanged
  file is never read twice, by any process sharing the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lineage.adapters.dvc import MD5, MD5_DOS2UNIX, PointerEntry
from lineage.adapters.dvc_ignore import DvcIgnore
from lineage.records import STATE_MATCH, STATE_MISSING, STATE_MODIFIED, Data, repo_path

if TYPE_CHECKING:
    import sqlite3

CHUNK = 1 << 20
# A file modified within this long of being hashed may change again without its mtime moving
# (coarse file system clocks: ext4 ticks in jiffies, FAT in 2 s), so its hash is not cached.
# Git handles the same "racy" case: https://git-scm.com/docs/racy-git
RACY_NS = 2_000_000_000
SHA256 = "sha256"  # the hash name under which the cache keeps Git LFS oids
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"


def blob_md5(data: bytes) -> str:
    """DVC's md5 of a file's bytes (``hash: md5``)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def manifest_md5(files: Iterable[tuple[str, str]]) -> str:
    """DVC's ``<md5>.dir`` of a directory from its files' (relpath, md5): the md5 of
    ``json.dumps`` (default separators, ASCII escapes) of ``{"md5", "relpath"}`` entries
    sorted by relpath (dvc_data/hashfile/tree.py ``Tree.as_bytes``)."""
    manifest = [{"md5": md5, "relpath": rel} for rel, md5 in sorted(files)]
    blob = json.dumps(manifest, sort_keys=True).encode("utf-8")
    return blob_md5(blob) + ".dir"


def check_workspace(
    root: Path,
    entries: Sequence[PointerEntry],
    cache: StatCache,
) -> list[Data]:
    """Compare each out with the workspace, hashing only files the stat cache has not seen."""
    found: list[Data] = []
    for entry in entries:
        if entry.role != "out":
            continue
        try:
            isdir = stat.S_ISDIR(os.stat(root / entry.path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            found.append(replace(entry.to_data(), state=STATE_MISSING))
            continue
        nfiles: int | None = None
        if isdir:
            md5, size, nfiles = cache.dir_md5(root, entry.path, hash_name=entry.hash_name)
        else:
            md5, size = cache.file_md5(root, entry.path, hash_name=entry.hash_name)
        # A different size alone proves a change, but the record needs the md5 of what is there.
        changed = md5 != entry.md5
        found.append(
            replace(
                entry.to_data(),
                md5=md5,
                size=size,
                nfiles=nfiles,
                state=STATE_MODIFIED if changed else STATE_MATCH,
                pointer_md5=entry.md5 if changed else None,
            )
        )
    return found


def _statcache_ready(db: sqlite3.Connection) -> bool:
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'md5'")
    return found.fetchone() is not None


def _statcache_schema(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS md5 (hash_name TEXT NOT NULL, path TEXT NOT NULL,"
        " inode INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,"
        " md5 TEXT NOT NULL, PRIMARY KEY (hash_name, path)) WITHOUT ROWID"
    )


class StatCache:
    """md5s of workspace files keyed by (path, inode, mtime_ns, size), kept in SQLite.

    WAL mode and short transactions let concurrent processes share one database; a file whose
    stat key is unchanged is never read again. ``hashed_files`` / ``hashed_bytes`` count the
    hashing this instance actually did.
    """

    def __init__(self, db_path: Path, warn: Callable[[str], None] | None = None) -> None:
        import sqlite3

        from lineage.localdb import is_damaged, open_shared

        def open_() -> sqlite3.Connection:
            return open_shared(
                db_path, timeout=30.0, ready=_statcache_ready, setup=_statcache_schema
            )

        try:
            self._db: sqlite3.Connection = open_()
        except sqlite3.DatabaseError as exc:
            if not (is_damaged(exc) and db_path.is_file()):
                raise
            # Only a cache of md5s: a damaged one is thrown away and refilled as files are
            # hashed again.
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
            self._db = open_()
            if warn is not None:
                warn(f"the stat cache {db_path} was damaged; rebuilt it (files are hashed again)")
        self.hashed_files = 0
        self.hashed_bytes = 0
        # Inside ``batched()``: (hash name, path) -> the row to write, None to delete.
        self._pending: dict[tuple[str, str], tuple[str, str, int, int, int, str] | None] | None
        self._pending = None

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def file_md5(self, root: Path, relpath: str, *, hash_name: str = MD5) -> tuple[str, int]:
        """The md5 hex and size of a workspace file (symlinks followed)."""
        return self.path_md5(os.path.join(os.path.abspath(root), repo_path(relpath)), hash_name)

    def path_md5(self, path: str, hash_name: str = MD5) -> tuple[str, int]:
        """:meth:`file_md5` of an absolute path lineage made itself (a DVC cache object, a
        file it restored), not one a record or pointer file names."""
        st = os.stat(path)
        if self._pending is not None and (hash_name, path) in self._pending:
            waiting = self._pending[(hash_name, path)]
            row = waiting[2:] if waiting is not None else None
        else:
            row = self._db.execute(
                "SELECT inode, mtime_ns, size, md5 FROM md5 WHERE hash_name = ? AND path = ?",
                (hash_name, path),
            ).fetchone()
        if row is not None and tuple(row[:3]) == _key(st):
            return str(row[3]), st.st_size
        md5, storable = self._hash(path, st, hash_name)
        if storable:
            self._store([(hash_name, path, *_key(st), md5)], [])
        return md5, st.st_size

    def dir_md5(self, root: Path, relpath: str, *, hash_name: str = MD5) -> tuple[str, int, int]:
        """DVC's ``<md5>.dir`` hash of a workspace directory, its total size and file count."""
        top_rel = repo_path(relpath)
        top = os.path.join(os.path.abspath(root), top_rel)
        rows = self._db.execute(
            "SELECT path, inode, mtime_ns, size, md5 FROM md5"
            " WHERE hash_name = ? AND path > ? AND path < ?",
            (hash_name, top + "/", top + "0"),  # '0' sorts right after '/': the subtree only
        ).fetchall()
        known = {row[0]: (tuple(row[1:4]), row[4]) for row in rows}
        manifest: list[tuple[str, str]] = []
        fresh: list[tuple[str, str, int, int, int, str]] = []
        size = 0
        for rel, path, st in _walk(top, DvcIgnore.above(os.path.abspath(root), top_rel)):
            hit = known.pop(path, None)
            if hit is not None and hit[0] == _key(st):
                md5 = str(hit[1])
            else:
                md5, storable = self._hash(path, st, hash_name)
                if storable:
                    fresh.append((hash_name, path, *_key(st), md5))
            manifest.append((rel, md5))
            size += st.st_size
        self._store(fresh, [(hash_name, path) for path in known])
        return manifest_md5(manifest), size, len(manifest)

    def remember(self, path: Path | str, md5: str, *, hash_name: str = MD5) -> None:
        """Record a hash known without reading the file: a hardlink or symlink to a verified
        DVC cache object has that object's md5, so `lineage run` need not hash it again."""
        abspath = os.path.abspath(path)
        st = os.stat(abspath)
        if time.time_ns() - st.st_mtime_ns >= RACY_NS:
            self._store([(hash_name, abspath, *_key(st), md5)], [])

    def prune(self) -> int:
        """Drop the rows of files that are gone, and say how many: a worktree removed by hand
        (after ``reproduce --keep``) or by the clean-up of a killed command, a deleted or
        moved file. Rows are keyed by path, so without this the cache keeps every path it ever
        saw; with it, it holds what the repository holds. One ``lstat`` a row (~1 us)."""
        gone = [
            (hash_name, path)
            for hash_name, path in self._db.execute("SELECT hash_name, path FROM md5")
            if not os.path.lexists(path)
        ]
        self._store([], gone)
        return len(gone)

    def _hash(self, path: str, before: os.stat_result, hash_name: str) -> tuple[str, bool]:
        """The file's md5, and whether it may be cached (stable, and not racily new)."""
        started = time.time_ns()
        if hash_name == SHA256:  # Git LFS objects (adapters/git_lfs.py) share the cache
            md5 = _file_sha256(path)
        else:
            md5 = _file_md5(path, dos2unix=hash_name == MD5_DOS2UNIX)
        self.hashed_files += 1
        self.hashed_bytes += before.st_size
        stable = _key(os.stat(path)) == _key(before)
        return md5, stable and started - before.st_mtime_ns >= RACY_NS

    @contextlib.contextmanager
    def batched(self) -> Iterator[StatCache]:
        """Hashes learnt inside are written in one transaction at the end, not one each: a
        restore of 10,000 files verified each with a commit of its own."""
        if self._pending is not None:  # already batching: the outer batch writes
            yield self
            return
        self._pending = {}
        try:
            yield self
        finally:
            pending, self._pending = self._pending, None
            self._write(
                [row for row in pending.values() if row is not None],
                [key for key, row in pending.items() if row is None],
            )

    def _store(
        self,
        rows: list[tuple[str, str, int, int, int, str]],
        stale: list[tuple[str, str]],
    ) -> None:
        if self._pending is None:
            self._write(rows, stale)
            return
        self._pending.update(((row[0], row[1]), row) for row in rows)
        self._pending.update((key, None) for key in stale)

    def _write(
        self,
        rows: list[tuple[str, str, int, int, int, str]],
        stale: list[tuple[str, str]],
    ) -> None:
        if not rows and not stale:
            return
        import sqlite3

        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO md5 VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._db.executemany("DELETE FROM md5 WHERE hash_name = ? AND path = ?", stale)
            self._db.execute("COMMIT")
        except sqlite3.OperationalError:
            # Busy past the timeout, or a read-only store: the hashes are right, just not kept.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")


def _key(st: os.stat_result) -> tuple[int, int, int]:
    ino = st.st_ino
    # SQLite integers are signed 64-bit; some file systems hand out inodes above 2**63.
    return (ino - (1 << 64) if ino >= 1 << 63 else ino), st.st_mtime_ns, st.st_size


def _file_md5(path: str, *, dos2unix: bool = False) -> str:
    hasher = hashlib.md5(usedforsecurity=False)
    with open(path, "rb", buffering=0) as fobj:
        while chunk := fobj.read(CHUNK):
            if dos2unix and _is_text(chunk[:512]):  # per chunk, as dvc_data's Dos2Unix stream
                chunk = chunk.replace(b"\r\n", b"\n")
            hasher.update(chunk)
    return hasher.hexdigest()


def _file_sha256(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb", buffering=0) as fobj:
        while chunk := fobj.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _is_text(block: bytes) -> bool:
    """dvc_data's istextblock: no NUL, at most 30% bytes outside printable ASCII."""
    if b"\x00" in block:
        return False
    return not block or len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def _walk(top: str, ignore: DvcIgnore) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relpath, path, stat) of each file under ``top``, as DVC's ``os.walk`` sees them."""
    stack = [("", top)]
    while stack:
        prefix, directory = stack.pop()
        with os.scandir(directory) as scan:
            for entry in scan:
                rel = prefix + entry.name
                if entry.is_dir():
                    # os.walk lists a symlinked directory among dirs but does not enter it.
                    if not entry.is_symlink() and not ignore.skips(rel, entry.path, is_dir=True):
                        stack.append((rel + "/", entry.path))
                elif entry.name != ".git" and not (
                    ignore.rules and ignore.skips(rel, entry.path, is_dir=False)
                ):
                    yield rel, entry.path, entry.stat()
