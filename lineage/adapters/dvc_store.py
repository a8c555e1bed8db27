"""DVC's object storage: where a recorded md5's content is (the cache, a remote, nowhere), and
fetching it. (Putting it into a work tree: ``dvc_link.py``.)

The cache side (object paths, manifests) needs no ``dvc`` import, so a hook that finds
everything cached stays fast; remotes go through DVC's own API, imported lazily, so every
remote type and credential DVC supports works. DVC 3 objects only (``<cache>/files/md5/ab/cd…``);
DVC 2's ``md5-dos2unix`` objects (``<cache>/ab/cd…``) are not handled.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.adapters.dvc import MD5
from lineage.adapters.dvc_config import SCHEME, cache_config
from lineage.errors import LineageError

CACHE, REMOTE, MISSING = "cache", "remote", "missing"
_OID = re.compile(r"^[0-9a-f]{32}(\.dir)?$")


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
    return parse_manifest(blob, md5)


def parse_manifest(blob: bytes, md5: str) -> list[tuple[str, str]]:
    try:
        entries = [(str(e["relpath"]), str(e["md5"])) for e in json.loads(blob)]
    except (ValueError, TypeError, KeyError):
        entries = [("", "")]
    if not all(_OID.match(m) and not m.endswith(".dir") for _, m in entries):
        raise LineageError(
            f"the DVC manifest {md5} is corrupted; delete it from the cache and fetch it again"
        )
    return entries


def absent_locally(cache_dir: Path, md5: str) -> list[str]:
    """Objects md5 needs that the cache lacks: itself, or (manifest present) its members."""
    if not md5.endswith(".dir"):
        return [] if object_path(cache_dir, md5).exists() else [md5]  # validates md5
    manifest = read_manifest(cache_dir, md5)
    if manifest is None:
        return [md5]
    return [m for m in dict.fromkeys(m for _, m in manifest) if not in_cache(cache_dir, m)]


def object_file(cache_dir: Path | str, md5: str) -> str:
    """:func:`object_path` as a str, for an md5 already checked (a parsed manifest's): Path
    joins cost ~25 µs, which adds up over 10,000-file directories."""
    return f"{cache_dir}/files/{MD5}/{md5[:2]}/{md5[2:]}"


def in_cache(cache_dir: Path | str, md5: str) -> bool:
    return os.path.exists(object_file(cache_dir, md5))


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
    absent = {md5: absent_locally(cache_dir, md5) for md5 in md5s}
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
                members[md5] = [m for m in dict.fromkeys(manifest) if not in_cache(cache_dir, m)]
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
    if url is not None and not SCHEME.match(url):
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
        return {oid for oid in oids if in_cache(self.path, oid)}

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
    progress: Callable[..., None] | None = None,
) -> list[str]:
    """Download objects (with all of a ``.dir``'s files) into the local cache; return the md5s
    still incomplete there afterwards.

    One DVC transfer, like ``dvc fetch``: the workspace and ``.dvc/config`` are not touched.
    ``progress`` is a progress bar's ``advance``: told ``total=`` (what the cache lacked) once
    that is known, then ``advance(n)`` as objects arrive.
    """
    cache_dir = cache_config(root).cache_dir
    pending = {md5: absent_locally(cache_dir, md5) for md5 in dict.fromkeys(md5s)}
    wanted = {o for objs in pending.values() for o in objs}
    if not wanted:
        return []
    with _remote(root, remote) as (repo, _, odb):
        if odb is None:
            return [md5 for md5, objs in pending.items() if objs]
        for md5 in [m for m in wanted if m.endswith(".dir")]:
            manifest = _remote_manifest(odb, md5) or []  # DVC adds a .dir after its files
            wanted.update(m for m in manifest if not in_cache(cache_dir, m))
        from dvc.fs.callbacks import DEFAULT_CALLBACK, Callback
        from dvc_data.hashfile.hash_info import HashInfo

        callback = DEFAULT_CALLBACK
        if progress is not None:
            progress(0, total=len(wanted))
            callback = Callback(hooks={"lineage": _counted(progress)})
        cache = repo.cache.local
        if Path(cache.path) != cache_dir / "files" / MD5:
            raise LineageError(
                f"DVC's cache is {cache.path}, set outside the repository's .dvc/config; set "
                "`dvc config --local cache.dir` so lineage and DVC agree"
            )
        objs = [HashInfo(MD5, oid) for oid in sorted(wanted)]
        repo.cloud.transfer(odb, cache, objs, verify=odb.verify, cache_odb=cache, callback=callback)
    return [md5 for md5 in pending if absent_locally(cache_dir, md5)]


def _counted(advance: Callable[..., None]) -> Callable[..., None]:
    """A DVC callback hook advancing a bar by each object copied. DVC calls hooks with the
    running ``value`` (and again, unchanged, when it resets ``size`` for each batch): pass on
    only what was added since the last call."""
    seen = 0

    def hook(_: int | None, value: int, **__: Any) -> None:
        nonlocal seen
        if value > seen:
            advance(value - seen)
            seen = value

    return hook


@contextmanager
def _no_dvc_bars() -> Iterator[None]:
    """Keep DVC from drawing bars of its own ("Checking cache in …") on the terminal: lineage
    shows one bar for the work (lineage/progress.py). DVC draws none while its logger is above
    ERROR (``Tqdm`` in dvc/progress.py and dvc_data/callbacks.py, which draws "Checking cache
    in …" while a transfer compares caches); what goes wrong comes back as values, not logs."""
    loggers = [logging.getLogger(name) for name in ("dvc", "dvc_data")]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)


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
    with repo, _no_dvc_bars():
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
    return [m for _, m in parse_manifest(blob, md5)]
