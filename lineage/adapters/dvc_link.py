"""Putting DVC objects back into a work tree and proving they are there: links (reflink,
hardlink, symlink) or copies from the cache, as ``dvc checkout`` makes them, each verified against
its md5. What `lineage reproduce` restores its inputs with; the cache is never written to.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path

from lineage.adapters.dvc_config import CacheConfig
from lineage.adapters.dvc_hash import StatCache
from lineage.adapters.dvc_store import (
    absent_locally,
    in_cache,
    object_file,
    object_path,
    parse_manifest,
    read_manifest,
)
from lineage.errors import LineageError
from lineage.records import repo_path

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
CACHE_MODE = 0o444  # what DVC chmods cache objects to (LocalHashFileDB.CACHE_MODE)
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


class ObjectNotInCacheError(LineageError):
    def __init__(self, md5: str, cache_dir: Path, missing: int = 0) -> None:
        self.md5 = md5
        self.cache_dir = cache_dir
        what = f"{missing} of its files are" if missing else "it is"
        super().__init__(
            f"data md5 {md5} cannot be restored: {what} not in the DVC cache {cache_dir}; "
            "fetch it first (`dvc fetch`, or `dvc push` from the machine that made it)"
        )


def materialize(cache: CacheConfig, md5: str, dest: Path, *, link_types: Sequence[str]) -> str:
    """Make ``dest`` hold exactly the object, linked from the cache; return the link type used.

    The first type in ``link_types`` that works is used (for a directory, per file, never going
    back to an earlier type once one failed). ``dest`` is built under a temporary name beside it
    and renamed into place, replacing whatever was there.
    """
    unknown = [t for t in link_types if t not in LINK_TYPES]
    if unknown or not link_types:
        raise LineageError(f"unknown link types {unknown}; use some of {', '.join(LINK_TYPES)}")
    files: list[tuple[str, str]] = []
    if md5.endswith(".dir"):
        manifest = read_manifest(cache.cache_dir, md5)
        if manifest is None:
            raise ObjectNotInCacheError(md5, cache.cache_dir)
        if lacking := absent_locally(cache.cache_dir, md5):
            raise ObjectNotInCacheError(md5, cache.cache_dir, len(lacking))
        files = [(repo_path(rel), object_file(cache.cache_dir, m)) for rel, m in manifest]
    elif not in_cache(cache.cache_dir, md5):
        raise ObjectNotInCacheError(md5, cache.cache_dir)
    dest = dest.absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.lineage-tmp")
    types = list(link_types)
    try:
        if not md5.endswith(".dir"):
            used = _link(str(object_path(cache.cache_dir, md5)), str(tmp), types)
        else:
            tmp.mkdir()
            used = types[0]
            made = {""}  # subdirectories of tmp made so far (one mkdir each, not one a file)
            for rel, src in files:
                parent = posixpath.dirname(rel)
                if parent not in made:
                    os.makedirs(f"{tmp}/{parent}", exist_ok=True)
                    made.add(parent)
                used = _link(src, f"{tmp}/{rel}", types)
                types = types[types.index(used) :]  # a type that failed once will fail again
        _replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise
    return used


def _link(src: str, dst: str, types: Sequence[str]) -> str:
    error: OSError | None = None
    for kind in types:
        if kind in ("hardlink", "symlink"):
            _protect(src)
        try:
            _LINKERS[kind](src, dst)
            return kind
        except OSError as exc:
            error = exc
            with suppress(FileNotFoundError):
                os.unlink(dst)
    raise LineageError(
        f"cannot put {src} at {dst} by {', '.join(types)} ({error}); check space and permissions"
    )


def _protect(path: str) -> None:
    """chmod a cache object 0o444, as DVC does, before a link exposes it to writers."""
    if stat.S_IMODE(os.stat(path).st_mode) != CACHE_MODE:
        # Another user's shared cache may refuse; DVC ignores that too (dvc#5255).
        with suppress(OSError):
            os.chmod(path, CACHE_MODE)


def _reflink(src: str, dst: str) -> None:
    if sys.platform != "linux":
        raise OSError(errno.EOPNOTSUPP, "reflinks are only tried on Linux")
    import fcntl

    with open(src, "rb") as source, open(dst, "xb") as target:
        fcntl.ioctl(target.fileno(), FICLONE, source.fileno())


def _copy_file(src: str, dst: str) -> None:
    """A writable copy with the object's mtime: the copy's hash, once verified, can be kept in
    the stat cache (a file written "just now" cannot, see dvc.RACY_NS), so `lineage run` in the
    worktree does not hash it again."""
    shutil.copyfile(src, dst)
    st = os.stat(src)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


_LINKERS: dict[str, Callable[[str, str], object]] = {
    "reflink": _reflink,
    "hardlink": os.link,
    "symlink": os.symlink,
    "copy": _copy_file,
}


def _replace(tmp: Path, dest: Path) -> None:
    """Rename ``tmp`` over ``dest``; rename(2) cannot put a directory there, so move it aside."""
    occupied = dest.is_symlink() or dest.exists()
    if occupied and (tmp.is_dir() or (dest.is_dir() and not dest.is_symlink())):
        old = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.lineage-old")
        os.rename(dest, old)
        os.rename(tmp, dest)
        _remove(old)
    else:
        os.replace(tmp, dest)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def verify(cache: CacheConfig, md5: str, dest: Path, stat_cache: StatCache) -> bool:
    """True iff the file or directory at ``dest`` holds exactly the object ``md5``.

    A file hardlinked or symlinked to its cache object *is* that object: the object itself is
    hashed, through the stat cache keyed by the object's path, so the next restore of the same
    object (another worktree) costs a stat, not a read. A copy is hashed where it is. A
    directory must hold exactly its manifest's files, and the manifest must hash to its name.
    """
    dest = dest.absolute()
    if not dest.exists() or dest.is_dir() != md5.endswith(".dir"):
        return False
    if not md5.endswith(".dir"):
        return _verify_file(cache.cache_dir, md5, str(dest), stat_cache)
    manifest_path = object_path(cache.cache_dir, md5)
    try:
        manifest_blob = manifest_path.read_bytes()
    except OSError:
        return False
    if hashlib.md5(manifest_blob, usedforsecurity=False).hexdigest() != md5[: -len(".dir")]:
        return False
    manifest = parse_manifest(manifest_blob, md5)
    present: set[str] = set()
    skip = len(str(dest)) + 1
    for top, _, names in os.walk(dest):
        # os.walk's tops all start with dest: slicing is ~10x cheaper than os.path.relpath.
        under = top[skip:].replace(os.sep, "/")
        present.update(f"{under}/{name}" if under else name for name in names)
    if present != {rel for rel, _ in manifest}:
        return False
    return all(_verify_file(cache.cache_dir, m, f"{dest}/{rel}", stat_cache) for rel, m in manifest)


def _verify_file(cache_dir: Path, md5: str, path: str, stat_cache: StatCache) -> bool:
    obj = object_file(cache_dir, md5)  # str paths: this runs once per file of a directory
    try:
        linked = os.path.islink(path) and os.path.realpath(path) == os.path.realpath(obj)
        linked = linked or os.path.samestat(os.stat(path), os.stat(obj))
    except OSError:
        linked = False
    if linked:
        if stat_cache.path_md5(obj)[0] != md5:
            return False
        stat_cache.remember(path, md5)  # the same bytes under the restored path
        return True
    return stat_cache.path_md5(path)[0] == md5


def links_protect_cache() -> bool:
    """False for root: 0o444 does not stop root writing through a hardlink or symlink."""
    return not (hasattr(os, "geteuid") and os.geteuid() == 0)
