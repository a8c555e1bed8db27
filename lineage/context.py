"""What one invocation of lineage works out once, and every command and ``resolve`` shares.

``lineage/cli.py`` builds one :class:`Context` per command line (the hooks build one per hook):
the directory it runs in (``-C``), the environment as it was at start, and from those, each on
first use, the repository's paths, ``.lineage/config.toml`` (defaults when not initialised), the
MLflow tracking store and registry, the record store and the query index. Nothing below the CLI
reads ``os.environ`` or ``Path.cwd()`` for these facts again, so ``lineage -C DIR`` answers
exactly as running inside DIR does.

Everything is lazy: ``--help`` builds nothing, ``lineage log`` never resolves MLflow's stores,
and only a command that asks for the index opens it. ``close()`` (or ``with``) closes it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lineage.errors import LineageError, NotInitializedError

if TYPE_CHECKING:
    from lineage.adapters.git import RepoPaths
    from lineage.adapters.mlflow_uri import MlflowStores
    from lineage.adapters.store import Store
    from lineage.config import Config
    from lineage.index import Index
    from lineage.records import Provenance

Warn = Callable[[str], None]


def _ignore(_: str) -> None:
    pass


class Context:
    """One invocation: where it runs, its environment, and what follows from them."""

    # Whether opening the index first clears what killed lineage processes left
    # (lineage/cleanup.py): the CLI's commands do, the hooks and a rerun's context do not.
    tidy = False

    def __init__(
        self,
        cwd: Path,
        environ: Mapping[str, str],
        *,
        paths: RepoPaths | None = None,
        config: Config | None = None,
        mlflow: MlflowStores | None = None,
        warn: Warn = _ignore,
        tidy: bool = False,
    ) -> None:
        self.cwd = cwd
        self.environ = environ
        self.warn = warn
        if tidy:
            self.tidy = True
        # Given values take the place of what would be worked out (cached_property reads the
        # instance dictionary first).
        for name, value in (("paths", paths), ("config", config), ("mlflow", mlflow)):
            if value is not None:
                self.__dict__[name] = value

    @cached_property
    def paths(self) -> RepoPaths:
        """The repository around ``cwd``."""
        from lineage.adapters import git

        if not self.cwd.is_dir():
            raise LineageError(
                f"{git.shown_path(self.cwd)} is not a directory; check the path given to -C"
            )
        return git.discover(self.cwd)

    @cached_property
    def initialized(self) -> bool:
        """Whether ``lineage init`` wrote ``.lineage/config.toml`` here."""
        from lineage import config

        return config.is_initialized(self.paths.root)

    @cached_property
    def config(self) -> Config:
        """The repository's configuration, or the defaults where lineage is not set up."""
        from lineage import config

        return config.load(self.paths.root, self.warn) if self.initialized else config.Config()

    def require_initialized(self) -> Config:
        """The configuration of a repository where ``lineage init`` ran; raises otherwise."""
        if not self.initialized:
            raise NotInitializedError(str(self.paths.root))
        return self.config

    def require_writable(self) -> None:
        """Before a command that records anything: lineage's directory and Git's objects and
        refs must take writes (a read-only mount, a CI cache), said before anything runs."""
        from lineage.writable import check_lineage_dir, directory_problem, full_problem, shown

        common = self.paths.common_dir
        check_lineage_dir(self.paths.lineage_dir)
        for directory in (self.paths.lineage_dir, common / "objects", common / "refs"):
            problem = directory_problem(directory)
            if problem is not None:
                raise LineageError(
                    f"cannot record: {problem}; make {shown(common)} writable and run the "
                    "command again (nothing was run)"
                )
            full = full_problem(directory) if directory.exists() else None
            if full is not None:
                raise LineageError(
                    f"cannot record: {full}; free some space there and run the command again "
                    "(nothing was run)"
                )

    @cached_property
    def mlflow(self) -> MlflowStores:
        """The MLflow tracking store and model registry, as MLflow would pick them in ``cwd``."""
        from lineage.adapters.mlflow_uri import MlflowStores

        return MlflowStores.resolve(self.environ, self.cwd)

    @cached_property
    def store(self) -> Store:
        from lineage.adapters.store import Store

        return Store(self.paths)

    @cached_property
    def index(self) -> Index:
        """The query index, level with the store (opened on first use, closed by close())."""
        from lineage.index import open_index

        if self.tidy:  # the commands, never the hooks: see lineage/cleanup.py
            from lineage.cleanup import tidy

            try:
                for message in tidy(self):
                    self.warn(message)
            except (LineageError, OSError) as exc:  # never in the way of the command itself
                self.warn(
                    f"could not clear what a killed lineage process left in "
                    f"{self.paths.lineage_dir} ({exc}); the next command tries again"
                )
        index = open_index(self.store)
        for note in index.notes:
            self.warn(note)
        for record_id, reason in index.corrupt:
            self.warn(skipped_record(record_id, reason))
        return index

    @cached_property
    def identity(self) -> tuple[str, str]:
        """The git identity (name, email) records written here are attributed to: the one
        the store's commits carry (asked of git once)."""
        return self.store.identity

    def provenance(self) -> Provenance:
        """Who writes a record now, when, and with which lineage."""
        from lineage import __version__
        from lineage.clock import iso, utc_now
        from lineage.records import Provenance

        name, email = self.identity
        return Provenance(at=iso(utc_now()), name=name, email=email, tool=f"lineage {__version__}")

    @property
    def statcache_path(self) -> Path:
        """The md5 cache of workspace files (``dvc_hash.StatCache``), shared by worktrees."""
        return self.paths.lineage_dir / "statcache.sqlite"

    def derive(self, *, cwd: Path, environ: Mapping[str, str], paths: RepoPaths) -> Context:
        """A context for another checkout of the same repository (a reproduction's worktree):
        the same configuration, MLflow stores and warnings; its own paths, directory,
        environment and index."""
        return Context(
            cwd, environ, paths=paths, config=self.config, mlflow=self.mlflow, warn=self.warn
        )

    def close(self) -> None:
        index = self.__dict__.pop("index", None)
        if index is not None:
            index.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def skipped_record(record_id: str, reason: str) -> str:
    """The warning for a record every reader skips: a corrupted blob has a good copy somewhere;
    an invalid record is intact under its name, so it stays in the append-only store, ignored."""
    from lineage.record_schema import INVALID

    if reason.startswith(INVALID):
        return (
            f"record {record_id[:12]} in refs/lineage/records was skipped ({reason}); it stays "
            "in the store, ignored by every command (see docs/records.md#invalid-records)"
        )
    return (
        f"record {record_id[:12]} in refs/lineage/records is corrupted ({reason}) and was "
        "skipped; fetch a good copy from a clone that has it"
    )
