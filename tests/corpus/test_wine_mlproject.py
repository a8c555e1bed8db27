"""MLflow's sklearn_elasticnet_wine as an MLflow Project (tests/layouts/wine.py): runs made by a
real `mlflow run` of two entry points, through `lineage run` and, before lineage, without it."""

from __future__ import annotations

import json

import pytest

from tests.corpus.project import Project, new_project
from tests.layouts import wine

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

VERSIONS = """
import json, mlflow
c = mlflow.MlflowClient()
print(json.dumps({v.version: v.run_id for v in c.search_model_versions("name = 'wine-model'")}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = new_project(tmp_path_factory.mktemp("wine"))
    wine.write(p.repo)
    (p.repo / ".gitignore").write_text("mlruns/\n")
    remote = p.repo.parent / "dvc-remote"
    remote.mkdir()
    p.sh("dvc", "init", "-q")
    p.sh("dvc", "remote", "add", "-q", "-d", "storage", str(remote))
    p.sh("dvc", "add", "-q", "data/wine.csv")
    p.lineage("init")
    p.facts["commit"] = p.commit_all("Wine quality project")
    p.facts["data_md5"] = (p.repo / "data/wine.csv.dvc").read_text().split("md5: ")[1][:32]
    p.lineage("run", "--", "mlflow", "run", ".", "--env-manager", "local", "-P", "alpha=0.4")
    p.lineage(
        "run",
        "--",
        "mlflow",
        "run",
        ".",
        "--env-manager=local",
        "-P",
        "alpha=0.7",
        "-P",
        "l1_ratio=0.2",
    )
    p.lineage("run", "--", "mlflow", "run", ".", "-e", "validate", "--env-manager", "local")
    p.python(
        "import mlflow; mlflow.MlflowClient().set_registered_model_alias("
        "'wine-model', 'champion', '2')"
    )
    p.facts["versions"] = {int(k): v for k, v in json.loads(p.python(VERSIONS)).items()}
    return p


def test_every_mlflow_run_is_recorded_with_its_project(project: Project) -> None:
    # The run `mlflow run` made (and resumed in the entry point) is recorded, not a local-… one.
    one = project.json("show", "wine-model/1")
    assert one["record"]["run"]["run_id"] == project.facts["versions"][1]
    assert one["record"]["project"] == {
        "uri": ".",
        "entry_point": "main",
        "parameters": {"alpha": "0.4", "l1_ratio": "0.1"},  # l1_ratio: the MLproject default
        "version": None,
        "env_manager": "local",
        "experiment_name": None,
        "experiment_id": None,
        "backend": None,
    }
    assert one["record"]["models"] == [{"name": "wine-model", "version": 1}]
    assert one["record"]["code"]["commit"] == project.facts["commit"]
    assert [(d["path"], d["md5"]) for d in one["record"]["inputs"]] == [
        ("data/wine.csv", project.facts["data_md5"])
    ]
    runs = project.json("log")
    assert not [r for r in runs if str(r["run"]).startswith("local-")]
    validate = [r for r in runs if r["run"] not in project.facts["versions"].values()]
    assert len(validate) == 1


def test_the_second_entry_point_keeps_its_defaults(project: Project) -> None:
    runs = project.json("log")
    validate = next(r for r in runs if r["run"] not in project.facts["versions"].values())
    record = project.json("show", validate["run"])["record"]
    assert record["project"]["entry_point"] == "validate"
    assert record["project"]["parameters"] == {"data": "data/wine.csv", "min_rows": "10"}
    assert record["run"]["metrics"] == {"rows": 120.0}


def test_graph_impact_and_diff_answer_from_the_project_runs(project: Project) -> None:
    graph = project.json_of("graph", "wine-model@champion", "--format", "json")
    ids = {n["id"] for n in graph["nodes"]}
    assert f"run:{project.facts['versions'][2]}" in ids
    assert f"data:{project.facts['data_md5']}" in ids

    impact = project.json("impact", "data/wine.csv")
    assert {(m["name"], m["version"]) for m in impact["models"]} >= {
        ("wine-model", 1),
        ("wine-model", 2),
    }

    diff = project.lineage("diff", "wine-model/1", "wine-model@champion").stdout
    assert "alpha" in diff and "0.4" in diff and "0.7" in diff


def test_the_champion_reproduces_through_mlflow_run(project: Project) -> None:
    result = project.lineage("reproduce", "wine-model@champion", "--yes", "--json", check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["verdict"] == "bit-identical"
    assert report["plan"]["command"][:3] == ["mlflow", "run", "."]
    assert {m["name"]: m["status"] for m in report["metrics"]} == {"rmse": "exact", "mae": "exact"}
