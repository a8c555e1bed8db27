"""A SQLite model registry read directly, read-only, where MLflow's client would cost a second
and a half to import and open, and another second to check the schema.

Only a database whose alembic revision is in ``KNOWN_REVISIONS`` is read: at those revisions the
registry tables have the layout the SQL below reads. Anything else (an older or newer MLflow, a
missing or garbage file, ``MLFLOW_WORKSPACE`` set) gets None from ``open_registry``, and the
caller asks MlflowClient instead, which then says what is wrong in its own words.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Mapping

from lineage.adapters.mlflow_uri import sqlite_path
from lineage.errors import TrackingUnreachableError
from lineage.model_version import ModelVersion
from lineage.redact import redact_uri

# The alembic heads of the MLflow releases lineage supports (pyproject: mlflow>=3.0), oldest
# first: the down_revision chain of mlflow/store/db_migrations/versions/ in mlflow 3.17.2, from
# 6953534de441 (the head MLflow 3.0.0 shipped; the next one, bda7b8c39065, came with PR #16377
# after 3.0.0) up to 3.17's head. Kept literal rather than read from mlflow's files, which would
# mean importing mlflow. Of these migrations only two touch the registry tables' shape:
# bda7b8c39065 (model_version_tags.value becomes TEXT) and 1b5f0d9ad7c1 (a ``workspace`` column,
# part of the primary key, on registered_models, model_versions, registered_model_aliases and
# both tag tables); 7d34483879f0 only adds an index. Add a new MLflow release's head here once
# tests/adapters/test_mlflow_sqlite.py passes with it.
KNOWN_REVISIONS: tuple[str, ...] = (
    "6953534de441",  # 3.0.0
    "bda7b8c39065",
    "cbc13b556ace",
    "770bee3ae1dd",
    "a1b2c3d4e5f6",
    "de4033877273",
    "1a0cddfcaa16",
    "534353b11cbc",
    "71994744cf8e",
    "3da73c924c2f",
    "bf29a5ff90ea",
    "1bd49d398cd23",
    "b7c8d9e0f1a2",
    "5d2d30f0abce",
    "c9d4e5f6a7b8",
    "2c33131f4dae",
    "d3e4f5a6b7c8",
    "d0e1f2a3b4c5",
    "c8d9e0f1a2b3",
    "1b5f0d9ad7c1",  # adds the workspace column
    "e1f2a3b4c5d6",
    "76601a5f987d",
    "c3d6457b6d8a",
    "a5b4c3d2e1f0",
    "ae8bbe7743c9",
    "7d34483879f0",
    "da6fb0208061",
    "89d3d66ed43f",
    "b7e4c1a90f23",
    "a8b9c0d1e2f3",
    "c1d2e3f4a5b6",
    "c3d9e7f1a2b4",
    "6f8d9c3b2a1e",
    "1971f2d9a75b",
    "17e22815139b",
    "b7e2c1a4d9f3",
    "75868b020152",
    "dc11669786a5",  # 3.17
)
_WORKSPACE_FROM = KNOWN_REVISIONS.index("1b5f0d9ad7c1")
# mlflow/utils/workspace_utils.py DEFAULT_WORKSPACE_NAME: what the client reads when no
# MLFLOW_WORKSPACE is set.
DEFAULT_WORKSPACE = "default"
# mlflow/entities/model_registry/model_version_stages.py: a deleted version keeps its row.
DELETED_STAGE = "Deleted_Internal"
_BUSY_TIMEOUT_S = 5.0

# A version registered from a run: the version, the run id, when it was registered (ms).
VersionSource = tuple[ModelVersion, str, int | None]


class SqliteRegistry:
    """One read transaction on a registry database at a known revision: every answer within
    it comes from the same snapshot, even while MLflow writes."""

    def __init__(self, db: sqlite3.Connection, uri: str, *, workspaces: bool) -> None:
        self._db = db
        self.uri = uri
        self._workspaces = workspaces

    def close(self) -> None:
        self._db.close()

    def _rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:  # locked past the timeout, corrupted
            raise TrackingUnreachableError(redact_uri(self.uri), f"cannot read it: {exc}") from None

    def _scope(self, table: str) -> str:
        """The rows the client sees with no MLFLOW_WORKSPACE: the default workspace's."""
        return f"{table}.workspace = '{DEFAULT_WORKSPACE}'" if self._workspaces else "1"

    def _live(self, table: str) -> str:
        """The versions the client sees: in scope and not deleted."""
        return (
            f"{self._scope(table)} AND ({table}.current_stage IS NULL "
            f"OR {table}.current_stage != '{DELETED_STAGE}')"
        )

    def by_version(self, name: str, version: int) -> tuple[ModelVersion, str | None] | None:
        """The live version, and the run that made it; None when there is no such version."""
        rows = self._rows(
            "SELECT v.name, v.version, v.run_id FROM model_versions v "
            f"WHERE {self._live('v')} AND v.name = ? AND v.version = ?",
            name,
            version,
        )
        return _version(rows[0]) if rows else None

    def by_alias(self, name: str, alias: str) -> tuple[ModelVersion, str | None] | None:
        """The live version the alias names now, and its run; None when there is none."""
        same_workspace = " AND v.workspace = a.workspace" if self._workspaces else ""
        rows = self._rows(
            "SELECT v.name, v.version, v.run_id FROM registered_model_aliases a "
            f"JOIN model_versions v ON v.name = a.name AND v.version = a.version{same_workspace} "
            f"WHERE {self._scope('a')} AND {self._live('v')} AND a.name = ? AND a.alias = ?",
            name,
            alias,
        )
        return _version(rows[0]) if rows else None

    def aliases(self, name: str) -> dict[str, int] | None:
        """alias -> version, or None when there is no registered model of that name."""
        if not self._rows(
            f"SELECT 1 FROM registered_models m WHERE {self._scope('m')} AND m.name = ?", name
        ):
            return None
        rows = self._rows(
            "SELECT a.alias, a.version FROM registered_model_aliases a "
            f"WHERE {self._scope('a')} AND a.name = ?",
            name,
        )
        return {str(alias): int(str(version)) for alias, version in rows}

    def model_names(self) -> list[str]:
        rows = self._rows(
            f"SELECT m.name FROM registered_models m WHERE {self._scope('m')} ORDER BY m.name"
        )
        return [str(name) for (name,) in rows]

    def versions(self, name: str) -> list[int]:
        rows = self._rows(
            f"SELECT v.version FROM model_versions v WHERE {self._live('v')} AND v.name = ? "
            "ORDER BY v.version",
            name,
        )
        return [int(str(version)) for (version,) in rows]

    def sources(self) -> list[VersionSource]:
        """(version, run id, created ms) for every live version registered from a run."""
        rows = self._rows(
            "SELECT v.name, v.version, v.run_id, v.creation_time FROM model_versions v "
            f"WHERE {self._live('v')} AND v.run_id IS NOT NULL AND v.run_id != ''"
        )
        return [
            (ModelVersion(str(n), int(str(v))), str(r), None if c is None else int(str(c)))
            for n, v, r, c in rows
        ]


def _version(row: tuple[object, ...]) -> tuple[ModelVersion, str | None]:
    name, version, run_id = row
    return ModelVersion(str(name), int(str(version))), (str(run_id) if run_id else None)


def open_registry(uri: str, environ: Mapping[str, str]) -> SqliteRegistry | None:
    """The registry at uri, read directly, or None when it is not one to read directly (the
    caller closes what it gets)."""
    if not uri.startswith("sqlite:///") or environ.get("MLFLOW_WORKSPACE"):
        return None
    path = sqlite_path(uri)
    if path is None or not os.path.isfile(path):
        return None
    try:
        # isolation_level=None: the BEGIN below is ours, so one snapshot serves every query.
        db = sqlite3.connect(
            f"file:{urllib.parse.quote(path)}?mode=ro",
            uri=True,
            timeout=_BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error:
        return None
    try:
        db.execute("BEGIN")
        revision = db.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:  # not a database, no alembic_version, locked: the client will say
        db.close()
        return None
    if len(revision) != 1 or revision[0][0] not in KNOWN_REVISIONS:
        db.close()
        return None
    workspaces = KNOWN_REVISIONS.index(revision[0][0]) >= _WORKSPACE_FROM
    return SqliteRegistry(db, uri, workspaces=workspaces)


def version_sources(uri: str, environ: Mapping[str, str]) -> list[VersionSource] | None:
    """(version, run id, created ms) for every live version registered from a run, or None when
    this registry is not one to read directly."""
    registry = open_registry(uri, environ)
    if registry is None:
        return None
    try:
        return registry.sources()
    finally:
        registry.close()
