"""Everything lineage asks of DVC, read from DVC's own files without importing ``dvc``.

The git pre-commit hook and ``lineage run``'s pre-child phase have about 100 ms, and
``import dvc.repo`` alone costs ~140 ms, so this module parses ``.dvc`` files and ``dvc.lock``
with PyYAML and hashes the workspace with hashlib, the way dvc-data 3 does:

* a file's hash is the plain md5 of its bytes (``hash: md5``). Pointers DVC 2 wrote have no
  ``hash`` field and mean ``md5-dos2unix``: each 1 MiB chunk whose first 512 bytes look like text
  has CRLF turned into LF before hashing (dvc_data/hashfile/hash.py).
* a directory's hash is ``<md5>.dir``, the md5 of its manifest, ``json.dumps(entries,
  sort_keys=True)`` (default separators, ASCII escapes) of ``{"md5": ..., "relpath": ...}`` for
  every file, sorted by relpath (dvc_data/hashfile/tree.py ``Tree.as_bytes``). Symlinks to files
  are followed; symlinked and empty directories contribute nothing. DVC's ignore rules apply
  (dvc_data/hashfile/build.py ``_build_tree``, dvc/ignore.py): ``.git``, ``.hg/``, ``.dvc/``,
  nested DVC repositories, and the patterns of the ``.dvcignore`` files in the repository root
  and in the directory's ancestors.

Gaps: a ``.dvcignore`` inside a tracked directory (``dvc add`` refuses one) is hashed as a plain
file; an entry without an md5 (etag, checksum, cloud-versioned ``files:``) is skipped; a
templated ``wdir`` (``${...}``) in dvc.yaml is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.errors import CommandNotFoundError, LineageError, NotARepositoryError
from lineage.records import STATE_MATCH, STATE_MISSING, STATE_MODIFIED, Data, Stage, repo_path

if TYPE_CHECKING:
    import sqlite3

MD5 = "md5"
MD5_DOS2UNIX = "md5-dos2unix"  # DVC 2.x: pointers without a `hash:` field
LOCK = "dvc.lock"
PIPELINE = "dvc.yaml"
DVCIGNORE = ".dvcignore"
CHUNK = 1 << 20
# A file modified within this long of being hashed may change again without its mtime moving
# (coarse file system clocks: ext4 ticks in jiffies, FAT in 2 s), so its hash is not cached.
# Git handles the same "racy" case: https://git-scm.com/docs/racy-git
RACY_NS = 2_000_000_000
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"


@dataclass(frozen=True)
class PointerEntry:
    """One hash a ``.dvc`` file or ``dvc.lock`` records, with its path made repository-relative."""

    path: str
    md5: str  # as DVC writes it: md5 hex, or '<md5>.dir' for a directory
    size: int | None
    nfiles: int | None
    pointer: str  # the .dvc file or dvc.lock that names it
    stage: str | None  # dvc.lock entries: the stage name ("train@1"; "sub/dvc.yaml:train")
    role: str  # "out" or "dep"
    hash_name: str = MD5  # md5-dos2unix for pointers DVC 2 wrote

    def to_data(self) -> Data:
        return Data(
            path=self.path,
            md5=self.md5,
            size=self.size,
            nfiles=self.nfiles,
            pointer=self.pointer,
            stage=self.stage,
        )


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


def find_pointer_files(root: Path) -> list[str]:
    """Every ``*.dvc`` file and ``dvc.lock`` in the workspace that git does not ignore."""
    import subprocess  # ~5 ms, and not every caller needs it

    env = dict(os.environ)
    for var in ("GIT_LITERAL_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS"):
        env.pop(var, None)  # they would turn the globs below into literal names
    args = [
        "git",
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        "*.dvc",
        LOCK,
        f"*/{LOCK}",
    ]
    try:
        proc = subprocess.run(args, cwd=root, env=env, capture_output=True, check=False)
    except FileNotFoundError:
        raise CommandNotFoundError("git") from None
    if proc.returncode != 0:
        error = os.fsdecode(proc.stderr).strip()
        if "not a git repository" in error:
            raise NotARepositoryError(str(root))
        raise LineageError(f"`git ls-files` failed in {root}: {error}; fix the repository first")
    found = set()
    for name in os.fsdecode(proc.stdout).split("\0"):
        base = posixpath.basename(name)
        pointer = base == LOCK or (base.endswith(".dvc") and base != ".dvc")
        # --cached also lists files deleted from the workspace
        if pointer and not name.startswith(".dvc/") and os.path.isfile(root / name):
            found.add(name)
    return sorted(found)


def read_dvc_file(root: Path, pointer: str, text: str | None = None) -> list[PointerEntry]:
    """The deps and outs a ``.dvc`` file records; ``text`` is its content when not on disk."""
    pointer = repo_path(pointer)
    if text is None:
        text = (root / pointer).read_text(encoding="utf-8")
    return _parse_dvc_file(pointer, text)


def read_dvc_lock(
    root: Path,
    pointer: str,
    text: str | None = None,
    *,
    pipeline_text: str | None = None,
) -> list[PointerEntry]:
    """The deps and outs of every stage in a ``dvc.lock``.

    Lock paths are relative to the stage's ``wdir``, which only the sibling dvc.yaml holds: with
    ``text`` None both are read from disk; with ``text`` given, pass that dvc.yaml's content as
    ``pipeline_text`` (None means no stage has a ``wdir``).
    """
    pointer = repo_path(pointer)
    if text is None:
        text = (root / pointer).read_text(encoding="utf-8")
        if pipeline_text is None:
            pipeline_text = _read_optional(root / _pipeline_of(pointer))
    return [e for _, _, entries in _parse_dvc_lock(pointer, text, pipeline_text) for e in entries]


def lock_stages(
    root: Path,
    text: str | None = None,
    *,
    pipeline_text: str | None = None,
) -> list[Stage]:
    """The stages of the root ``dvc.lock`` (``text``), or of every dvc.lock in the workspace."""
    if text is not None:
        return _stages(LOCK, text, pipeline_text)
    stages: list[Stage] = []
    for pointer in find_pointer_files(root):
        if posixpath.basename(pointer) == LOCK:
            lock_text = (root / pointer).read_text(encoding="utf-8")
            pipeline = _read_optional(root / _pipeline_of(pointer))
            stages += _stages(pointer, lock_text, pipeline)
    return stages


def pointers_at_tree(
    read_blob: Callable[[str], str | None],
    paths: Iterable[str],
) -> list[PointerEntry]:
    """The entries of the ``.dvc`` files and ``dvc.lock`` files among ``paths`` in a git tree."""
    entries: list[PointerEntry] = []
    for path in map(repo_path, paths):
        text = read_blob(path)
        if text is None:
            continue
        if posixpath.basename(path) == LOCK:
            parsed = _parse_dvc_lock(path, text, read_blob(_pipeline_of(path)))
            entries += [e for _, _, stage_entries in parsed for e in stage_entries]
        elif path.endswith(".dvc"):
            entries += _parse_dvc_file(path, text)
    return entries


def stages_at_tree(read_blob: Callable[[str], str | None], paths: Iterable[str]) -> list[Stage]:
    """The stages of the ``dvc.lock`` files among ``paths`` in a git tree."""
    stages: list[Stage] = []
    for path in map(repo_path, paths):
        text = read_blob(path) if posixpath.basename(path) == LOCK else None
        if text is not None:
            stages += _stages(path, text, read_blob(_pipeline_of(path)))
    return stages


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

    def __init__(self, db_path: Path) -> None:
        from lineage.localdb import open_shared

        self._db: sqlite3.Connection = open_shared(
            db_path, timeout=30.0, ready=_statcache_ready, setup=_statcache_schema
        )
        self.hashed_files = 0
        self.hashed_bytes = 0

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def file_md5(self, root: Path, relpath: str, *, hash_name: str = MD5) -> tuple[str, int]:
        """The md5 hex and size of a workspace file (symlinks followed)."""
        path = os.path.join(os.path.abspath(root), repo_path(relpath))
        st = os.stat(path)
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
        manifest: list[dict[str, str]] = []
        fresh: list[tuple[str, str, int, int, int, str]] = []
        size = 0
        for rel, path, st in _walk(top, _DvcIgnore.above(os.path.abspath(root), top_rel)):
            hit = known.pop(path, None)
            if hit is not None and hit[0] == _key(st):
                md5 = str(hit[1])
            else:
                md5, storable = self._hash(path, st, hash_name)
                if storable:
                    fresh.append((hash_name, path, *_key(st), md5))
            manifest.append({"md5": md5, "relpath": rel})
            size += st.st_size
        self._store(fresh, [(hash_name, path) for path in known])
        manifest.sort(key=lambda item: item["relpath"])
        blob = json.dumps(manifest, sort_keys=True).encode("utf-8")
        return hashlib.md5(blob, usedforsecurity=False).hexdigest() + ".dir", size, len(manifest)

    def remember(self, path: Path, md5: str, *, hash_name: str = MD5) -> None:
        """Record a hash known without reading the file: a hardlink or symlink to a verified
        DVC cache object has that object's md5, so `lineage run` need not hash it again."""
        abspath = os.path.abspath(path)
        st = os.stat(abspath)
        if time.time_ns() - st.st_mtime_ns >= RACY_NS:
            self._store([(hash_name, abspath, *_key(st), md5)], [])

    def forget(self, directory: Path) -> None:
        """Drop every row under ``directory`` (a removed worktree, say)."""
        top = os.path.abspath(directory)
        self._store(
            [],
            [
                (h, p)
                for h, p in self._db.execute(
                    "SELECT hash_name, path FROM md5 WHERE path > ? AND path < ?",
                    (top + "/", top + "0"),
                )
            ],
        )

    def _hash(self, path: str, before: os.stat_result, hash_name: str) -> tuple[str, bool]:
        """The file's md5, and whether it may be cached (stable, and not racily new)."""
        started = time.time_ns()
        md5 = _file_md5(path, dos2unix=hash_name == MD5_DOS2UNIX)
        self.hashed_files += 1
        self.hashed_bytes += before.st_size
        stable = _key(os.stat(path)) == _key(before)
        return md5, stable and started - before.st_mtime_ns >= RACY_NS

    def _store(
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


def _is_text(block: bytes) -> bool:
    """dvc_data's istextblock: no NUL, at most 30% bytes outside printable ASCII."""
    if b"\x00" in block:
        return False
    return not block or len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def _walk(top: str, ignore: _DvcIgnore) -> Iterator[tuple[str, str, os.stat_result]]:
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


@dataclass(frozen=True)
class _Rule:
    base: str  # repository-relative directory of the .dvcignore ("" for the root)
    regex: re.Pattern[str]
    ignore: bool  # False for a `!` pattern
    dir_only: bool


class _DvcIgnore:
    """DVC's ignore rules for the files under one tracked directory."""

    def __init__(self, top: str, rules: list[_Rule]) -> None:
        self.top = top
        self.rules = rules

    @classmethod
    def above(cls, root: str, top: str) -> _DvcIgnore:
        """The rules of the .dvcignore files in the repository root and ``top``'s ancestors."""
        parts = top.split("/")
        rules: list[_Rule] = []
        for depth in range(len(parts)):
            base = "/".join(parts[:depth])
            lines = _dvcignore_lines(os.path.join(root, base, DVCIGNORE))
            if lines:
                rules += _compile(base, lines)
        return cls(top, rules)

    def skips(self, rel: str, path: str, *, is_dir: bool) -> bool:
        name = rel.rpartition("/")[2]
        if name == ".git" or (is_dir and name in (".hg", ".dvc")):
            return True
        if is_dir and os.path.exists(os.path.join(path, ".dvc")):
            return True  # a nested DVC repository
        if not self.rules:
            return False
        full = f"{self.top}/{rel}"
        for rule in reversed(self.rules):  # the last matching pattern wins
            if rule.dir_only and not is_dir:
                continue
            candidate = full[len(rule.base) + 1 :] if rule.base else full
            if rule.regex.match(candidate) or (is_dir and rule.regex.match(candidate + "/")):
                return rule.ignore
        return False


def _dvcignore_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fobj:
            lines = [line.strip() for line in fobj]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [line for line in lines if line and not line.startswith("#")]


def _compile(base: str, lines: list[str]) -> list[_Rule]:
    # pathspec is what DVC matches with; importing it costs ~35 ms, so only when patterns exist.
    try:
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern as Pattern
    except ImportError:  # pathspec < 1
        from pathspec.patterns import (  # type: ignore[attr-defined,no-redef,unused-ignore]
            GitWildMatchPattern as Pattern,
        )

    rules = []
    for line in lines:
        regex, include = Pattern.pattern_to_regex(line)
        if regex is not None and include is not None:
            rules.append(_Rule(base, re.compile(regex), bool(include), line.endswith("/")))
    return rules


def _read_optional(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _pipeline_of(lock: str) -> str:
    return posixpath.join(posixpath.dirname(lock), PIPELINE)


def _load_yaml(text: str, name: str) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster
    try:
        document = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "unparsable"
        raise LineageError(
            f"{name} is not valid YAML ({problem}{where}); fix it, or restore it with "
            f"`git checkout -- {name}`"
        ) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise LineageError(
            f"{name} does not hold a YAML mapping, so it is no DVC file; fix it, or restore it "
            f"with `git checkout -- {name}`"
        )
    return document


def _parse_dvc_file(pointer: str, text: str) -> list[PointerEntry]:
    document = _load_yaml(text, pointer)
    base = _join_wdir(posixpath.dirname(pointer), document.get("wdir"), pointer)
    return [
        *_entries(document.get("deps"), base, pointer, None, "dep"),
        *_entries(document.get("outs"), base, pointer, None, "out"),
    ]


def _parse_dvc_lock(
    pointer: str,
    text: str,
    pipeline_text: str | None,
) -> list[tuple[str, str, list[PointerEntry]]]:
    """(stage name, cmd, entries) for each stage of a dvc.lock."""
    document = _load_yaml(text, pointer)
    # DVC 2 and 3 write `schema: '2.0'` and a `stages:` mapping; DVC 1 put stages at the top.
    stages = document.get("stages") if "schema" in document else document
    if not isinstance(stages, dict):
        return []
    pipeline = _pipeline_of(pointer)
    wdirs = _pipeline_wdirs(pipeline_text, pipeline)
    prefix = "" if pointer == LOCK else f"{pipeline}:"  # DVC's own address for nested stages
    parsed = []
    for raw_name, body in stages.items():
        if not isinstance(body, dict):
            continue
        name = f"{prefix}{raw_name}"
        base = _join_wdir(
            posixpath.dirname(pointer),
            wdirs.get(str(raw_name).partition("@")[0]),
            pipeline,
        )
        cmd = body.get("cmd")
        cmd = " && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "")
        entries = [
            *_entries(body.get("deps"), base, pointer, name, "dep"),
            *_entries(body.get("outs"), base, pointer, name, "out"),
        ]
        parsed.append((name, cmd, entries))
    return parsed


def _stages(pointer: str, text: str, pipeline_text: str | None) -> list[Stage]:
    return [
        Stage(
            name=name,
            cmd=cmd,
            deps=tuple(e.to_data() for e in entries if e.role == "dep"),
            outs=tuple(e.to_data() for e in entries if e.role == "out"),
        )
        for name, cmd, entries in _parse_dvc_lock(pointer, text, pipeline_text)
    ]


def _pipeline_wdirs(text: str | None, name: str) -> dict[str, Any]:
    """Stage name (before any ``@``) -> ``wdir``, from a dvc.yaml."""
    if not text or "wdir" not in text:  # the common case needs no second YAML parse
        return {}
    stages = _load_yaml(text, name).get("stages")
    wdirs: dict[str, Any] = {}
    for stage_name, body in (stages if isinstance(stages, dict) else {}).items():
        if isinstance(body, dict):
            definition = body.get("do") if "foreach" in body else body
            if isinstance(definition, dict) and definition.get("wdir") is not None:
                wdirs[str(stage_name)] = definition["wdir"]
    return wdirs


def _join_wdir(directory: str, wdir: Any, name: str) -> str:
    if wdir is None:
        return directory
    if "${" in str(wdir):
        raise LineageError(
            f"a stage in {name} has a templated wdir ({wdir}) that lineage cannot resolve "
            "without DVC; write the directory out literally"
        )
    return repo_path(posixpath.join(directory, str(wdir)))


def _entries(
    items: Any,
    base: str,
    pointer: str,
    stage: str | None,
    role: str,
) -> Iterator[PointerEntry]:
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            continue
        raw = item["path"]
        if _URL.match(raw) or "repo" in item or (role == "dep" and raw.startswith("/")):
            continue  # external: a URL, another repository (`dvc import`), an absolute path
        # Refuse an escaping path even on an entry without md5: the pointer is not to be trusted.
        path = repo_path(posixpath.join(base, raw) if not raw.startswith("/") else raw)
        md5 = item.get("md5")
        if md5 is None:
            continue
        yield PointerEntry(
            path=path,
            md5=str(md5),
            size=_int(item.get("size")),
            nfiles=_int(item.get("nfiles")),
            pointer=pointer,
            stage=stage,
            role=role,
            hash_name=MD5 if item.get("hash") == MD5 else MD5_DOS2UNIX,
        )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def raw_stages(text: str, name: str) -> dict[str, Any]:
    """The ``stages`` mapping of a dvc.yaml or dvc.lock exactly as written (stage name ->
    definition; ``name@key`` entries for a lock's foreach/matrix stages)."""
    document = _load_yaml(text, name)
    stages = document.get("stages") if "schema" in document or name.endswith(PIPELINE) else document
    return {str(k): v for k, v in stages.items()} if isinstance(stages, dict) else {}
