"""Finding the runs a recorded command made, wherever they went, or saying which were missed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.project import Project, new_project
from tests.layouts import wine

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

VANISHING = """
import os, mlflow
mlflow.set_tracking_uri("sqlite:///scratch.db")
with mlflow.start_run():
    mlflow.log_metric("m", 1.0)
os.remove("scratch.db")
"""

BREAKING = """
import mlflow
mlflow.set_tracking_uri("sqlite:///scratch.db")
with mlflow.start_run():
    mlflow.log_metric("m", 1.0)
open("scratch.db", "wb").write(b"overwritten " * 100)
"""

WITH_A_MODEL = """
import mlflow
from sklearn.linear_model import LinearRegression
with mlflow.start_run():
    mlflow.sklearn.log_model(LinearRegression().fit([[0], [1]], [0, 1]), name="model")
"""

HIDDEN = """
  hidden:
    parameters:
      alpha: {type: float, default: 0.3}
    command: "env -u LINEAGE_SESSION -u LINEAGE_SESSION_DIR python train.py {alpha}"
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = new_project(tmp_path)
    wine.write(p.repo)
    (p.repo / "MLproject").write_text(wine.MLPROJECT + HIDDEN)
    (p.repo / "vanishing.py").write_text(VANISHING)
    (p.repo / "with_model.py").write_text(WITH_A_MODEL)
    (p.repo / "breaking.py").write_text(BREAKING)
    (p.repo / ".gitignore").write_text("mlruns/\nscratch.db\n")
    p.lineage("init")
    p.commit_all("project")
    return p


def test_a_store_that_is_gone_before_read_back_is_named(project: Project) -> None:
    result = project.lineage("run", "--", "python", "vanishing.py")
    assert (
        f"1 run(s) started there could not be found in the MLflow store "
        f"sqlite:///{project.repo}/scratch.db (deleted since, or the store moved); the command "
        "was recorded without them" in result.stderr
    )
    assert project.json("log")[0]["run"].startswith("local-")


def test_a_store_that_cannot_be_read_back_is_named_with_why_and_what_to_do(
    project: Project,
) -> None:
    result = project.lineage("run", "--", "python", "breaking.py")
    store = project.repo / "scratch.db"
    assert (
        f"lineage: warning: the MLflow store sqlite:///{store} could not be read back (the "
        f"MLflow tracking store sqlite:///{store} cannot be used: {store} is not a SQLite "
        "database; check MLFLOW_TRACKING_URI); 1 run(s) started there were not recorded: check "
        "the store can be read from here, then import them with `lineage import mlflow`\n"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert project.json("log")[0]["run"].startswith("local-")


def test_a_logged_model_asks_for_tags_too_but_is_no_missing_run(project: Project) -> None:
    # MLflow asks the plugin for tags to start the run and again to create the LoggedModel.
    result = project.lineage("run", "--", "python", "with_model.py")
    assert "could not be found" not in result.stderr
    assert "warning" not in result.stderr
    assert not project.json("log")[0]["run"].startswith("local-")


def test_an_entry_point_that_ran_without_the_plugin_is_found_by_its_start(
    project: Project,
) -> None:
    # Stands for an environment manager's environment without lineage in it: the entry point
    # gets no session, so it leaves no note, and the run carries no lineage tag of its own.
    result = project.lineage("run", "--", "mlflow", "run", ".", "-e", "hidden",
                             "--env-manager", "local")  # fmt: skip
    runs = project.json("log")
    (recorded,) = runs
    assert not recorded["run"].startswith("local-")
    assert "the entry point ran without lineage's MLflow plugin" in result.stderr
    assert f"run {recorded['run']} was found as the only MLflow Project run" in result.stderr
    record = project.json("show", recorded["run"])["record"]
    assert record["project"]["entry_point"] == "hidden"
    assert record["project"]["parameters"] == {"alpha": "0.3"}
    assert record["models"] == [{"name": "wine-model", "version": 1}]
    tags = project.python(
        "import mlflow, json; print(json.dumps(mlflow.MlflowClient().get_run("
        f"'{recorded['run']}').data.tags))"
    )
    assert '"lineage.session"' in tags
