"""Step 1 of recording a command (``lineage/recording.py``): what is known before it runs.

The budget is ~150 ms, so nothing here imports mlflow or dvc: the tracking store can be reached
(a cheap check), the executable exists, the code (HEAD, and a snapshot commit of a dirty tree
that holds exactly what will run), and every DVC-tracked input in the workspace checked against
its pointer through the stat cache (an unchanged file is never hashed again), and so is every
Git LFS file (``adapters/git_lfs.py``: pointers read from the index, sha256 in the same cache).

The stores of MLflow, DVC and W&B (``adapters/tool_stores.py``: ``mlflow.db`` and the SQLite
file the tracking or registry URI names, ``mlruns/``, ``wandb/``, ...) are not code: they never
make the tree dirty and never enter a snapshot, so the second run in a repository where MLflow
wrote ``./mlflow.db`` is as clean as the first. Nor are untracked files a snapshot must not
publish (``adapters/untracked.py``: secrets' names, ``[snapshot] exclude``, files over
``max_file_mb``, all of them under ``[snapshot] untracked = false``): they are left out of the
snapshot and of the dirt, and the user is told which.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from lineage import child, session_wandb
from lineage.adapters import dvc, dvc_pipeline, git, git_lfs, untracked
from lineage.adapters.dvc_hash import StatCache, check_workspace
from lineage.adapters.mlflow_uri import check_reachable
from lineage.adapters.tool_stores import ToolStores
from lineage.adapters.untracked import LeftOut
from lineage.config import DEFAULT_MAX_FILE_MB, Config
from lineage.context import Context
from lineage.errors import LineageError, TrackingUnreachableError
from lineage.formatting import listed, short_hash
from lineage.records import STATE_MATCH, STATE_MODIFIED, Code, Data
from lineage.session import Session


@dataclass(frozen=True)
class Before:
    """What :func:`capture` found before the child ran."""

    argv: tuple[str, ...]
    executable: str  # argv[0] as found on PATH
    code: Code
    inputs: tuple[Data, ...]  # the workspace's DVC and LFS data, each checked against its pointer
    lock: str | None  # the root dvc.lock as it was
    session: Session  # one id for every MLflow run the command starts
    # W&B run directories that existed before, with their run files' mtimes (session_wandb).
    wandb: Mapping[Path, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CapturedCode:
    """The code as :func:`capture` found it: what the record says, the tracked files of
    tools' stores that changed and were left out of it, the untracked files its snapshot holds
    and those it was not allowed to."""

    code: Code
    tool_changes: tuple[str, ...] = ()
    untracked: tuple[str, ...] = ()
    left_out: tuple[LeftOut, ...] = ()
    max_file_mb: float = DEFAULT_MAX_FILE_MB  # the size over which an untracked file is left out


def capture(
    ctx: Context, argv: Sequence[str], *, on_code: Callable[[CapturedCode], None] | None = None
) -> Before:
    """Everything known before the command runs; raises (nothing run, nothing written) when the
    tracking store cannot be reached or the command does not exist. ``on_code`` hears about the
    code as soon as it is known, before the data, which may take a while to check."""
    if not argv:
        raise LineageError(
            "no command given; put it after `--`, e.g. `lineage run -- python train.py`"
        )
    try:
        check_reachable(ctx.mlflow.tracking)
    except TrackingUnreachableError as exc:
        raise TrackingUnreachableError(
            exc.uri, exc.reason, "nothing was run: start the server or fix MLFLOW_TRACKING_URI"
        ) from None
    executable = child.resolve_executable(argv[0], ctx.cwd, ctx.environ)
    captured = _capture_code(ctx.paths, ToolStores.of(ctx.paths.root, ctx.mlflow), ctx.config)
    if on_code is not None:
        on_code(captured)
    inputs = _capture_data(ctx, argv)
    lock = ctx.paths.root / dvc.LOCK
    return Before(
        argv=tuple(argv),
        executable=executable,
        code=captured.code,
        inputs=tuple(inputs),
        lock=lock.read_text(encoding="utf-8") if lock.exists() else None,
        session=Session.new(ctx.paths.lineage_dir),
        wandb=session_wandb.listing(ctx),
    )


def dirty_note(code: Code) -> str:
    return (
        f"working tree is dirty ({len(code.changed)} paths); recorded snapshot "
        f"{(code.snapshot or '')[:10]} of the exact tree"
    )


def tool_changes_note(files: Sequence[str]) -> str:
    return (
        f"left out of the code: {listed(files)} (tracked in Git, but a tool's store, not code); "
        "`git rm --cached` them and run `lineage init --gitignore` to stop tracking them"
    )


def untracked_notes(captured: CapturedCode) -> list[str]:
    """What the snapshot holds that is not in Git, and what it left out and why."""
    notes = []
    if captured.untracked:
        count = len(captured.untracked)
        notes.append(
            f"snapshot holds {count} untracked file{'' if count == 1 else 's'}: "
            f"{listed(captured.untracked)}"
        )
    why = {
        untracked.SECRET: "named like secrets",
        untracked.EXCLUDED: "[snapshot] exclude",
        untracked.TOO_LARGE: f"over max_file_mb = {captured.max_file_mb:g}",
        untracked.UNTRACKED_OFF: "[snapshot] untracked = false",
    }
    groups = [
        f"{listed([f.path for f in captured.left_out if f.why == reason])} ({text})"
        for reason, text in why.items()
        if any(f.why == reason for f in captured.left_out)
    ]
    if groups:
        notes.append(f"left out of the snapshot, untracked: {'; '.join(groups)}")
    return notes


def say_when_dirty(notify: Callable[[str], None]) -> Callable[[CapturedCode], None]:
    """An ``on_code`` for :func:`capture` that tells the user at once about a dirty tree, about
    changed tool-store files Git tracks, which the code leaves out, and about the untracked
    files the snapshot holds and those it left out."""

    def on_code(captured: CapturedCode) -> None:
        if captured.code.dirty:
            notify(dirty_note(captured.code))
        if captured.tool_changes:
            notify(tool_changes_note(captured.tool_changes))
        for note in untracked_notes(captured):
            notify(note)

    return on_code


def data_notes(inputs: Sequence[Data]) -> list[str]:
    """What the user should know about DVC or Git LFS data that differs from its pointers."""
    notes = []
    for data in inputs:
        if git_lfs.is_lfs_hash(data.md5):
            notes.extend(_lfs_note(data))
        elif data.state == STATE_MODIFIED:
            notes.append(
                f"{data.path} is modified compared with {data.pointer}; recording the hash "
                f"actually present ({data.md5[:10]}); run `dvc add`/`dvc commit` to update it"
            )
        elif data.state != STATE_MATCH:
            notes.append(
                f"{data.path} named by {data.pointer} is missing from the workspace; "
                "run `dvc pull` or `dvc checkout`"
            )
    return notes


def _lfs_note(data: Data) -> list[str]:
    if data.state == STATE_MODIFIED:
        return [
            f"{data.path} is modified compared with its Git LFS pointer; recording the hash "
            f"actually present ({short_hash(data.md5)}); `git add` it to update the pointer"
        ]
    if data.state != STATE_MATCH:
        return [
            f"{data.path} is a Git LFS file the workspace does not hold (only its pointer); "
            "run `git lfs pull`"
        ]
    return []


def _capture_code(paths: git.RepoPaths, stores: ToolStores, config: Config) -> CapturedCode:
    head, dirt = git.status(paths, stores)
    chosen = untracked.choose(
        paths.root,
        dirt.untracked,
        exclude=config.snapshot.exclude,
        max_bytes=int(config.max_file_mb * 2**20),
        include=config.snapshot.untracked,
    )
    dirt = replace(dirt, untracked=chosen.kept)
    snapshot = None
    if dirt.dirty or head.commit is None:
        snapshot = git.snapshot(
            paths,
            head.commit,
            dirt,
            message=f"{git.SNAPSHOT_SUBJECT}\n\nBase: {head.commit or '(no commits yet)'}\n",
        )
    code = Code(
        commit=head.commit,
        dirty=dirt.dirty or head.commit is None,
        snapshot=snapshot,
        branch=head.branch,
        changed=tuple(sorted({*dirt.changed, *dirt.untracked})),
    )
    return CapturedCode(code, dirt.tool_changes, chosen.kept, chosen.left_out, config.max_file_mb)


def _capture_data(ctx: Context, argv: Sequence[str]) -> list[Data]:
    lfs = git_lfs.pointers(ctx.paths)
    dvc_data = _capture_dvc_data(ctx, argv)
    if not lfs:
        return dvc_data
    with StatCache(ctx.statcache_path, ctx.warn) as cache:
        return dvc_data + git_lfs.check_workspace(ctx.paths.root, lfs, cache)


def _capture_dvc_data(ctx: Context, argv: Sequence[str]) -> list[Data]:
    root = ctx.paths.root
    if not dvc.is_dvc_repo(root):
        return []
    entries: list[dvc.PointerEntry] = []
    for pointer in dvc.find_pointer_files(root):
        if pointer.rsplit("/", 1)[-1] == dvc.LOCK:
            entries.extend(dvc.read_dvc_lock(root, pointer))
        else:
            entries.extend(dvc.read_dvc_file(root, pointer))
    with StatCache(ctx.statcache_path, ctx.warn) as cache:
        return check_workspace(
            root, dvc_pipeline.candidate_inputs_of(entries, argv, _workspace_text(root)), cache
        )


def _workspace_text(root: Path) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        try:
            return (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return read
