"""MLflow's multistep_workflow (tests/layouts/multistep.py): a runner entry point that starts
each step with `mlflow.run`, recorded by one `lineage run -- mlflow run .`. Each step's run is
recorded as the entry point that made it, with its own parameters, so reproducing a step reruns
that step, not the whole runner."""

from __future__ import annotations

import json

import pytest

from tests.corpus.project import Project, new_project
from tests.layouts import multistep

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

ENTRY_POINTS = """
import json, mlflow
runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
print(json.dumps({r.info.run_id: r.data.tags.get("mlflow.project.entryPoint") for r in runs}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = new_project(tmp_path_factory.mktemp("multistep"))
    # MLflow 3.17's telemetry thread can change os.environ while `mlflow.run` copies it
    # (KeyError '_MLFLOW_TELEMETRY_SESSION_ID'): an MLflow race, not lineage's.
    p.env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    multistep.write(p.repo)
    (p.repo / ".gitignore").write_text("mlflow.db\nmlruns/\nmlartifacts/\n")
    p.lineage("init")
    p.facts["commit"] = p.commit_all("Multi-step workflow")
    p.lineage("run", "--", "mlflow", "run", ".", "--env-manager", "local", "-P", "als_max_iter=3")
    by_id = json.loads(p.python(ENTRY_POINTS))
    p.facts["runs"] = {entry: run_id for run_id, entry in by_id.items()}
    return p


def test_each_step_is_recorded_as_the_entry_point_that_made_it(project: Project) -> None:
    runs = project.facts["runs"]
    assert sorted(runs) == sorted(["main", *multistep.STEPS])
    logged = {r["run"] for r in project.json("log")}
    assert logged == set(runs.values())
    main = project.json("show", runs["main"])["record"]["project"]
    assert (main["entry_point"], main["parameters"]) == (
        "main",
        {"als_max_iter": "3", "keras_hidden_units": "20", "max_row_limit": "100000"},
    )
    als = project.json("show", runs["als"])["record"]
    assert als["project"]["entry_point"] == "als"
    assert als["project"]["uri"] == "."
    assert als["project"]["env_manager"] == "local"
    assert sorted(als["project"]["parameters"]) == ["max_iter", "ratings_data"]
    assert als["project"]["parameters"]["max_iter"] == "3"
    assert als["run"]["parent_run_id"] == runs["main"]
    raw = project.json("show", runs["load_raw_data"])["record"]["project"]
    assert (raw["entry_point"], raw["parameters"]) == ("load_raw_data", {})


def test_a_step_reproduces_as_that_step_with_its_parameters(project: Project) -> None:
    runs = project.facts["runs"]
    als = project.json("show", runs["als"])["record"]
    result = project.lineage("reproduce", runs["als"], "--yes", "--json", check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["plan"]["command"] == [
        "mlflow",
        "run",
        ".",
        "-e",
        "als",
        "-P",
        f"max_iter={als['project']['parameters']['max_iter']}",
        "-P",
        f"ratings_data={als['project']['parameters']['ratings_data']}",
        "--env-manager",
        "local",
    ]
    assert report["verdict"] == "bit-identical"
    assert {m["name"]: m["status"] for m in report["metrics"]} == {"mse": "exact"}
    assert {p["name"]: p["status"] for p in report["params"]} == {
        "max_iter": "exact",
        "ratings_data": "exact",
    }


def test_the_runner_reproduces_as_the_runner(project: Project) -> None:
    plan = project.lineage("reproduce", project.facts["runs"]["main"], "--dry-run").stdout
    assert (
        "mlflow run . -e main -P als_max_iter=3 -P keras_hidden_units=20 "
        "-P max_row_limit=100000 --env-manager local"
    ) in plan
