"""MLflow's sklearn_elasticnet_wine run with a plain `mlflow run`, before lineage was installed
(tests/layouts/wine.py): `lineage import mlflow` rebuilds each `mlflow run` command from the
entry point MLflow tagged, the run's params and the MLproject at the run's commit."""

from __future__ import annotations

import json

import pytest

from tests.corpus.project import Project, new_project
from tests.layouts import wine

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

RUNS = """
import json, mlflow
runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
print(json.dumps({r.data.tags.get("mlflow.project.entryPoint"): r.info.run_id for r in runs}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = new_project(tmp_path_factory.mktemp("wine-import"))
    wine.write(p.repo)
    (p.repo / ".gitignore").write_text("mlruns/\n")
    p.sh("dvc", "init", "-q")
    p.sh("dvc", "add", "-q", "data/wine.csv")
    p.facts["commit"] = p.commit_all("Wine quality project")
    p.facts["data_md5"] = (p.repo / "data/wine.csv.dvc").read_text().split("md5: ")[1][:32]
    # Before lineage: MLflow alone, as the team ran it.
    p.sh("mlflow", "run", ".", "--env-manager", "local", "-P", "alpha=0.3")
    p.sh("mlflow", "run", ".", "-e", "validate", "--env-manager", "local", "-P", "min_rows=5")
    p.facts["runs"] = json.loads(p.python(RUNS))
    p.lineage("init")
    # The registered version's run, and every run of the experiment (validate registers none).
    p.facts["import"] = p.json("import", "mlflow", "--experiment", "Default")
    return p


def test_the_mlflow_run_command_is_rebuilt_from_what_mlflow_kept(project: Project) -> None:
    main = project.json("show", project.facts["runs"]["main"])["record"]
    assert main["evidence"] == "inferred"
    assert main["code"]["commit"] == project.facts["commit"]
    assert main["project"]["entry_point"] == "main"
    assert main["project"]["parameters"] == {"alpha": "0.3", "l1_ratio": "0.1"}
    assert main["project"]["env_manager"] == "local"  # no mlflow.project.env tag: local
    assert main["command"]["argv"] == [
        "mlflow", "run", ".", "-e", "main",
        "-P", "alpha=0.3", "-P", "l1_ratio=0.1", "--env-manager", "local",
    ]  # fmt: skip
    assert not main["command"].get("arguments_unknown")
    assert [(d["path"], d["md5"]) for d in main["inputs"]] == [
        ("data/wine.csv", project.facts["data_md5"])
    ]

    validate = project.json("show", project.facts["runs"]["validate"])["record"]
    assert validate["project"]["parameters"] == {"data": "data/wine.csv", "min_rows": "5"}


def test_the_version_the_project_registered_is_linked_to_its_run(project: Project) -> None:
    shown = project.json("show", "wine-model/1")
    assert shown["record"]["run"]["run_id"] == project.facts["runs"]["main"]
    impact = project.json("impact", "data/wine.csv")
    assert [(m["name"], m["version"]) for m in impact["models"]] == [("wine-model", 1)]


def test_a_second_import_adds_nothing(project: Project) -> None:
    again = project.json("import", "mlflow", "--experiment", "Default")
    assert (again["written"], again["unchanged"], again["registrations"]) == (0, 2, 0)


def test_the_imported_version_reproduces_through_mlflow_run(project: Project) -> None:
    plan = project.lineage("reproduce", "wine-model/1", "--dry-run").stdout
    assert "mlflow run . -e main -P alpha=0.3 -P l1_ratio=0.1 --env-manager local" in plan
    result = project.lineage("reproduce", "wine-model/1", "--yes", "--json", check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["verdict"] == "bit-identical"
