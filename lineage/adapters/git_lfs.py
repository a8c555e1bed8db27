"""Git LFS, read without running ``git lfs``: which tracked files are LFS pointers, the oid and
size each pointer names, and where an object sits (this clone's ``.git/lfs/objects``, a remote).

A pointer blob is three lines (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md)::

    version https://git-lfs.github.com/spec/v1
    oid sha256:<64 hex>
    size <bytes>

The oid is the sha256 of the content. Records name LFS data ``sha256:<oid>`` (in the field DVC
data uses for its md5), so a data node's key says which kind of hash it is. Listing the pointers
costs two ``git`` processes (``ls-files``, ``cat-file --batch`` of the candidate blobs), and
only in a repository whose ``.gitattributes`` mention ``filter=lfs``; the workspace files are
checked through the same stat cache as DVC's (an unchanged file is never hashed again).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lineage.adapters import git_content
from lineage.adapters.git import RepoPaths, run_git
from lineage.records import STATE_MISSING, STATE_MODIFIED, Data

if TYPE_CHECKING:  # the hooks import this module; the stat cache only `run` needs
    from lineage.adapters.dvc_hash import StatCache

PREFIX = "sha256:"  # how records spell an LFS oid
MAX_POINTER = 1024  # git-lfs never treats a larger blob as a pointer (spec: "< 1024 bytes")
_POINTER = re.compile(
    rb"version https://git-lfs\.github\.com/spec/v1\n"
    rb"(?:[a-z0-9.-]+ [^\n]*\n)*?"
    rb"oid sha256:(?P<oid>[0-9a-f]{64})\n"
    rb"(?:[a-z0-9.-]+ [^\n]*\n)*?"
    rb"size (?P<size>[0-9]+)\n"
    rb"(?:[a-z0-9.-]+ [^\n]*\n)*\Z"
)
_ATTRIBUTE_FILES = (".gitattributes",)


@dataclass(frozen=True)
class Pointer:
    """One LFS file as Git holds it: its path and the object its pointer names."""

    path: str
    oid: str  # 64 hex digits, no prefix
    size: int

    @property
    def hash(self) -> str:
        return PREFIX + self.oid


def is_lfs_hash(value: str) -> bool:
    """True for a record's data hash that is an LFS oid (``sha256:<hex>``)."""
    return value.startswith(PREFIX)


def oid_of(value: str) -> str:
    """The bare hex oid of a record's ``sha256:<hex>``."""
    return value.removeprefix(PREFIX)


def parse_pointer(blob: bytes) -> tuple[str, int] | None:
    """(oid, size) of a pointer blob, None for anything else."""
    if len(blob) >= MAX_POINTER:
        return None
    found = _POINTER.match(blob)
    if found is None:
        return None
    return found["oid"].decode(), int(found["size"])


def uses_lfs(paths: RepoPaths, tracked: Sequence[str] | None = None) -> bool:
    """Whether any attributes file routes paths through the LFS filter (cheap: no git)."""
    names = [p for p in tracked or () if p.rsplit("/", 1)[-1] in _ATTRIBUTE_FILES]
    candidates = [paths.root / n for n in names] if tracked is not None else []
    if tracked is None:
        candidates.append(paths.root / ".gitattributes")
    candidates.append(paths.common_dir / "info" / "attributes")
    for path in candidates:
        try:
            if b"filter=lfs" in path.read_bytes():
                return True
        except OSError:
            continue
    return False


def pointers(paths: RepoPaths, rev: str | None = None) -> list[Pointer]:
    """The LFS files of the index (``rev`` None) or of a commit, read from their pointer blobs.

    Only blobs small enough to be pointers are read, in one ``git cat-file --batch``; a file
    the attributes route through LFS whose blob is not a pointer (committed before LFS tracked
    it) is plain Git content and not listed."""
    listed = _blobs(paths, rev)
    if not uses_lfs(paths, [path for path, _ in listed]):
        return []
    sizes = git_content.object_sizes(paths, sorted({sha for _, sha in listed}))
    small = {sha for sha, size in sizes.items() if size < MAX_POINTER}
    if not small:
        return []
    blobs = git_content.read_objects(paths, sorted(small))
    found = []
    for path, sha in listed:
        parsed = parse_pointer(blobs.get(sha) or b"") if sha in small else None
        if parsed is not None:
            found.append(Pointer(path, *parsed))
    return found


def object_path(common_dir: Path, oid: str) -> Path:
    """Where git-lfs keeps an object in a clone (or a bare repository used as its remote)."""
    return common_dir / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def check_workspace(root: Path, found: Sequence[Pointer], cache: StatCache) -> list[Data]:
    """Each LFS file as the workspace holds it: the pointer's oid when the bytes match it,
    else the sha256 actually present (``modified``), or ``missing`` when the file is absent or
    still the pointer text (cloned with ``GIT_LFS_SKIP_SMUDGE=1``, never pulled)."""
    from lineage.adapters.dvc_hash import SHA256

    data = []
    for pointer in found:
        path = root / pointer.path
        base = Data(path=pointer.path, md5=pointer.hash, size=pointer.size)
        if _unfetched(path, pointer):
            data.append(replace(base, state=STATE_MISSING))
            continue
        sha, size = cache.file_md5(root, pointer.path, hash_name=SHA256)
        if sha == pointer.oid:
            data.append(base)
        else:
            data.append(
                replace(
                    base,
                    md5=PREFIX + sha,
                    size=size,
                    state=STATE_MODIFIED,
                    pointer_md5=pointer.hash,
                )
            )
    return data


def _unfetched(path: Path, pointer: Pointer) -> bool:
    """True when the workspace has no file here, or only the pointer's text."""
    try:
        size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        return True
    if size >= MAX_POINTER or size == pointer.size:
        return False
    try:
        return parse_pointer(path.read_bytes()) is not None
    except OSError:
        return True


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb", buffering=0) as fobj:
        while chunk := fobj.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def _blobs(paths: RepoPaths, rev: str | None) -> list[tuple[str, str]]:
    """(path, blob sha) of every regular file in the index or in ``rev``'s tree."""
    if rev is None:
        proc = run_git(paths.root, ["ls-files", "-s", "-z"])
    else:
        proc = run_git(paths.root, ["ls-tree", "-r", "-z", "--full-tree", rev])
    found = []
    for entry in proc.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        fields = meta.split(b" ")
        mode, sha = fields[0], (fields[1] if rev is None else fields[2])
        if mode in (b"100644", b"100755") and (rev is not None or fields[-1] == b"0"):
            found.append((os.fsdecode(path), sha.decode()))
    return found


HOOKS = ("pre-push", "post-checkout", "post-commit", "post-merge")  # what `git lfs install` writes
_MANUAL = re.compile(r"Add the following to '[^'\n]*?([a-z-]+)':\n\n((?:\t[^\n]*\n?)+)")


def installed() -> bool:
    """Whether the ``git-lfs`` binary is on PATH."""
    import shutil

    return shutil.which("git-lfs") is not None


def hook_texts(paths: RepoPaths) -> dict[str, str]:
    """git-lfs's own hook scripts, hook -> text, exactly as the installed git-lfs would write
    them: ``git lfs update --manual`` prints each, tab-indented, for merging by hand."""
    proc = run_git(paths.root, ["lfs", "update", "--manual"], check=False)
    texts = {}
    for hook, body in _MANUAL.findall(proc.stdout.decode(errors="replace")):
        if hook in HOOKS:
            texts[hook] = "".join(line[1:] + "\n" for line in body.rstrip("\n").split("\n"))
    return texts


def is_lfs_hook(path: Path, hook: str) -> bool:
    """Whether the hook at ``path`` runs git-lfs's ``hook`` (written by git-lfs, or merged)."""
    try:
        return f"git lfs {hook}".encode() in path.read_bytes()[:4096]
    except OSError:
        return False


class UncheckableRemoteError(Exception):
    """The LFS remote is reached over SSH (``git-lfs-authenticate``), which lineage does not
    speak, so which objects it holds cannot be read from here."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(url)


def lfs_url(paths: RepoPaths, remote: str) -> str:
    """The LFS store of ``remote`` as git-lfs finds it: ``lfs.url``, ``remote.<name>.lfsurl``,
    else derived from the remote's URL (``<url>.git/info/lfs`` for HTTP(S)), else the URL or
    path itself (a store on disk)."""
    configured = _config(paths, "lfs.url") or _config(paths, f"remote.{remote}.lfsurl")
    if configured:
        return configured
    url = _config(paths, f"remote.{remote}.url") or remote
    from lineage.adapters import git_lfs_http

    return git_lfs_http.endpoint_of(url) if git_lfs_http.is_http(url) else url


def remote_objects_dir(paths: RepoPaths, url: str) -> Path:
    """Where an LFS store on disk keeps its objects (git-lfs's standalone file transfer:
    ``<bare repo>/lfs/objects``, ``<work tree>/.git/lfs/objects``); raises
    :class:`UncheckableRemoteError` for an SSH remote."""
    local = url.removeprefix("file://")
    if "://" in local or (":" in local.split("/", 1)[0] and not Path(local).exists()):
        raise UncheckableRemoteError(url)
    base = Path(local) if os.path.isabs(local) else paths.root / local
    if (base / ".git").is_dir():
        base = base / ".git"
    return base / "lfs" / "objects"


def missing_on_remote(
    paths: RepoPaths, remote: str, oids: Sequence[str], sizes: Mapping[str, int] | None = None
) -> list[str]:
    """The oids (bare hex) that ``remote``'s LFS store lacks: read on disk, or asked of an
    HTTP(S) server (``sizes`` oid -> bytes, which the Batch API wants; 0 when unknown).
    Raises :class:`UncheckableRemoteError` (SSH) or ``git_lfs_http.LfsServerError``."""
    url = lfs_url(paths, remote)
    from lineage.adapters import git_lfs_http

    if git_lfs_http.is_http(url):
        sized = [(oid, (sizes or {}).get(oid, 0)) for oid in oids]
        return git_lfs_http.missing(paths.root, url, sized)
    objects = remote_objects_dir(paths, url)
    return [oid for oid in oids if not (objects / oid[:2] / oid[2:4] / oid).is_file()]


def _config(paths: RepoPaths, key: str) -> str | None:
    proc = run_git(paths.root, ["config", "--get", key], check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def default_remote(paths: RepoPaths) -> str:
    """The remote git-lfs fetches from: ``remote.lfsdefault``, else ``origin``."""
    return _config(paths, "remote.lfsdefault") or "origin"


def locate(paths: RepoPaths, oids: Sequence[str]) -> dict[str, str]:
    """oid -> ``lfs-cache`` (in this clone's ``.git/lfs/objects``), ``lfs-remote`` (in the
    default remote's LFS store, or a store that cannot be checked from here: fetching will
    tell) or ``missing``."""
    where = {o: "lfs-cache" for o in oids if object_path(paths.common_dir, o).is_file()}
    rest = [o for o in oids if o not in where]
    from lineage.adapters.git_lfs_http import LfsServerError

    try:
        lacking = set(missing_on_remote(paths, default_remote(paths), rest)) if rest else set()
    except (UncheckableRemoteError, LfsServerError):
        lacking = set()
    where.update({o: "missing" if o in lacking else "lfs-remote" for o in rest})
    return where


def restore(
    paths: RepoPaths, worktree: Path, wanted: Sequence[tuple[str, str]], commit: str
) -> None:
    """Put each object (oid, path) into ``worktree``, fetching from the default remote
    what this clone lacks (``git lfs fetch REMOTE COMMIT``: the objects the commit's tree
    names, which a snapshot commit's tree does for data modified when the run was recorded),
    and verify each copy's sha256. Raises LineageError naming what could not be restored."""
    from lineage.errors import LineageError

    if any(not object_path(paths.common_dir, oid).is_file() for oid, _ in wanted):
        remote = default_remote(paths)
        proc = run_git(paths.root, ["lfs", "fetch", remote, commit], check=False)
        lost = [oid for oid, _ in wanted if not object_path(paths.common_dir, oid).is_file()]
        if lost:
            said = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise LineageError(
                f"could not fetch Git LFS object(s) {', '.join(o[:10] for o in lost[:5])} from "
                f"the LFS store of '{remote}' ({said[0] or 'not there'}); push them from the "
                f"clone that made them (`git lfs push --object-id {remote} OID`)"
            )
    for oid, path in wanted:
        dest = worktree / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.lineage-tmp")
        shutil.copyfile(object_path(paths.common_dir, oid), tmp)
        os.replace(tmp, dest)
        if file_sha256(dest) != oid:
            raise LineageError(
                f"{dest.name} restored from .git/lfs/objects does not hash to sha256:{oid}: "
                "the object is damaged; delete it and run `git lfs fetch` to get a good copy"
            )
    # The worktree's index holds the stat of the pointer text the checkout wrote; git counts a
    # size change as modified without reading the file, so the rerun would see a dirty tree.
    # Staging the restored files (through git-lfs's clean filter) records their stat.
    paths_in = "".join(f"{path}\n" for _, path in wanted).encode()
    run_git(worktree, ["update-index", "-q", "--stdin"], input=paths_in)
