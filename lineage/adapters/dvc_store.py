"""DVC's object storage: where a recorded md5's content is (cache, remote), and putting it back.

The cache side (config, object paths, manifests, links) needs no ``dvc`` import, so a hook that
finds everything cached stays fast; remotes go through DVC's own API, imported lazily, so every
remote type and credential DVC supports works. DVC 3 objects only (``<cache>/files/md5/ab/cd…``);
DVC 2's ``md5-dos2unix`` objects (``<cache>/ab/cd…``) are not handled.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.adapters.dvc import MD5, StatCache
from lineage.errors import LineageError
from lineage.records import repo_path

CACHE, REMOTE, MISSING = "cache", "remote", "missing"
LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_LINK_TYPES = ("reflink", "copy")  # dvc_data LocalHashFileDB.DEFAULT_CACHE_TYPES
CACHE_MODE = 0o444  # what DVC chmods cache objects to (LocalHashFileDB.CACHE_MODE)
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_OID = re.compile(r"^[0-9a-f]{32}(\.dir)?$")
_NAMED_REMOTE = re.compile(r'^\s*remote\s*"(.*)"\s*$')
_SCHEME = re.compile(r"^\w+://")  # dvc/config.py Config._resolve: URLs are not paths
_USERINFO = re.compile(r"(?<=://)[^/]*@")


class ObjectNotInCacheError(LineageError):
    def __init__(self, md5: str, cache_dir: Path, missing: int = 0) -> None:
        self.md5 = md5
        self.cache_dir = cache_dir
        what = f"{missing} of its files are" if missing else "it is"
        super().__init__(
            f"data md5 {md5} cannot be restored: {what} not in the DVC cache {cache_dir}; "
            "fetch it first (`dvc fetch`, or `dvc push` from the machine that made it)"
        )


@dataclass(frozen=True)
class CacheConfig:
    cache_dir: Path  # absolute; objects under cache_dir/"files"/"md5"/ab/cdef...
    link_types: tuple[str, ...]  # cache.type, DVC's default ("reflink", "copy")
    default_remote: str | None  # core.remote
    remotes: dict[str, str]  # name -> url, user info stripped


@dataclass(frozen=True)
class Availability:
    """Where an object's content can be had; ``missing`` names what is found nowhere.

    ``remote`` is the remote that holds it ("remote") or was asked and lacks it ("missing"), so
    "missing" with ``remote`` None means no DVC remote is configured. ``missing`` holds the md5
    itself for an absent file or ``.dir`` manifest, else the member md5s found nowhere.
    """

    md5: str
    where: str  # CACHE | REMOTE | MISSING
    remote: str | None
    missing: tuple[str, ...] = ()


def cache_config(root: Path) -> CacheConfig:
    """DVC's cache and remote settings from ``.dvc/config`` then ``.dvc/config.local``.

    Parsed with configobj, as DVC does, without importing ``dvc``. The global and system config
    files are ignored: they rarely set the cache, and the remote queries go through DVC itself,
    which reads them.
    """
    merged: dict[str, dict[str, Any]] = {"core": {}, "cache": {}, "remote": {}}
    for name in ("config", "config.local"):
        path = root.absolute() / ".dvc" / name
        for section, values in _read_config(path).items():
            named = _NAMED_REMOTE.match(section)
            if named:
                merged["remote"].setdefault(named.group(1), {}).update(values)
            elif section in merged:
                merged[section].update(values)
    cache_dir = merged["cache"].get("dir") or str(root.absolute() / ".dvc" / "cache")
    types = merged["cache"].get("type") or DEFAULT_LINK_TYPES
    types = types.split(",") if isinstance(types, str) else types
    return CacheConfig(
        cache_dir=Path(cache_dir),
        link_types=tuple(t.strip() for t in types if t.strip()),
        default_remote=merged["core"].get("remote") or None,
        remotes={
            remote: _USERINFO.sub("", str(values["url"]), count=1)
            for remote, values in merged["remote"].items()
            if "url" in values
        },
    )


def _read_config(path: Path) -> dict[str, dict[str, Any]]:
    """Sections with lower-cased keys; paths resolved against the file's directory, as DVC does."""
    from configobj import ConfigObj, ConfigObjError  # type: ignore[import-untyped]

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    try:
        parsed = ConfigObj(lines).dict()
    except ConfigObjError as exc:
        raise LineageError(f"{path} is not a valid DVC config ({exc}); fix it") from None
    sections = {
        str(s).lower(): {str(k).lower(): v for k, v in body.items()}
        for s, body in parsed.items()
        if isinstance(body, dict)
    }
    remotes = [(s, "url") for s in sections if _NAMED_REMOTE.match(s)]
    for section, key in [("cache", "dir"), *remotes]:
        value = sections.get(section, {}).get(key)
        if isinstance(value, str) and not _SCHEME.match(value):
            expanded = os.path.join(path.parent, os.path.expanduser(value))
            sections[section][key] = os.path.abspath(expanded)
    return sections


def object_path(cache_dir: Path, md5: str) -> Path:
    """Where DVC 3 keeps an object: ``files/md5/ab/cdef...`` (``.dir`` suffix kept)."""
    if not _OID.match(md5):
        raise LineageError(f"{md5!r} is not a DVC md5 (32 hex digits, maybe with .dir)")
    return cache_dir / "files" / MD5 / md5[:2] / md5[2:]


def read_manifest(cache_dir: Path, md5: str) -> list[tuple[str, str]] | None:
    """(relpath, md5) of each file of a ``.dir`` object in the local cache; None when absent."""
    try:
        blob = object_path(cache_dir, md5).read_bytes()
    except FileNotFoundError:
        return None
    return _parse_manifest(blob, md5)


def _parse_manifest(blob: bytes, md5: str) -> list[tuple[str, str]]:
    try:
        entries = [(str(e["relpath"]), str(e["md5"])) for e in json.loads(blob)]
    except (ValueError, TypeError, KeyError):
        entries = [("", "")]
    if not all(_OID.match(m) and not m.endswith(".dir") for _, m in entries):
        raise LineageError(
            f"the DVC manifest {md5} is corrupted; delete it from the cache and fetch it again"
        )
    return entries


def _absent_locally(cache_dir: Path, md5: str) -> list[str]:
    """Objects md5 needs that the cache lacks: itself, or (manifest present) its members."""
    if not md5.endswith(".dir"):
        return [] if object_path(cache_dir, md5).exists() else [md5]  # validates md5
    manifest = read_manifest(cache_dir, md5)
    if manifest is None:
        return [md5]
    return [m for m in dict.fromkeys(m for _, m in manifest) if not _in(cache_dir, m)]


def _in(cache_dir: Path, md5: str) -> bool:
    # A str path, not Path: Path joins cost ~25 µs, which adds up over 10,000-file directories.
    return os.path.exists(f"{cache_dir}/files/{MD5}/{md5[:2]}/{md5[2:]}")


def locate(
    root: Path, md5s: Iterable[str], *, remote: str | None = None
) -> dict[str, Availability]:
    """Whether each object (all of a ``.dir``'s files) is in the cache, the remote, or nowhere.

    The cache is checked by file existence, without hashing and without importing ``dvc``.
    The remote (``remote``, or DVC's default) is asked at most twice, each time in one batch:
    once for everything the cache lacks, once more for the members of manifests only the
    remote has (each such manifest is read from the remote, not stored in the cache).
    """
    cache_dir = cache_config(root).cache_dir
    absent = {md5: _absent_locally(cache_dir, md5) for md5 in md5s}
    found = {m: Availability(m, CACHE, None) for m, objs in absent.items() if not objs}
    pending = {m: objs for m, objs in absent.items() if objs}
    if not pending:
        return found
    with _remote(root, remote) as (_, name, odb):
        if odb is None:
            return found | {m: Availability(m, MISSING, None, tuple(o)) for m, o in pending.items()}
        there = _exists(odb, {o for objs in pending.values() for o in objs})
        members: dict[str, list[str]] = {}
        for md5 in pending:
            manifest = _remote_manifest(odb, md5) if md5 in there and md5.endswith(".dir") else None
            if manifest is not None:
                members[md5] = [m for m in dict.fromkeys(manifest) if not _in(cache_dir, m)]
        there |= _exists(odb, {o for objs in members.values() for o in objs})
        for md5, objs in pending.items():
            lost = tuple(o for o in [*objs, *members.get(md5, ())] if o not in there)
            found[md5] = Availability(md5, MISSING if lost else REMOTE, name, lost)
    return found


class NoRemoteError(LineageError):
    def __init__(self, root: Path) -> None:
        self.root = root
        super().__init__(
            f"no DVC remote is configured in {root}; add one with `dvc remote add -d NAME URL`"
        )


def missing_from_remote(
    root: Path, md5s: Iterable[str], *, remote: str | None = None
) -> dict[str, tuple[str, ...]]:
    """The objects the DVC remote lacks, for each md5 it does not hold completely: the md5
    itself (a file, or a ``.dir`` whose manifest is absent), else a ``.dir``'s absent members.
    md5s the remote holds are left out. Unlike ``locate``, the local cache does not count.

    A remote that is a local directory is checked with ``stat`` alone, without importing
    ``dvc``; any other goes through DVC in one batched query (two when a manifest has to be
    read from the remote). Raises ``NoRemoteError`` when no DVC remote is configured.
    """
    wanted = list(dict.fromkeys(md5s))
    if not wanted:
        return {}
    config = cache_config(root)
    url = config.remotes.get(remote or config.default_remote or "")
    if url is not None and not _SCHEME.match(url):
        return _missing(config.cache_dir, wanted, _DirectoryRemote(Path(url)))
    with _remote(root, remote) as (_, _, odb):
        if odb is None:
            raise NoRemoteError(root)
        return _missing(config.cache_dir, wanted, _DvcRemote(odb))


class _DirectoryRemote:
    """A remote that is a directory on this machine, read directly (DVC 3's layout)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self, oids: set[str]) -> set[str]:
        return {oid for oid in oids if _in(self.path, oid)}

    def manifest(self, md5: str) -> list[str] | None:
        entries = read_manifest(self.path, md5)
        return None if entries is None else [m for _, m in entries]


class _DvcRemote:
    """Any remote DVC supports, through its object database."""

    def __init__(self, odb: Any) -> None:
        self.odb = odb

    def exists(self, oids: set[str]) -> set[str]:
        return _exists(self.odb, oids)

    def manifest(self, md5: str) -> list[str] | None:
        return _remote_manifest(self.odb, md5)


def _missing(
    cache_dir: Path, md5s: Sequence[str], remote: _DirectoryRemote | _DvcRemote
) -> dict[str, tuple[str, ...]]:
    """Ask ``remote`` about md5s and their members: one query for everything whose manifest
    is cached here, one more for the members of manifests only the remote holds."""
    members: dict[str, list[str]] = {}
    for md5 in md5s:
        object_path(cache_dir, md5)  # refuses anything that is not an md5
        manifest = read_manifest(cache_dir, md5) if md5.endswith(".dir") else None
        if manifest is not None:
            members[md5] = list(dict.fromkeys(m for _, m in manifest))
    there = remote.exists({*md5s, *(m for ms in members.values() for m in ms)})
    for md5 in md5s:
        if md5.endswith(".dir") and md5 in there and md5 not in members:
            members[md5] = list(dict.fromkeys(remote.manifest(md5) or ()))
    there |= remote.exists({m for ms in members.values() for m in ms} - there)
    missing: dict[str, tuple[str, ...]] = {}
    for md5 in md5s:
        if md5 not in there:
            missing[md5] = (md5,)
        elif lost := tuple(m for m in members.get(md5, ()) if m not in there):
            missing[md5] = lost
    return missing


def fetch(
    root: Path,
    md5s: Sequence[str],
    *,
    remote: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Download objects (with all of a ``.dir``'s files) into the local cache; return the md5s
    still incomplete there afterwards.

    One DVC transfer, like ``dvc fetch``: the workspace and ``.dvc/config`` are not touched.
    ``progress(done, total)`` counts objects; total is what the cache lacked.
    """
    cache_dir = cache_config(root).cache_dir
    pending = {md5: _absent_locally(cache_dir, md5) for md5 in dict.fromkeys(md5s)}
    wanted = {o for objs in pending.values() for o in objs}
    if not wanted:
        return []
    with _remote(root, remote) as (repo, _, odb):
        if odb is None:
            return [md5 for md5, objs in pending.items() if objs]
        for md5 in [m for m in wanted if m.endswith(".dir")]:
            manifest = _remote_manifest(odb, md5) or []  # DVC adds a .dir after its files
            wanted.update(m for m in manifest if not _in(cache_dir, m))
        from dvc.fs.callbacks import DEFAULT_CALLBACK, Callback
        from dvc_data.hashfile.hash_info import HashInfo

        total = len(wanted)
        callback = DEFAULT_CALLBACK
        if progress is not None:
            # DVC resets `size` for each batch it copies; `value` counts every object.
            callback = Callback(hooks={"lineage": lambda _, value, **__: progress(value, total)})
            progress(0, total)
        cache = repo.cache.local
        if Path(cache.path) != cache_dir / "files" / MD5:
            raise LineageError(
                f"DVC's cache is {cache.path}, set outside the repository's .dvc/config; set "
                "`dvc config --local cache.dir` so lineage and DVC agree"
            )
        objs = [HashInfo(MD5, oid) for oid in sorted(wanted)]
        repo.cloud.transfer(odb, cache, objs, verify=odb.verify, cache_odb=cache, callback=callback)
    return [md5 for md5 in pending if _absent_locally(cache_dir, md5)]


@contextmanager
def _remote(root: Path, remote: str | None) -> Iterator[tuple[Any, str | None, Any]]:
    """DVC's repo, the remote's name and object database; (repo, None, None) without a remote."""
    from dvc.config import NoRemoteError
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        repo = Repo(str(root))
    except DvcException as exc:
        raise LineageError(f"DVC cannot open {root} ({exc}); run `dvc init` there") from None
    with repo:
        try:
            odb = repo.cloud.get_remote_odb(remote, "fetch")
        except NoRemoteError:
            odb = None
        except DvcException as exc:
            which = f"DVC remote '{remote}'" if remote else "the default DVC remote"
            raise LineageError(f"{which} cannot be used ({exc}); see `dvc remote list`") from None
        name = (remote or repo.config["core"].get("remote")) if odb is not None else None
        yield repo, name, odb


def _exists(odb: Any, oids: set[str]) -> set[str]:
    """The oids the remote holds, in one batched query."""
    if not oids:
        return set()
    if odb.fs.protocol == "local":
        # LocalHashFileDB.oids_exist re-hashes every object not chmod'ed 0o444, and deletes
        # those that do not match; a plain stat answers "is it there" for a directory remote.
        return set(odb.list_oids_exists(sorted(oids)))
    return set(odb.oids_exist(oids))  # lists the remote or asks per object, whichever is less


def _remote_manifest(odb: Any, md5: str) -> list[str] | None:
    """The member md5s of a ``.dir`` object read straight from the remote; None when absent."""
    try:
        blob = odb.fs.cat_file(odb.oid_to_path(md5))
    except FileNotFoundError:
        return None
    return [m for _, m in _parse_manifest(blob, md5)]


def materialize(cache: CacheConfig, md5: str, dest: Path, *, link_types: Sequence[str]) -> str:
    """Make ``dest`` hold exactly the object, linked from the cache; return the link type used.

    The first type in ``link_types`` that works is used (for a directory, per file, never going
    back to an earlier type once one failed). ``dest`` is built under a temporary name beside it
    and renamed into place, replacing whatever was there.
    """
    unknown = [t for t in link_types if t not in LINK_TYPES]
    if unknown or not link_types:
        raise LineageError(f"unknown link types {unknown}; use some of {', '.join(LINK_TYPES)}")
    files: list[tuple[str, Path]] = []
    if md5.endswith(".dir"):
        manifest = read_manifest(cache.cache_dir, md5)
        if manifest is None:
            raise ObjectNotInCacheError(md5, cache.cache_dir)
        if lacking := _absent_locally(cache.cache_dir, md5):
            raise ObjectNotInCacheError(md5, cache.cache_dir, len(lacking))
        files = [(repo_path(rel), object_path(cache.cache_dir, m)) for rel, m in manifest]
    elif not _in(cache.cache_dir, md5):
        raise ObjectNotInCacheError(md5, cache.cache_dir)
    dest = dest.absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.lineage-tmp")
    types = list(link_types)
    try:
        if not md5.endswith(".dir"):
            used = _link(object_path(cache.cache_dir, md5), tmp, types)
        else:
            tmp.mkdir()
            used = types[0]
            for rel, src in files:
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                used = _link(src, tmp / rel, types)
                types = types[types.index(used) :]  # a type that failed once will fail again
        _replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise
    return used


def _link(src: Path, dst: Path, types: Sequence[str]) -> str:
    error: OSError | None = None
    for kind in types:
        if kind in ("hardlink", "symlink"):
            _protect(src)
        try:
            _LINKERS[kind](str(src), str(dst))
            return kind
        except OSError as exc:
            error = exc
            with suppress(FileNotFoundError):
                dst.unlink()
    raise LineageError(
        f"cannot put {src} at {dst} by {', '.join(types)} ({error}); check space and permissions"
    )


def _protect(path: Path) -> None:
    """chmod a cache object 0o444, as DVC does, before a link exposes it to writers."""
    if stat.S_IMODE(path.stat().st_mode) != CACHE_MODE:
        # Another user's shared cache may refuse; DVC ignores that too (dvc#5255).
        with suppress(OSError):
            path.chmod(CACHE_MODE)


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
        return _verify_file(cache.cache_dir, md5, dest, stat_cache)
    manifest_path = object_path(cache.cache_dir, md5)
    try:
        manifest_blob = manifest_path.read_bytes()
    except OSError:
        return False
    if hashlib.md5(manifest_blob, usedforsecurity=False).hexdigest() != md5[: -len(".dir")]:
        return False
    manifest = _parse_manifest(manifest_blob, md5)
    present = {
        os.path.relpath(os.path.join(top, name), dest).replace(os.sep, "/")
        for top, _, names in os.walk(dest)
        for name in names
    }
    if present != {rel for rel, _ in manifest}:
        return False
    return all(_verify_file(cache.cache_dir, m, dest / rel, stat_cache) for rel, m in manifest)


def _verify_file(cache_dir: Path, md5: str, path: Path, stat_cache: StatCache) -> bool:
    obj = object_path(cache_dir, md5)
    try:
        linked = path.is_symlink() and path.resolve() == obj.resolve()
        linked = linked or os.path.samestat(os.stat(path), os.stat(obj))
    except OSError:
        linked = False
    if linked:
        if stat_cache.file_md5(cache_dir, obj.relative_to(cache_dir).as_posix())[0] != md5:
            return False
        stat_cache.remember(path, md5)  # the same bytes under the restored path
        return True
    return stat_cache.file_md5(path.parent, path.name)[0] == md5


def links_protect_cache() -> bool:
    """False for root: 0o444 does not stop root writing through a hardlink or symlink."""
    return not (hasattr(os, "geteuid") and os.geteuid() == 0)
