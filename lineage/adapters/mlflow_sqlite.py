"""A SQLite model registry read directly, read-only, where MLflow's client would cost a second
and a half to import and open.

Only what MLflow's table layout has kept since registries began is read (``model_versions``:
name, version, creation_time, current_stage, run_id), and only after checking those columns are
there; anything else (a workspace other than the default, an unknown layout) answers None, and
the caller asks MlflowClient instead.
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

# mlflow/entities/model_registry/model_version_stages.py: a deleted version keeps its row.
DELETED_STAGE = "Deleted_Internal"
_NEEDED = {"name", "version", "creation_time", "current_stage", "run_id"}
_BUSY_TIMEOUT_S = 5.0


def version_sources(
    uri: str, environ: Mapping[str, str]
) -> list[tuple[ModelVersion, str, int | None]] | None:
    """(version, run id, created ms) for every live version registered from a run, or None when
    this registry is not one to read directly."""
    if not uri.startswith("sqlite:///") or environ.get("MLFLOW_WORKSPACE"):
        return None
    path = sqlite_path(uri)
    if path is None or not os.path.exists(path):
        return None
    try:
        db = sqlite3.connect(
            f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S
        )
    except sqlite3.Error:
        return None
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(model_versions)")}
        if not _NEEDED.issubset(columns):
            return None
        workspace = " AND workspace = 'default'" if "workspace" in columns else ""
        rows = db.execute(
            "SELECT name, version, run_id, creation_time FROM model_versions "
            "WHERE run_id IS NOT NULL AND run_id != '' AND "
            f"(current_stage IS NULL OR current_stage != ?){workspace}",
            (DELETED_STAGE,),
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise TrackingUnreachableError(redact_uri(uri), f"cannot read it: {exc}") from None
    finally:
        db.close()
    return [(ModelVersion(str(n), int(v)), str(r), c) for n, v, r, c in rows]
