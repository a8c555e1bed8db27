"""The pre-commit hook's full checks: refuse a commit that would break lineage, and say exactly
what to run instead.

Three refusals (docs/commands.md#lineage-hooks):

* DVC-tracked data in the workspace differs from the pointer entry this commit keeps unchanged
  (a ``.dvc`` file or ``dvc.lock``): the commit would claim data it does not have.
* A staged file larger than ``[hooks] max_file_mb`` is headed into Git instead of DVC.
* ``dvc.yaml`` changes a stage whose ``dvc.lock`` entry is staged unchanged (a stale lock).

The hook comes here only when ``quick`` could not prove there is nothing to refuse. Workspace
data is hashed through ``dvc_hash.StatCache`` (an unchanged file is never read again, whatever its
size); each out's hash is remembered with its stat digest, and each pointer blob's outs by blob
sha, in ``hook-cache.json``, which is what lets ``quick`` answer the next commit alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.adapters import dvc, git, git_content
from lineage.adapters.dvc_hash import StatCache
from lineage.adapters.git_content import StagedChange
from lineage.context import Context
from lineage.errors import LineageError
from lineage.hooks import quick

MB = 1 << 20
ZERO = "0" * 40
NO_VERIFY = "or commit with --no-verify"
# Stage fields that do not reach dvc.lock: changing them does not make the lock stale.
_NOT_LOCKED = ("desc", "meta", "frozen", "always_changed")


@dataclass(frozen=True)
class Refusal:
    """Why the commit is refused: a headline, the offending paths, and exactly what to run."""

    headline: str
    items: tuple[str, ...]
    fix: str

    def render(self) -> str:
        lines = [f"lineage: {self.headline}", *(f"  {item}" for item in self.items), self.fix]
        return "\n".join(lines) + "\n"


def check(ctx: Context) -> list[Refusal]:
    """Every reason to refuse the commit being made (empty: let it through)."""
    paths = ctx.paths
    max_file_mb = ctx.config.max_file_mb
    staged = git_content.staged_changes(paths)
    refusals = _large_files(paths, staged, int(max_file_mb * MB), max_file_mb)
    if dvc.is_dvc_repo(paths.root):
        changed = {c.path: c for c in staged}
        index = git_content.index_shas(paths, quick.POINTER_SPECS)
        refusals += _stale_data(ctx, index, changed)
        refusals += _stale_locks(paths, index, changed)
    return refusals


# -- large files ------------------------------------------------------------------------------


def _large_files(
    paths: git.RepoPaths, staged: Sequence[StagedChange], limit: int, limit_mb: float
) -> list[Refusal]:
    files = [c for c in staged if c.status in "AMT" and c.new_mode in ("100644", "100755")]
    sizes = git_content.object_sizes(paths, sorted({c.new_sha for c in files}))
    big = [(c.path, sizes[c.new_sha]) for c in files if sizes.get(c.new_sha, 0) > limit]
    if not big:
        return []
    names = " ".join(_quote(p) for p, _ in big)
    return [
        Refusal(
            f"staged files larger than {limit_mb:g} MB would go into Git instead of DVC:",
            tuple(f"{p}  ({size / MB:,.1f} MB)" for p, size in big),
            f"run `git rm --cached {names}` and `dvc add {names}`, then stage the .dvc "
            f"file(s); or raise [hooks] max_file_mb in .lineage/config.toml; {NO_VERIFY}",
        )
    ]


# -- data that differs from its pointer -------------------------------------------------------


@dataclass(frozen=True)
class _Stale:
    entry: dvc.PointerEntry
    actual: str  # the workspace's md5
    pointer_updated: bool  # the workspace's pointer already says `actual`, but is not staged


def _stale_data(
    ctx: Context, index: Mapping[str, str], changed: Mapping[str, StagedChange]
) -> list[Refusal]:
    paths = ctx.paths
    pointers = {p: sha for p, sha in index.items() if quick.is_pointer(p)}
    if not pointers:
        return []
    cache_file = str(paths.lineage_dir / quick.CACHE_FILE)
    remembered = quick.load_cache(cache_file)
    before = json.dumps(remembered, sort_keys=True)
    outs = _staged_outs(paths, pointers, index, remembered["pointers"])
    stale: list[_Stale] = []
    with StatCache(ctx.statcache_path) as cache:
        for entry in outs:
            actual = _workspace_md5(str(paths.root), entry, cache, remembered["outs"])
            if actual is None or actual == entry.md5 or _updated(paths, entry, changed):
                continue
            stale.append(_Stale(entry, actual, _pointer_says(paths, entry, pointers, actual)))
    # Forget this work tree's paths that no pointer tracks any more (other work trees of a
    # shared git dir keep theirs).
    current = {os.path.join(paths.root, e.path) for e in outs}
    for path in [p for p in remembered["outs"] if p.startswith(f"{paths.root}{os.sep}")]:
        if path not in current:
            del remembered["outs"][path]
    if json.dumps(remembered, sort_keys=True) != before:
        quick.save_cache(cache_file, remembered)
    return _stale_refusals(stale)


def _workspace_md5(
    root: str, entry: dvc.PointerEntry, cache: StatCache, outs: dict[str, Any]
) -> str | None:
    """DVC's hash of what the workspace holds at the entry's path, remembered with the path's
    stat digest for ``quick``; None when it is missing or unreadable (not this hook's to
    judge: `dvc status` says more)."""
    full = os.path.join(root, entry.path)
    try:
        seen = quick.stat_digest(full)
        if seen is None:
            return None
        digest, stable = seen
        hit = outs.get(full)
        if hit is not None and hit[:2] == [entry.hash_name, digest]:
            return str(hit[2])
        if digest.startswith("d:"):
            md5 = cache.dir_md5(Path(root), entry.path, hash_name=entry.hash_name)[0]
        else:
            md5 = cache.file_md5(Path(root), entry.path, hash_name=entry.hash_name)[0]
    except OSError:
        return None
    if stable:
        outs[full] = [entry.hash_name, digest, md5]
    else:
        outs.pop(full, None)
    return md5


def _staged_outs(
    paths: git.RepoPaths,
    pointers: Mapping[str, str],
    index: Mapping[str, str],
    known: dict[str, list[list[Any]]],
) -> list[dvc.PointerEntry]:
    """The outs of every staged pointer, parsed once per blob and remembered by blob sha
    (``known`` is updated in place, and keeps only the current pointers)."""
    staged = dict(index)
    keys = {p: quick.cache_key(p, sha, staged) for p, sha in pointers.items()}
    missing = [p for p, key in keys.items() if key not in known]
    fresh = _parse_staged(paths, missing, pointers, index) if missing else {}
    current = {key: known[key] if key in known else fresh[p] for p, key in keys.items()}
    known.clear()
    known.update(current)
    return [dvc.PointerEntry(*row) for key in keys.values() for row in current[key]]


def _pipeline_sha(pointer: str, index: Mapping[str, str]) -> str:
    return index.get(posixpath.join(posixpath.dirname(pointer), dvc.PIPELINE), "")


def _parse_staged(
    paths: git.RepoPaths,
    pointers: Sequence[str],
    shas: Mapping[str, str],
    index: Mapping[str, str],
) -> dict[str, list[list[Any]]]:
    wanted = {shas[p] for p in pointers} | {_pipeline_sha(p, index) for p in pointers}
    blobs = git_content.read_objects(paths, sorted(wanted - {""}))
    parsed: dict[str, list[list[Any]]] = {}
    for pointer in pointers:
        text = _text(blobs.get(shas[pointer]))
        entries = _parse(paths, pointer, text, _text(blobs.get(_pipeline_sha(pointer, index))))
        parsed[pointer] = [
            [e.path, e.md5, e.size, e.nfiles, e.pointer, e.stage, e.role, e.hash_name]
            for e in entries
            if e.role == "out"
        ]
    return parsed


def _parse(
    paths: git.RepoPaths, pointer: str, text: str | None, pipeline: str | None
) -> list[dvc.PointerEntry]:
    if text is None:
        return []
    if posixpath.basename(pointer) == dvc.LOCK:
        return dvc.read_dvc_lock(paths.root, pointer, text, pipeline_text=pipeline or "")
    return dvc.read_dvc_file(paths.root, pointer, text)


def _updated(
    paths: git.RepoPaths, entry: dvc.PointerEntry, changed: Mapping[str, StagedChange]
) -> bool:
    """Whether this commit changes the entry's hash (then it is the user's new claim)."""
    change = changed.get(entry.pointer)
    if change is None:
        return False
    if change.status == "A":
        return True
    pipeline = posixpath.join(posixpath.dirname(entry.pointer), dvc.PIPELINE)
    blobs = git_content.read_objects(paths, [change.old_sha, f"HEAD:{pipeline}"])
    before = _parse(
        paths, entry.pointer, _text(blobs[change.old_sha]), _text(blobs[f"HEAD:{pipeline}"])
    )
    return not any(
        e.path == entry.path and e.stage == entry.stage and e.md5 == entry.md5 for e in before
    )


def _pointer_says(
    paths: git.RepoPaths, entry: dvc.PointerEntry, pointers: Mapping[str, str], md5: str
) -> bool:
    """True when the pointer in the workspace already names ``md5`` (it was updated, but the
    update was not staged)."""
    try:
        data = (paths.root / entry.pointer).read_bytes()
    except OSError:
        return False
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    if blob == pointers[entry.pointer]:
        return False
    try:
        now = _parse(paths, entry.pointer, data.decode("utf-8"), None)
    except (LineageError, UnicodeDecodeError):
        return False
    return any(e.path == entry.path and e.md5 == md5 for e in now)


def _stale_refusals(stale: Sequence[_Stale]) -> list[Refusal]:
    refusals = []
    unstaged = sorted({s.entry.pointer for s in stale if s.pointer_updated})
    if unstaged:
        refusals.append(
            Refusal(
                "DVC pointers were updated but the updates are not staged:",
                tuple(_describe(s) for s in stale if s.pointer_updated),
                f"run `git add {' '.join(map(_quote, unstaged))}`, {NO_VERIFY}",
            )
        )
    added = [s for s in stale if not s.pointer_updated and s.entry.stage is None]
    if added:
        adds = [
            f"dvc add {_quote(s.entry.path)}"
            if s.entry.pointer == f"{s.entry.path}.dvc"
            else f"dvc commit -f {_quote(s.entry.pointer)}"
            for s in added
        ]
        pointers = " ".join(sorted({_quote(s.entry.pointer) for s in added}))
        undo = " ".join(_quote(s.entry.path) for s in added)
        refusals.append(
            Refusal(
                "DVC-tracked data changed, but the commit keeps its old pointer:",
                tuple(_describe(s) for s in added),
                f"run `{' && '.join(adds)}` and `git add {pointers}` (or `dvc checkout {undo}` "
                f"to undo the change), {NO_VERIFY}",
            )
        )
    piped = [s for s in stale if not s.pointer_updated and s.entry.stage is not None]
    if piped:
        stages = " ".join(dict.fromkeys(_quote(s.entry.stage or "") for s in piped))
        locks = " ".join(sorted({_quote(s.entry.pointer) for s in piped}))
        undo = " ".join(_quote(s.entry.path) for s in piped)
        refusals.append(
            Refusal(
                "DVC pipeline outputs changed, but the commit keeps their old dvc.lock entries:",
                tuple(_describe(s) for s in piped),
                f"run `dvc commit -f {stages}` (or `dvc repro {stages}`) and `git add {locks}` "
                f"(or `dvc checkout {undo}` to undo the change), {NO_VERIFY}",
            )
        )
    return refusals


def _describe(stale: _Stale) -> str:
    e = stale.entry
    where = f"{e.pointer} ({e.stage})" if e.stage else e.pointer
    return f"{e.path}  workspace {stale.actual[:10]}, staged {where} says {e.md5[:10]}"


# -- dvc.yaml changed, dvc.lock not -----------------------------------------------------------


def _stale_locks(
    paths: git.RepoPaths, index: Mapping[str, str], changed: Mapping[str, StagedChange]
) -> list[Refusal]:
    pipelines = [
        c for p, c in changed.items() if posixpath.basename(p) == dvc.PIPELINE and c.status in "MT"
    ]
    stale: list[tuple[str, str]] = []  # (lock, stage address)
    for change in pipelines:
        lock = posixpath.join(posixpath.dirname(change.path), dvc.LOCK)
        if lock not in index:
            continue
        lock_change = changed.get(lock)
        lock_before = lock_change.old_sha if lock_change else index[lock]
        blobs = git_content.read_objects(
            paths, sorted({change.old_sha, change.new_sha, index[lock], lock_before} - {ZERO})
        )
        before = _stages(blobs.get(change.old_sha), change.path)
        after = _stages(blobs.get(change.new_sha), change.path)
        locked_now = _stages(blobs.get(index[lock]), lock)
        locked_before = _stages(blobs.get(lock_before), lock)
        for name, definition in after.items():
            if name not in before or _locked_part(before[name]) == _locked_part(definition):
                continue
            for entry in locked_now:
                if (entry == name or entry.startswith(f"{name}@")) and locked_before.get(
                    entry
                ) == locked_now[entry]:
                    stale.append((lock, dvc.stage_address(change.path, entry)))
    if not stale:
        return []
    stages = " ".join(_quote(s) for _, s in stale)
    locks = " ".join(sorted({_quote(lock) for lock, _ in stale}))
    return [
        Refusal(
            "dvc.yaml changes these stages, but their dvc.lock entries are staged unchanged "
            "(stale lock):",
            tuple(f"{stage}  ({lock})" for lock, stage in stale),
            f"run `dvc repro {stages}` (or `dvc commit -f {stages}` if the outputs are already "
            f"up to date) and `git add {locks}`, {NO_VERIFY}",
        )
    ]


def _stages(blob: bytes | None, name: str) -> dict[str, Any]:
    return {} if blob is None else dvc.raw_stages(blob.decode("utf-8", errors="replace"), name)


def _locked_part(definition: Any) -> Any:
    if not isinstance(definition, dict):
        return definition
    return {k: v for k, v in definition.items() if k not in _NOT_LOCKED}


# -- helpers ----------------------------------------------------------------------------------


def _text(blob: bytes | None) -> str | None:
    return None if blob is None else blob.decode("utf-8", errors="replace")


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)
