"""A recording session: the id and directory `lineage run` shares with the processes it starts.

Inside the child, lineage's MLflow plugin (``lineage/mlflow_plugin.py``) tags every run with the
session id and, once per process, leaves two files in the session directory: a
``started-<pid>`` marker, then ``environment-<pid>.json``, the interpreter's environment.
`lineage run` reads them back: a session that no process marked made no MLflow run, so no
MLflow lookup is needed; the environment file says which packages really ran.

Standard library only: the plugin imports this module inside the user's training process.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MARKER_PREFIX = "started-"
ENVIRONMENT_PREFIX = "environment-"


def marker_name(pid: int) -> str:
    return f"{MARKER_PREFIX}{pid}"


def environment_name(pid: int) -> str:
    return f"{ENVIRONMENT_PREFIX}{pid}.json"


@dataclass(frozen=True)
class Session:
    id: str
    directory: Path

    @classmethod
    def new(cls, lineage_dir: Path) -> Session:
        """A fresh session under ``<git-common-dir>/lineage/sessions/`` (not created yet)."""
        session = uuid.uuid4().hex
        return cls(session, lineage_dir / "sessions" / session)

    def variables(self) -> dict[str, str]:
        """What the child needs to find the session."""
        return {"LINEAGE_SESSION": self.id, "LINEAGE_SESSION_DIR": str(self.directory)}

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def reached_mlflow(self) -> bool:
        """Whether any process of the session reached lineage's MLflow plugin."""
        try:
            with os.scandir(self.directory) as entries:
                return any(e.name.startswith(MARKER_PREFIX) for e in entries)
        except OSError:
            return False

    def environment_files(self) -> Iterator[Path]:
        """The environments the plugin left, one per process, in a stable order."""
        yield from sorted(self.directory.glob(f"{ENVIRONMENT_PREFIX}*.json"))


class MlflowPreloader:
    """Runs ``preload`` (importing MLflow's client) in a thread while the child runs, unless
    the child is quick.

    ``import mlflow`` costs over a second of CPU. Paid while the child trains, it is free. Paid
    for a child that is over at once and never touched MLflow (``lineage run -- true``, a small
    ``dvc repro`` stage, the rerun of one), it competes with lineage's own bookkeeping after
    the child and makes the whole command up to ~0.3 s slower on a 2-core machine. So the
    import starts once the child has run for ``GRACE_S`` or has reached lineage's MLflow plugin
    (its marker in the session directory), whichever comes first.
    """

    POLL_S = 0.05
    GRACE_S = 0.5

    def __init__(self, session: Session, preload: Callable[[], None]) -> None:
        self._session = session
        self._preload = preload
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="lineage-mlflow-preload", daemon=True).start()

    def _watch(self) -> None:
        deadline = time.monotonic() + self.GRACE_S
        while not self._stop.wait(self.POLL_S):
            if time.monotonic() >= deadline or self._session.reached_mlflow():
                self._preload()
                return

    def stop(self) -> None:
        """The child has ended: stop waiting (an import already under way goes on)."""
        self._stop.set()
