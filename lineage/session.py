"""A recording session: the id and directory `lineage run` shares with the processes it starts.

Inside the child, lineage's MLflow plugin (``lineage/mlflow_plugin.py``) tags every run with the
session id and leaves files in the session directory for `lineage run` to read back:

* ``started-<pid>``, once per process that reached MLflow: a session no process marked made no
  MLflow run, so no MLflow lookup is needed;
* ``environment-<pid>.json``, the interpreter's environment: which packages really ran;
* ``store-<pid>-<n>.json``, one per run the process started: the tracking store and registry it
  used, so runs are found in a store the script chose itself (``mlflow.set_tracking_uri``), and
  the DVC stage the process ran in (``DVC_STAGE``, which DVC sets for a stage's command);
* ``resumed-<run id>.json``: a run the process resumed through ``MLFLOW_RUN_ID``, as the entry
  point of an MLflow Project does. `mlflow run` creates that run itself, so no run context
  provider is asked about it and it carries no session tag: lineage finds it by id. It names
  the DVC stage too, as its run carries no ``lineage.stage`` tag.

Store URIs are written absolute and without credentials.

Standard library only: the plugin imports this module inside the user's training process.
"""

from __future__ import annotations

import json
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
STORE_PREFIX = "store-"
RESUMED_PREFIX = "resumed-"


def marker_name(pid: int) -> str:
    return f"{MARKER_PREFIX}{pid}"


def environment_name(pid: int) -> str:
    return f"{ENVIRONMENT_PREFIX}{pid}.json"


def store_name(pid: int, n: int) -> str:
    return f"{STORE_PREFIX}{pid}-{n}.json"


def resumed_name(run_id: str) -> str:
    return f"{RESUMED_PREFIX}{run_id}.json"


@dataclass(frozen=True)
class StoreUse:
    """Where a process of the session kept a run: None means the store lineage gave it."""

    tracking: str | None
    registry: str | None
    # MLflow asks for a run's tags from `start_run`, and also for a logged model's and a
    # trace's: only the first is a run that must be found (the store is worth a look for all).
    run: bool = True
    # The DVC stage the process ran in, as DVC spells it for its own working directory.
    stage: str | None = None

    def to_json(self) -> str:
        doc = {"tracking": self.tracking, "registry": self.registry, "run": self.run}
        return json.dumps({**doc, "stage": self.stage} if self.stage else doc)

    @classmethod
    def from_json(cls, text: str) -> StoreUse:
        doc = json.loads(text)
        tracking, registry, stage = doc.get("tracking"), doc.get("registry"), doc.get("stage")
        return cls(
            tracking if isinstance(tracking, str) and tracking else None,
            registry if isinstance(registry, str) and registry else None,
            doc.get("run") is not False,
            stage if isinstance(stage, str) and stage else None,
        )


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

    def started_runs(self) -> list[StoreUse]:
        """One entry per time MLflow asked a process of the session for tags (each run it
        started, and logged models and traces: ``StoreUse.run`` tells), with the store used."""
        return [use for _, use in self._read(STORE_PREFIX)]

    def stages_seen(self) -> set[str]:
        """The DVC stages (``DVC_STAGE``) processes of the session ran MLflow in."""
        uses = [*self.started_runs(), *self.resumed_runs().values()]
        return {use.stage for use in uses if use.stage}

    def resumed_runs(self) -> dict[str, StoreUse]:
        """Run id -> store, for every run a process resumed through ``MLFLOW_RUN_ID``."""
        return {
            name[len(RESUMED_PREFIX) : -len(".json")]: use
            for name, use in self._read(RESUMED_PREFIX)
        }

    def _read(self, prefix: str) -> list[tuple[str, StoreUse]]:
        found = []
        for path in sorted(self.directory.glob(f"{prefix}*.json")):
            try:
                found.append((path.name, StoreUse.from_json(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, AttributeError):
                continue  # half-written by a killed process: the run is looked for by tag
        return found


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
