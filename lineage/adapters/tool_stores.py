"""The stores the tools lineage knows keep inside a work tree: never code, never dirt.

MLflow's default SQLite file (``mlflow.db``, with SQLite's journal files beside it), its file
store and server artifact directories (``mlruns/``, ``mlartifacts/``), and whatever SQLite file
or directory the effective tracking or registry URI names inside the repository; DVC's cache
and tmp (``.dvc/cache``, ``.dvc/tmp``: DVC's own ``.dvc/.gitignore`` usually covers them, but
nothing guarantees it is there); what W&B writes into its ``wandb/`` directory (run and sweep
directories, ``latest-run``, ``debug*.log``), but not a ``wandb`` directory of code, such as
YOLOv5's ``utils/loggers/wandb/`` package. Each may sit in any directory, since MLflow, DVC and
W&B write where they are started.

This module owns the list. Everything that decides what is code uses it: the dirty check and
the snapshot (``lineage/capture.py`` with ``git.status``), the post-commit hook's comparison of
a snapshot with a commit, ``lineage diff``'s ``git diff --stat`` and ``lineage init``'s
``.gitignore`` entries. Matching is a few string operations per path (the dirty check is on the
hot path of ``lineage run``); nothing here imports mlflow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lineage.adapters.mlflow_uri import MlflowStores

STORE_FILES = frozenset({"mlflow.db"})  # file names, in any directory
STORE_DIRECTORIES = frozenset({"mlruns", "mlartifacts"})  # directory names, anywhere
# W&B's directory: only what W&B writes in it is a store (a package may be named wandb too).
WANDB_DIRECTORY = "wandb"
WANDB_RUN_PREFIXES = ("run-", "offline-run-", "sweep-")  # run and sweep directories
DVC_DIRECTORY = ".dvc"
DVC_STORES = frozenset({"cache", "tmp"})  # directories inside a .dvc directory
# SQLite keeps these beside a database while writing (rollback journal, WAL and its index).
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")

# What `lineage init` offers to add to the top-level .gitignore: the stores any run may create,
# wherever it is started (an unanchored pattern matches in every directory).
# W&B's are spelt entry by entry: a bare `wandb/` would also ignore a package of code named wandb.
GITIGNORE_ENTRIES = (
    "mlflow.db",
    "mlruns/",
    "mlartifacts/",
    "**/wandb/run-*/",
    "**/wandb/offline-run-*/",
    "**/wandb/sweep-*/",
    "**/wandb/latest-run",
    "**/wandb/debug*.log",
)
DVC_GITIGNORE_ENTRIES = (".dvc/cache/", ".dvc/tmp/")


@dataclass(frozen=True)
class ToolStores:
    """The tool stores of one repository: the fixed names above, plus the local stores its
    MLflow URIs name (repository-relative paths)."""

    named: frozenset[str] = frozenset()

    @classmethod
    def of(cls, root: Path, mlflow: MlflowStores, more_uris: Iterable[str] = ()) -> ToolStores:
        """The stores of the repository at ``root``, with the tracking store and registry
        ``mlflow`` names (and any other URIs, e.g. those recorded with runs) where they lie
        inside it."""
        named: set[str] = set()
        for uri in (mlflow.tracking, mlflow.registry, *more_uris):
            inside = _inside(root, _local_store(uri))
            if inside is not None:
                named.add(inside)
        return cls(frozenset(named))

    def holds(self, path: str) -> bool:
        """Whether a repository-relative path (git's spelling) is a tool's store or inside one."""
        parts = path.split("/")
        if _without_companion(parts[-1]) in STORE_FILES:
            return True
        for i, part in enumerate(parts):
            if part in STORE_DIRECTORIES:
                return True
            if part == WANDB_DIRECTORY and _wandb_store(parts[i + 1 : i + 2]):
                return True
            if part == DVC_DIRECTORY and i + 1 < len(parts) and parts[i + 1] in DVC_STORES:
                return True
        return bool(self.named) and self._named(path)

    def _named(self, path: str) -> bool:
        bare = _without_companion(path)
        return any(
            candidate == store or candidate.startswith(f"{store}/")
            for store in self.named
            for candidate in (path, bare)
        )

    def split(self, paths: Iterable[str]) -> tuple[list[str], list[str]]:
        """``paths`` divided into (not stores, stores), each in the given order."""
        kept: list[str] = []
        stores: list[str] = []
        for path in paths:
            (stores if self.holds(path) else kept).append(path)
        return kept, stores

    def exclude_pathspecs(self) -> list[str]:
        """Git pathspecs that leave every one of these stores out of a command's paths (``git
        diff``): the names :meth:`holds` matches, at any depth."""
        files = [
            f"{name}{suffix}" for name in sorted(STORE_FILES) for suffix in ("", *SQLITE_COMPANIONS)
        ]
        specs = [f":(exclude,glob)**/{name}" for name in files]
        specs += [f":(exclude,glob)**/{name}/**" for name in sorted(STORE_DIRECTORIES)]
        specs += [
            f":(exclude,glob)**/{WANDB_DIRECTORY}/{prefix}*/**" for prefix in WANDB_RUN_PREFIXES
        ]
        specs += [f":(exclude,glob)**/{WANDB_DIRECTORY}/{name}" for name in _WANDB_FILE_GLOBS]
        specs += [f":(exclude,glob)**/{DVC_DIRECTORY}/{name}/**" for name in sorted(DVC_STORES)]
        for store in sorted(self.named):
            specs += [f":(exclude,literal){store}{suffix}" for suffix in ("", *SQLITE_COMPANIONS)]
        return specs

    def gitignore_entries(self, *, dvc: bool) -> list[str]:
        """The top-level ``.gitignore`` lines that keep these stores out of Git: the fixed
        names, DVC's when there is a DVC project, and an anchored line for a store the MLflow
        URIs name that the fixed names do not already cover."""
        entries = list(GITIGNORE_ENTRIES)
        if dvc:
            entries.extend(DVC_GITIGNORE_ENTRIES)
        fixed = ToolStores()
        entries.extend(f"/{store}" for store in sorted(self.named) if not fixed.holds(store))
        return entries


_WANDB_FILE_GLOBS = ("latest-run", "debug*.log")


def _wandb_store(rest: list[str]) -> bool:
    """Whether what follows a ``wandb`` directory in a path is W&B's: the directory itself
    (``wandb/``, as git lists a wholly untracked one), a run or sweep directory, the
    ``latest-run`` link or a ``debug*.log`` link. ``wandb/settings`` (W&B's project settings,
    sometimes committed) and a package's modules are not."""
    if not rest or not rest[0]:
        return True
    name = rest[0]
    return (
        name.startswith(WANDB_RUN_PREFIXES)
        or name == "latest-run"
        or (name.startswith("debug") and name.endswith(".log"))
    )


def shown_entries(entries: Sequence[str]) -> str:
    """``.gitignore`` entries as a sentence names them: W&B's patterns as one item."""
    wandb = [e for e in entries if e.startswith(f"**/{WANDB_DIRECTORY}/")]
    shown = [e for e in entries if e not in wandb]
    if wandb:
        shown.append(f"W&B's run files under wandb/ ({len(wandb)} patterns)")
    return ", ".join(shown)


def gitignore_probe(entry: str) -> str:
    """A path a ``.gitignore`` entry matches, to ask git whether a rule decides it already:
    ``**/wandb/run-*/`` is probed as ``wandb/run-0/``."""
    return entry.lstrip("/").removeprefix("**/").replace("*", "0")


def _without_companion(name: str) -> str:
    for suffix in SQLITE_COMPANIONS:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _local_store(uri: str) -> str | None:
    """The file or directory of a local store (a SQLite file, a file store), else None."""
    # Here, not at the top: git.py imports this module on the hooks' path, and most of what
    # they ask (holds) needs no URI grammar.
    from lineage.adapters.mlflow_uri import local_path, sqlite_path

    if uri.startswith("sqlite:///"):
        return sqlite_path(uri)
    return local_path(uri)


def _inside(root: Path, path: str | None) -> str | None:
    """``path`` relative to ``root`` in git's spelling, when it lies inside (and is not) it."""
    if not path:
        return None
    # Both sides resolved: a store reached through a symlinked directory is still inside.
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
    if relative == "." or relative == ".." or relative.startswith(f"..{os.sep}"):
        return None
    return relative.replace(os.sep, "/")
