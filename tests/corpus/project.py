"""A corpus project: built once per test module, with the environment all its tests share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import sh
from tests.scenarios import hermetic_env


@dataclass
class Project:
    repo: Path
    env: dict[str, str]
    facts: dict[str, Any] = field(default_factory=dict)  # the ground truth the build knows

    def sh(self, *args: str, check: bool = True, **extra: str) -> Any:
        return sh(*args, cwd=self.repo, env={**self.env, **extra}, check=check)

    def lineage(self, *args: str, check: bool = True, **extra: str) -> Any:
        return self.sh("lineage", *args, check=check, **extra)

    def json(self, *args: str) -> Any:
        return self.json_of(*args, "--json")

    def json_of(self, *args: str) -> Any:
        """The JSON a command prints, for those whose flag is not ``--json``."""
        return json.loads(self.lineage(*args).stdout)

    def python(self, code: str) -> str:
        return str(self.sh("python", "-c", code).stdout)

    def commit_all(self, message: str) -> str:
        self.sh("git", "add", "-A")
        self.sh("git", "commit", "-q", "-m", message)
        return str(self.sh("git", "rev-parse", "HEAD").stdout.strip())


def new_project(base: Path, *, own_store: bool = False) -> Project:
    """An empty git repository under ``base`` with a hermetic environment. ``own_store``: leave
    MLFLOW_TRACKING_URI unset, as for a project whose scripts pick their own store."""
    env = hermetic_env(base)
    if own_store:
        env.pop("MLFLOW_TRACKING_URI")
    repo = base / "repo"
    repo.mkdir()
    project = Project(repo, env)
    project.sh("git", "init", "-q")
    return project
