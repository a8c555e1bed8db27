"""The pre-commit hook's fast path: prove, with the standard library alone, that there is nothing
to refuse; anything it cannot prove goes to the full checks in ``pre_commit``.

Most commits change no data, so the hook's cost is mostly the cost of starting: this module
imports neither lineage's records and adapters (dozens of dataclasses: ~35 ms) nor YAML. It
passes a commit only when

* no staged blob is larger than ``[hooks] max_file_mb`` (read from the config's text; TOML is
  parsed only when the key is set),
* no ``dvc.yaml`` is staged (a changed stage needs the stale-lock check), and
* every out of every staged ``.dvc`` file and ``dvc.lock`` (read from ``hook-cache.json``,
  which the full path fills once per pointer blob) has the stat digest the full path last
  recorded for it, with the md5 the pointer names. A file's digest is its inode, mtime and
  size; a directory's, those of every file under it. A missing out is let through, as in
  the full path.

It never says "refuse": that needs the full path's message. See docs/architecture.md#hooks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import stat
import subprocess
import time
from operator import itemgetter

TYPE_CHECKING = False  # not typing's: importing typing costs the hook ~3 ms
if TYPE_CHECKING:
    from typing import Any

CACHE_FILE = "hook-cache.json"
CACHE_VERSION = 2
MB = 1 << 20
DEFAULT_MAX_FILE_MB = 10.0  # lineage.config.DEFAULT_MAX_FILE_MB (a test keeps them equal)
# A file modified this recently may change again without its mtime moving (racy git): its
# digest is not remembered. lineage.adapters.dvc_hash.RACY_NS (a test keeps them equal).
RACY_NS = 2_000_000_000
POINTER_SPECS = ("*.dvc", "dvc.lock", "*/dvc.lock", "dvc.yaml", "*/dvc.yaml")
# Columns of a remembered pointer entry (dvc.PointerEntry's fields, in order).
PATH, MD5, HASH_NAME = 0, 1, 7


def nothing_to_refuse(root: str, lineage_dir: str) -> bool:
    """True when the commit being made surely passes every pre-commit check."""
    staged = _staged(root)
    if staged is None or any(_basename(path) == "dvc.yaml" for path, _ in staged):
        return False
    limit = max_file_bytes(root)
    if limit is None or (staged and max(_sizes(root, [sha for _, sha in staged])) > limit):
        return False
    if not os.path.isdir(os.path.join(root, ".dvc")):
        return True
    index = _index(root)
    if index is None:
        return False
    remembered = load_cache(os.path.join(lineage_dir, CACHE_FILE))
    pointers, outs = remembered["pointers"], remembered["outs"]
    for pointer, sha in index.items():
        if not is_pointer(pointer):
            continue
        rows = pointers.get(cache_key(pointer, sha, index))
        if rows is None:
            return False  # not parsed yet
        for row in rows:
            full = os.path.join(root, row[PATH])
            try:
                seen = stat_digest(full)
            except OSError:
                return False
            if seen is None:
                continue  # missing from the workspace: not refused
            if outs.get(full) != [row[HASH_NAME], seen[0], row[MD5]]:
                return False
    return True


def stat_digest(path: str) -> tuple[str, bool] | None:
    """A digest of the stat data of a file, or of every file under a directory (symlinks to
    files followed, symlinked directories not entered, as DVC walks), and whether it may be
    remembered (nothing in it was modified within RACY_NS); None when the path is missing.

    A directory's walk applies no ``.dvcignore`` rules: it covers a superset of what DVC
    hashes, which can only make the digest change more often, never less."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISDIR(st.st_mode):
        digest = f"f:{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"
        return digest, time.time_ns() - st.st_mtime_ns >= RACY_NS
    # The file system's order: stable while nothing changes, and another order only means a
    # different digest (the full check then), so nothing is sorted. Built a directory at a
    # time with comprehensions: per file, the stat is most of the cost (10,000 files: ~25 ms).
    names: list[str] = []
    stats: list[tuple[int, int, int]] = []
    stack = [("", path)]
    while stack:
        prefix, directory = stack.pop()
        with os.scandir(directory) as scan:
            entries = [e for e in scan if e.name != ".git"]
        files = [e for e in entries if not e.is_dir()]
        stack += [
            (f"{prefix}{e.name}/", e.path) for e in entries if e.is_dir() and not e.is_symlink()
        ]
        names += [prefix + e.name for e in files]
        stats += [(s.st_ino, s.st_mtime_ns, s.st_size) for s in map(os.DirEntry.stat, files)]
    newest = max(map(itemgetter(1), stats), default=0)
    blob = marshal.dumps((names, stats))
    digest = "d:" + hashlib.sha256(blob, usedforsecurity=False).hexdigest()
    return digest, time.time_ns() - newest >= RACY_NS


def max_file_bytes(root: str) -> int | None:
    """``[hooks] max_file_mb`` in bytes; None when the config cannot be read here (the full
    path then reports the problem)."""
    try:
        with open(os.path.join(root, ".lineage", "config.toml"), encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    if not any(line.lstrip().startswith("max_file_mb") for line in text.splitlines()):
        return int(DEFAULT_MAX_FILE_MB * MB)
    import tomllib

    try:
        value = tomllib.loads(text).get("hooks", {}).get("max_file_mb")
    except (tomllib.TOMLDecodeError, AttributeError):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return int(value * MB)


def is_pointer(path: str) -> bool:
    base = _basename(path)
    dvc_file = base.endswith(".dvc") and base != ".dvc" and not path.startswith(".dvc/")
    return dvc_file or base == "dvc.lock"


def cache_key(pointer: str, sha: str, index: dict[str, str]) -> str:
    """A pointer blob, with its dvc.yaml's for a lock (whose ``wdir`` decides the paths)."""
    directory = pointer.rpartition("/")[0]
    pipeline = f"{directory}/dvc.yaml" if directory else "dvc.yaml"
    return f"{pointer}\0{sha}\0{index.get(pipeline, '')}"


def load_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        if document.get("version") == CACHE_VERSION:
            return {"pointers": dict(document["pointers"]), "outs": dict(document["outs"])}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        pass
    return {"pointers": {}, "outs": {}}


def save_cache(path: str, cache: dict[str, Any]) -> None:
    """Write atomically; a failure only means checking in full again next time."""
    document = {"version": CACHE_VERSION, **cache}
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(document, f, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _basename(path: str) -> str:
    return path.rpartition("/")[2]


def _git(root: str, args: list[str], stdin: bytes | None = None) -> bytes | None:
    env = {k: v for k, v in os.environ.items() if k != "GIT_LITERAL_PATHSPECS"}
    proc = subprocess.run(
        ["git", *args], cwd=root, env=env, input=stdin, capture_output=True, check=False
    )
    return proc.stdout if proc.returncode == 0 else None


def _staged(root: str) -> list[tuple[str, str]] | None:
    """(path, new blob sha) of each staged file that is added or changed, against HEAD."""
    out = _git(root, ["diff-index", "--cached", "--raw", "-z", "--no-renames", "HEAD", "--"])
    if out is None:
        return None  # no HEAD yet, or git failed: the full path handles both
    fields = out.split(b"\0")
    staged = []
    for meta, path in zip(fields[0:-1:2], fields[1::2], strict=False):
        _, new_mode, _, new_sha, status = meta.decode().split(" ")
        if status[:1] in "AMT" and new_mode in ("100644", "100755"):
            staged.append((os.fsdecode(path), new_sha))
    return staged


def _sizes(root: str, shas: list[str]) -> list[int]:
    out = _git(
        root,
        ["cat-file", "--batch-check=%(objectsize)"],
        "".join(f"{sha}\n" for sha in shas).encode(),
    )
    if out is None:
        return [1 << 62]
    return [int(line) if line.isdigit() else 1 << 62 for line in out.decode().split()]


def _index(root: str) -> dict[str, str] | None:
    out = _git(root, ["ls-files", "-s", "-z", "--", *POINTER_SPECS])
    if out is None:
        return None
    found = {}
    for entry in out.split(b"\0"):
        if entry:
            meta, _, path = entry.partition(b"\t")
            found[os.fsdecode(path)] = meta.split(b" ")[1].decode()
    return found
