"""The pre-push check's question: which DVC objects a teammate needs to rebuild the runs on
the commits being pushed, which of them their DVC remotes lack, and the `dvc push` command
that sends what is missing. ``sync.pre_push`` asks it and decides.

Demanded: the inputs of each observed run, and its outputs that another run read or that a
registered model version came from. Never demanded: reruns of `lineage reproduce` (the index
leaves them out: their outputs live only in a throwaway worktree), and outputs DVC itself
never pushes (``cache: false``, ``push: false``, `dvc import`; see ``dvc.OutFlags``). Each
object is checked against the remote its output names (``remote:``), else the default one.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.adapters import dvc, git_content
from lineage.adapters.dvc_config import CacheConfig, cache_config
from lineage.adapters.git import RepoPaths
from lineage.adapters.git_lfs import is_lfs_hash
from lineage.errors import LineageError

if TYPE_CHECKING:
    from lineage.index import PushedRun

SHOWN = 10  # missing data objects listed before "and N more"
TARGETS = 3  # a command names its targets when there are at most this many
SKIP = "or `git push --no-verify` to skip this check"
# Words a DVC file must hold for an output to differ from DVC's defaults: without them the
# file is not parsed at all (PyYAML costs the hook ~20 ms).
_FLAG_WORDS = ("cache:", "push:", "remote:", "repo:")


@dataclass(frozen=True)
class Needed:
    """One DVC object a teammate needs, at the path a run used it."""

    path: str
    md5: str
    pointer: str | None  # the .dvc file or dvc.lock naming it
    remote: str | None  # the output's own `remote:`; None: the default remote


def needed(
    paths: RepoPaths,
    runs: Sequence[PushedRun],
    readers: Callable[[Iterable[str]], dict[str, set[str]]],
) -> list[Needed]:
    """The objects the runs' teammates need (``readers``: md5 -> runs that read it)."""
    used: list[tuple[str | None, dict[str, Any]]] = []  # (commit the run ran, data)
    outputs = [(run, d) for run in runs for d in run.record.get("outputs") or ()]
    read = readers({d["md5"] for run, d in outputs if not run.produced_model}) if outputs else {}
    for run in runs:
        code = run.record.get("code") or {}
        ran = code.get("snapshot") or code.get("commit")
        used += [(ran, d) for d in run.record.get("inputs") or ()]
        used += [
            (ran, d)
            for d in run.record.get("outputs") or ()
            if run.produced_model or read.get(d["md5"], set()) - {run.run_key}
        ]
    used = [(ran, d) for ran, d in used if not is_lfs_hash(d["md5"])]  # push_check_lfs.py's
    texts = _declarations(paths, used)
    found: dict[tuple[str, str], Needed] = {}
    for ran, data in used:
        pointer, path = data.get("pointer"), data["path"]
        files = {f: texts.get((ran, f)) for f in dvc.declaring_files(path, pointer)}
        flags = dvc.out_flags(path, files)
        if flags.pushed_by_dvc:
            found.setdefault((path, data["md5"]), Needed(path, data["md5"], pointer, flags.remote))
    return sorted(found.values(), key=lambda n: (n.path, n.md5))


def _declarations(
    paths: RepoPaths, used: Sequence[tuple[str | None, dict[str, Any]]]
) -> dict[tuple[str | None, str], str | None]:
    """(commit, DVC file) -> its text as the run saw it, in one ``git cat-file``; the work
    tree's copy when the run had no commit. None: a file that cannot change DVC's defaults,
    or that is not there."""
    wanted = {(r, f) for r, d in used for f in dvc.declaring_files(d["path"], d.get("pointer"))}
    blobs = git_content.read_objects(paths, sorted(f"{ran}:{f}" for ran, f in wanted if ran))
    texts: dict[tuple[str | None, str], str | None] = {}
    for ran, name in wanted:
        blob = blobs.get(f"{ran}:{name}")
        text = blob.decode("utf-8", "replace") if blob is not None else None
        if ran is None:
            text = _read(paths.root / name)
        texts[ran, name] = text if text and any(w in text for w in _FLAG_WORDS) else None
    return texts


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None


def refuse(paths: RepoPaths, wanted: Sequence[Needed], say: Callable[[str], None]) -> bool:
    """Check each remote holds its share of ``wanted``; say what is missing and the command
    that sends it, and return True to refuse the push."""
    if not wanted:
        return False
    from lineage.adapters import dvc_store

    root = paths.root
    if not dvc.is_dvc_repo(root):
        say(
            "warning: runs on these commits used DVC data, but this is not a DVC project "
            "(no .dvc/), so lineage cannot check the data was pushed to a DVC remote"
        )
        return False
    config = cache_config(root)
    by_remote: dict[str | None, list[Needed]] = {}
    for item in wanted:
        by_remote.setdefault(item.remote or config.default_remote, []).append(item)
    lacking: list[tuple[str | None, list[tuple[Needed, tuple[str, ...]]]]] = []
    for remote, items in sorted(by_remote.items(), key=lambda r: r[0] or ""):
        try:
            missing = dvc_store.missing_from_remote(root, [i.md5 for i in items], remote=remote)
        except dvc_store.NoRemoteError:
            say(
                "warning: runs on these commits used DVC data, but no DVC remote is "
                "configured, so lineage cannot check the data was shared; `dvc remote add -d "
                "NAME URL` to have it checked"
            )
            continue
        except LineageError as exc:
            say(
                f"refusing to push: cannot check the DVC remote ({exc}); fix that and push "
                f"again, {SKIP}"
            )
            return True
        if missing:
            lacking.append((remote, [(i, missing[i.md5]) for i in items if i.md5 in missing]))
    if not lacking:
        return False
    _explain(root, config, lacking, say)
    return True


def _explain(
    root: Path,
    config: CacheConfig,
    lacking: Sequence[tuple[str | None, list[tuple[Needed, tuple[str, ...]]]]],
    say: Callable[[str], None],
) -> None:
    """One sentence per remote (what it lacks, the command that sends it), then its objects."""
    shown = 0
    for n, (remote, items) in enumerate(lacking):
        objects = len({i.md5 for i, _ in items})
        where = f"DVC remote '{remote}'" if remote else "the DVC remote"
        command = push_command(
            remote,
            default=config.default_remote,
            current=all(_in_work_tree(root, i) for i, _ in items),
            targets=sorted({i.path for i, _ in items}),
        )
        lead = "refusing to push: runs on these commits used" if n == 0 else "and"
        say(f"{lead} {objects} data object(s) that {where} does not have; run `{command}`:")
        lines = sorted(_missing_line(i, lost, config.cache_dir) for i, lost in items)
        for line in lines[: max(0, SHOWN - shown)]:
            say(f"  {line}")
        if len(lines) > SHOWN - shown:
            say(f"  and {len(lines) - max(0, SHOWN - shown)} more")
        shown += len(lines)
    say(f"then push again, {SKIP}")


def push_command(
    remote: str | None, *, default: str | None, current: bool, targets: Sequence[str]
) -> str:
    """The `dvc push` that sends objects to ``remote``.

    ``current``: the work tree's DVC files name them all, so a plain `dvc push` (which reads
    those files) sends them; else they belong to older commits and need ``--all-commits``,
    named with the remote, as it pushes much more. For an output's own remote (``remote:``),
    ``-r`` with its few targets: ``-r`` alone would also send every output that names no
    remote there; with many targets, no ``-r`` (DVC sends each output to its own remote).
    """
    own = remote is not None and remote != default
    argv = ["dvc", "push"]
    if own and len(targets) <= TARGETS:
        argv += ["-r", str(remote)]
    elif remote is not None and not own and not current:
        argv += ["-r", remote]
    if not current:
        argv.append("--all-commits")
    if own and len(targets) <= TARGETS:
        argv += targets
    return shlex.join(argv)


def _in_work_tree(root: Path, item: Needed) -> bool:
    """Whether the work tree's DVC files name this object as an output, so that `dvc push`
    sends it: the record's pointer (a dvc.lock also holds the outs its stages' deps come
    from), or ``<path>.dvc`` (a dep `dvc add`ed)."""
    for pointer in dict.fromkeys([item.pointer or f"{item.path}.dvc", f"{item.path}.dvc"]):
        try:
            if posixpath.basename(pointer) == dvc.LOCK:
                entries = dvc.read_dvc_lock(root, pointer)
            else:
                entries = dvc.read_dvc_file(root, pointer)
        except (OSError, LineageError):
            continue
        if any(e.role == "out" and (e.path, e.md5) == (item.path, item.md5) for e in entries):
            return True
    return False


def _missing_line(item: Needed, lost: tuple[str, ...], cache_dir: Path) -> str:
    from lineage.adapters.dvc_store import object_path

    note = ""
    if lost != (item.md5,):
        note = f" ({len(lost)} of its files)"
    elif not object_path(cache_dir, item.md5).exists():
        note = " (not in this clone's DVC cache either: push it from where it was made)"
    return f"{item.path} {item.md5}{note}"
