"""A SQLite registry read directly: the same answers as MlflowClient at every alembic revision
lineage knows, and None (ask the client) for anything else."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion
from mlflow.exceptions import MlflowException

from lineage.adapters.mlflow_registry import version_sources
from lineage.adapters.mlflow_sqlite import KNOWN_REVISIONS, SqliteRegistry, open_registry
from lineage.adapters.mlflow_sqlite import version_sources as read_directly
from lineage.adapters.mlflow_uri import MlflowStores
from lineage.model_version import ModelVersion

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

# The head before MLflow 3.0.0's (logged models, MLflow 2.21/2.22): a store lineage does not read.
OLDER = "400f98739977"
WORKSPACES_FROM = "1b5f0d9ad7c1"  # the migration that adds the workspace column
REGISTRY_TABLES = (
    "registered_models",
    "model_versions",
    "registered_model_aliases",
    "model_version_tags",
    "registered_model_tags",
)


@contextlib.contextmanager
def reading(uri: str, environ: dict[str, str] | None = None) -> Iterator[SqliteRegistry]:
    registry = open_registry(uri, environ or {})
    assert registry is not None, f"{uri} was not read directly"
    with contextlib.closing(registry):
        yield registry


# At the head revision: every answer compared with the client's


@dataclass(frozen=True)
class Filled:
    uri: str
    runs: tuple[str, ...]  # the runs that made churn-model v1-3 and v5


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    """churn-model v1-5 registered through MlflowClient: v4 from a path (no run), v2 deleted
    after `old` pointed at it; champion -> 3, staging -> 1. fraud has no versions."""
    root = tmp_path_factory.mktemp("filled")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("churn", artifact_location=str(root / "artifacts"))
    client.create_registered_model("churn-model")
    client.create_registered_model("fraud")
    runs = []
    for version in range(1, 6):
        if version == 4:
            client.create_model_version("churn-model", source=str(root / "artifacts"))
            continue
        run = client.create_run(experiment).info.run_id
        client.create_model_version("churn-model", source=f"runs:/{run}/model", run_id=run)
        runs.append(run)
    client.set_registered_model_alias("churn-model", "old", "2")
    client.delete_model_version("churn-model", "2")  # its row stays, marked Deleted_Internal
    client.set_registered_model_alias("churn-model", "champion", "3")
    client.set_registered_model_alias("churn-model", "staging", "1")
    return Filled(uri, tuple(runs))


def _client_answer(
    lookup: Callable[..., MlflowModelVersion], *args: str
) -> tuple[ModelVersion, str | None] | None:
    try:
        mv = lookup(*args)
    except MlflowException as exc:
        assert exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"), exc
        return None
    return ModelVersion(mv.name, int(mv.version)), mv.run_id or None


def _client_aliases(client: MlflowClient, name: str) -> dict[str, int] | None:
    try:
        model = client.get_registered_model(name)
    except MlflowException:
        return None
    return {alias: int(version) for alias, version in model.aliases.items()}


@pytest.mark.parametrize("name", ["churn-model", "fraud", "churn", "Churn-Model"])
def test_every_answer_is_the_clients(filled: Filled, name: str) -> None:
    client = MlflowClient(filled.uri)

    with reading(filled.uri) as direct:
        assert direct.aliases(name) == _client_aliases(client, name)
        assert direct.versions(name) == sorted(
            int(v.version) for v in client.search_model_versions(f"name = '{name}'")
        )
        for version in range(7):
            assert direct.by_version(name, version) == _client_answer(
                client.get_model_version, name, str(version)
            ), version
        for alias in ("champion", "staging", "old", "prod"):
            assert direct.by_alias(name, alias) == _client_answer(
                client.get_model_version_by_alias, name, alias
            ), alias


def test_the_model_list_and_the_versions_made_by_runs_are_the_clients(filled: Filled) -> None:
    client = MlflowClient(filled.uri)

    with reading(filled.uri) as direct:
        assert direct.model_names() == [m.name for m in client.search_registered_models()]
        by_client = {
            (ModelVersion(v.name, int(v.version)), v.run_id, v.creation_timestamp)
            for v in client.search_model_versions()
            if v.run_id
        }
        assert set(direct.sources()) == by_client
    assert {v for v, _, _ in by_client} == {ModelVersion("churn-model", n) for n in (1, 3, 5)}
    assert set(version_sources(MlflowStores(filled.uri, filled.uri))) == by_client


def test_what_it_does_not_know_is_left_to_the_client(filled: Filled, tmp_path: Path) -> None:
    assert open_registry(filled.uri, {"MLFLOW_WORKSPACE": "team-a"}) is None
    assert read_directly(filled.uri, {"MLFLOW_WORKSPACE": "team-a"}) is None
    assert open_registry(f"sqlite:///{tmp_path / 'none.db'}", {}) is None
    assert not (tmp_path / "none.db").exists()
    assert open_registry("http://127.0.0.1:5000", {}) is None
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database\n" * 100)
    assert open_registry(f"sqlite:///{garbage}", {}) is None
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as db, db:
        db.execute("CREATE TABLE model_versions(name TEXT, version INTEGER)")
    assert open_registry(f"sqlite:///{other}", {}) is None


# Every revision lineage knows, built by MLflow's own alembic migrations


def _build_at(root: Path, revisions: list[str]) -> dict[str, Path]:
    """A database upgraded with MLflow's migration scripts one revision at a time, as
    mlflow.store.db.utils._initialize_tables does, with a copy kept at each revision."""
    import sqlalchemy
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase

    logging.getLogger("alembic").setLevel(logging.WARNING)
    db = root / "building.db"
    url = f"sqlite:///{db}"
    engine = sqlalchemy.create_engine(url)
    InitialBase.metadata.create_all(engine)
    config = _get_alembic_config(url)
    copies = {}
    for revision in revisions:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        copies[revision] = Path(shutil.copy(db, root / f"{revision}.db"))
    engine.dispose()
    return copies


@pytest.fixture(scope="module")
def at_revision(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An empty MLflow database at OLDER and at each of KNOWN_REVISIONS (~20 s to build)."""
    return _build_at(tmp_path_factory.mktemp("revisions"), [OLDER, *KNOWN_REVISIONS])


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}


def _fill(path: Path) -> None:
    """churn v1 (run r1) @champion, v2 deleted, v3 from a path; fraud with no versions; and,
    where the layout has workspaces, a model and an alias in another workspace."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        workspaces = "workspace" in _columns(db, "model_versions")
        spaces = ["default", "team-a"] if workspaces else ["default"]
        for space in spaces:
            extra, mark = (", workspace", ", ?") if workspaces else ("", "")
            where = (space,) if workspaces else ()
            names = ["churn", "fraud"] if space == "default" else ["churn", "team-only"]
            for name in names:
                db.execute(
                    f"INSERT INTO registered_models (name, creation_time, last_updated_time"
                    f"{extra}) VALUES (?, 1, 1{mark})",
                    (name, *where),
                )
            versions = (
                [
                    (1, "r1", "READY", "None"),
                    (2, "r2", "READY", "Deleted_Internal"),
                    (3, None, "READY", "None"),
                ]
                if space == "default"
                else [(9, "r9", "READY", "None")]
            )
            for version, run, status, stage in versions:
                db.execute(
                    "INSERT INTO model_versions (name, version, creation_time, "
                    "last_updated_time, current_stage, source, run_id, status"
                    f"{extra}) VALUES ('churn', ?, ?, ?, ?, 's', ?, ?{mark})",
                    (version, 1000 + version, 1000 + version, stage, run, status, *where),
                )
            alias_version = 1 if space == "default" else 9
            db.execute(
                f"INSERT INTO registered_model_aliases (alias, version, name{extra}) "
                f"VALUES ('champion', ?, 'churn'{mark})",
                (alias_version, *where),
            )


@pytest.mark.parametrize("revision", KNOWN_REVISIONS)
def test_every_known_revision_is_read_directly(
    at_revision: dict[str, Path], revision: str, tmp_path: Path
) -> None:
    path = Path(shutil.copy(at_revision[revision], tmp_path / "mlflow.db"))
    _fill(path)

    with reading(f"sqlite:///{path}") as direct:
        assert direct.by_alias("churn", "champion") == (ModelVersion("churn", 1), "r1")
        assert direct.by_version("churn", 1) == (ModelVersion("churn", 1), "r1")
        assert direct.by_version("churn", 2) is None  # deleted
        assert direct.by_version("churn", 3) == (ModelVersion("churn", 3), None)
        assert direct.by_version("churn", 9) is None  # another workspace's
        assert direct.aliases("churn") == {"champion": 1}
        assert direct.aliases("fraud") == {}
        assert direct.aliases("team-only") is None
        assert direct.model_names() == ["churn", "fraud"]
        assert direct.versions("churn") == [1, 3]
        assert direct.versions("fraud") == []
        assert direct.sources() == [(ModelVersion("churn", 1), "r1", 1001)]


def test_the_registry_tables_change_shape_only_where_the_reader_expects(
    at_revision: dict[str, Path],
) -> None:
    """Between the known revisions the registry tables gain one column, `workspace`, at
    1b5f0d9ad7c1; the reader scopes its queries to the default workspace from there on."""
    shapes = {}
    for revision in KNOWN_REVISIONS:
        with contextlib.closing(sqlite3.connect(at_revision[revision])) as db:
            shapes[revision] = {table: _columns(db, table) for table in REGISTRY_TABLES}
    first = shapes[KNOWN_REVISIONS[0]]
    split = KNOWN_REVISIONS.index(WORKSPACES_FROM)
    for revision in KNOWN_REVISIONS:
        expected = (
            {table: columns | {"workspace"} for table, columns in first.items()}
            if KNOWN_REVISIONS.index(revision) >= split
            else first
        )
        assert shapes[revision] == expected, revision


def test_known_revisions_are_the_chain_mlflow_ships_from_3_0_to_the_installed_head() -> None:
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    scripts = ScriptDirectory.from_config(_get_alembic_config("sqlite://"))
    chain = []
    revision: str | None = scripts.get_current_head()
    while revision is not None and revision != OLDER:
        chain.append(revision)
        down = scripts.get_revision(revision).down_revision
        assert isinstance(down, str | None), "a merge revision: read its branches by hand"
        revision = down

    assert tuple(reversed(chain)) == KNOWN_REVISIONS


@pytest.mark.parametrize("revision", [OLDER, "ffffffffffff", None])
def test_a_revision_lineage_does_not_know_is_left_to_the_client(
    at_revision: dict[str, Path], revision: str | None, tmp_path: Path
) -> None:
    path = Path(shutil.copy(at_revision[KNOWN_REVISIONS[0]], tmp_path / "mlflow.db"))
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        if revision is None:
            db.execute("DROP TABLE alembic_version")
        else:
            db.execute("UPDATE alembic_version SET version_num = ?", (revision,))

    assert open_registry(f"sqlite:///{path}", {}) is None
    assert read_directly(f"sqlite:///{path}", {}) is None


# Which path answered, in a fresh process as the CLI runs it

RESOLVE = """\
import json, sys
from lineage.adapters.mlflow_registry import resolve_model
from lineage.adapters.mlflow_uri import MlflowStores
from lineage.errors import LineageError
stores = MlflowStores(sys.argv[1], sys.argv[1])
try:
    version, run_id = resolve_model(stores, "churn", alias="champion")
    answer = [str(version), run_id]
except LineageError as exc:
    answer = str(exc)
print(json.dumps({"answer": answer, "mlflow_imported": "mlflow" in sys.modules}))
"""


def _resolve_in_a_fresh_process(path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", RESOLVE, f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout))


def test_a_known_revision_answers_without_importing_mlflow(
    at_revision: dict[str, Path], tmp_path: Path
) -> None:
    path = Path(shutil.copy(at_revision[KNOWN_REVISIONS[0]], tmp_path / "mlflow.db"))
    _fill(path)

    assert _resolve_in_a_fresh_process(path) == {
        "answer": ["churn/1", "r1"],
        "mlflow_imported": False,
    }


def test_an_older_revision_is_answered_by_the_client(
    at_revision: dict[str, Path], tmp_path: Path
) -> None:
    path = Path(shutil.copy(at_revision[OLDER], tmp_path / "mlflow.db"))
    _fill(path)

    assert _resolve_in_a_fresh_process(path) == {
        "answer": ["churn/1", "r1"],
        "mlflow_imported": True,
    }
