"""DataTalksClub's mlops-zoomcamp experiment-tracking homework (tests/layouts/zoomcamp.py): no
DVC, scripts that set `sqlite:///mlflow.db` themselves, autolog, a nested grid search, and the
best model registered afterwards by a plain `python register_model.py`."""

from __future__ import annotations

import json

import pytest

from tests.corpus.project import Project, new_project
from tests.layouts import zoomcamp

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    # MLFLOW_TRACKING_URI unset: the scripts choose `sqlite:///mlflow.db` in the repository,
    # which is also where MLflow's default (and so lineage's) points from the repository root.
    p = new_project(tmp_path_factory.mktemp("zoomcamp"), own_store=True)
    zoomcamp.write(p.repo)
    p.lineage("init")
    p.facts["commit"] = p.commit_all("Experiment tracking homework")
    p.lineage("run", "--", "python", "preprocess_data.py")
    p.lineage("run", "--", "python", "train.py")
    p.lineage("run", "--", "python", "hpo.py")
    best, version = p.sh("python", "register_model.py").stdout.split()
    p.facts.update(best=best, version=int(version), store=f"sqlite:///{p.repo}/mlflow.db")
    p.facts["runs"] = p.json("log")
    return p


def test_runs_are_found_in_the_store_the_scripts_chose(project: Project) -> None:
    runs = project.facts["runs"]
    mlflow_runs = [r for r in runs if not str(r["run"]).startswith("local-")]
    assert len(mlflow_runs) == 5  # train (autolog) + search parent + 3 trials
    assert len(runs) == 6  # + preprocess_data.py, which made no MLflow run
    for entry in mlflow_runs:
        record = project.json("show", entry["run"])["record"]
        assert record["run"]["tracking_uri"] == project.facts["store"]
        # MLflow's own store in the repository is neither dirt nor snapshot material.
        assert record["code"] == {**record["code"], "commit": project.facts["commit"]}
        assert record["code"]["dirty"] is False and record["code"]["snapshot"] is None


def test_autolog_and_nested_trials_keep_their_facts(project: Project) -> None:
    records = [
        project.json("show", r["run"])["record"]["run"]
        for r in project.facts["runs"]
        if not str(r["run"]).startswith("local-")
    ]
    by_name = {r["name"]: r for r in records}
    search = by_name["search"]
    trials = [r for r in records if r["parent_run_id"] == search["run_id"]]
    assert sorted(t["params"]["max_depth"] for t in trials) == ["2", "4", "6"]
    autologged = next(r for r in records if r["experiment_name"] == "nyc-taxi-experiment")
    assert autologged["params"]["n_estimators"] == "5"  # logged by autolog, not the script
    assert "training_score" in autologged["metrics"] and "rmse" in autologged["metrics"]


def test_a_version_registered_after_training_is_in_every_answer(project: Project) -> None:
    shown = project.json("show", "taxi-rf@champion")
    assert shown["record"]["run"]["run_id"] == project.facts["best"]

    graph = project.json_of("graph", "taxi-rf@champion", "--format", "json")
    assert f"run:{project.facts['best']}" in {n["id"] for n in graph["nodes"]}

    impact = project.json("impact", project.facts["commit"])
    assert [(m["name"], m["version"]) for m in impact["models"]] == [
        ("taxi-rf", project.facts["version"])
    ]

    text = project.lineage("show", project.facts["best"]).stdout
    assert f"taxi-rf/{project.facts['version']}" in text


def test_the_registration_is_a_record_that_answers_offline(project: Project) -> None:
    # Learnt once from the registry, then kept: with the registry gone, the answer stays.
    # (Learnt here, not by an earlier test: pytest-xdist may run that one on another worker.)
    project.json("impact", project.facts["commit"])
    offline = {**project.env, "MLFLOW_TRACKING_URI": f"sqlite:///{project.repo}/gone.db"}
    impact = project.sh("lineage", "impact", project.facts["commit"], "--json", **offline)
    models = json.loads(impact.stdout)["models"]
    assert [(m["name"], m["version"]) for m in models] == [("taxi-rf", project.facts["version"])]


def test_diff_between_two_trials(project: Project) -> None:
    trials = sorted(
        (project.json("show", r["run"])["record"]["run"] for r in project.facts["runs"]),
        key=lambda run: str((run or {}).get("params", {}).get("max_depth")),
    )
    by_depth = {t["params"].get("max_depth"): t["run_id"] for t in trials if t}
    out = project.lineage("diff", by_depth["2"], by_depth["6"]).stdout
    assert "max_depth" in out and "2" in out and "6" in out


def test_reproduce_says_what_it_could_not_restore_then_reproduces_with_the_pipeline(
    project: Project,
) -> None:
    # hpo.py reads output/*.pkl, written by preprocess_data.py and versioned by nothing: the
    # recorded command alone cannot run in a fresh checkout, and the verdict says so.
    alone = project.lineage("reproduce", "taxi-rf@champion", "--yes", check=False)
    assert alone.returncode == 5
    assert "output/train.pkl" in alone.stderr + alone.stdout
    assert "Verdict: failed" in alone.stdout

    whole = project.lineage(
        "reproduce",
        "taxi-rf@champion",
        "--yes",
        "--json",
        "--command",
        "sh -c 'python preprocess_data.py && python hpo.py'",
        check=False,
    )
    report = json.loads(whole.stdout)
    assert whole.returncode == 0, whole.stderr
    assert report["verdict"] == "bit-identical"
    assert report["plan"]["command_source"] == "--command"
    assert [(m["name"], m["status"]) for m in report["metrics"]] == [("rmse", "exact")]
