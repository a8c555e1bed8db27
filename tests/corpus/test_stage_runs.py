"""A DVC pipeline whose stages each log to MLflow (tests/layouts/stage_runs.py): under one
`lineage run -- dvc repro`, each MLflow run records the stage it was started in, with that
stage's data; a forced `dvc repro -f` counts every stage DVC ran, changed or not; and a stage's
run reproduces by rerunning that stage alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.corpus.project import Project
from tests.layouts import stage_runs

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = stage_runs.build(tmp_path_factory.mktemp("stage-runs"))
    p.lineage("run", "--", "dvc", "repro", "-q")
    p.facts["first"] = sessions(p)[0]
    p.facts["first lock"] = lock(p)
    p.commit_all("Run the pipeline")
    # Nothing changed since: a forced run reruns every stage. SALT changes the model only, so
    # only train's and evaluate's lock entries change; preprocess and featurize rewrite the
    # same outputs and keep their entries.
    p.lineage("run", "--", "dvc", "repro", "-q", "-f", SALT="1")
    p.facts["forced"] = next(s for s in sessions(p) if s != p.facts["first"])
    p.facts["forced lock"] = lock(p)
    p.commit_all("Rerun the pipeline, forced")
    return p


def sessions(p: Project) -> list[list[dict[str, Any]]]:
    """Each session's records, oldest session first, runs by start."""
    records = [p.json("show", entry["run"])["record"] for entry in p.json("log")]
    by_session: dict[str, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: r["run"]["start_ms"]):
        by_session.setdefault(record["session"], []).append(record)
    return list(by_session.values())


def lock(p: Project) -> dict[str, Any]:
    return dict(yaml.safe_load((p.repo / "dvc.lock").read_text())["stages"])


def by_stage(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The session's records by the one stage each run was started in (its last stage)."""
    return {r["run"]["name"]: r for r in records}


def paths(data: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["path"], d["md5"]) for d in data]


def md5(stage_lock: dict[str, Any], key: str, path: str) -> str:
    return str(next(e["md5"] for e in stage_lock[key] if e["path"] == path))


def test_each_stages_run_records_that_stage_with_its_own_inputs_and_outputs(
    project: Project,
) -> None:
    runs = by_stage(project.facts["first"])
    locked = project.facts["first lock"]
    raw = yaml.safe_load((project.repo / "data/raw/data.csv.dvc").read_text())["outs"][0]["md5"]

    assert sorted(runs) == ["evaluate", "featurize", "train"]
    # The feature stage's run: its stage, with the preparation before it (which started no
    # run), reading the raw data; it does not produce the model.
    featurize = runs["featurize"]
    assert [s["name"] for s in featurize["stages"]] == ["preprocess", "featurize"]
    assert paths(featurize["inputs"]) == [("data/raw/data.csv", raw)]
    assert paths(featurize["outputs"]) == [
        ("data/processed/data.csv", md5(locked["preprocess"], "outs", "data/processed/data.csv")),
        (
            "data/features/features.csv",
            md5(locked["featurize"], "outs", "data/features/features.csv"),
        ),
    ]
    # train's run reads the features at the hash the lock records, and writes the model only.
    train = runs["train"]
    assert [s["name"] for s in train["stages"]] == ["train"]
    assert paths(train["inputs"]) == [
        ("data/features/features.csv", md5(locked["train"], "deps", "data/features/features.csv"))
    ]
    assert paths(train["outputs"]) == [
        ("models/model.pkl", md5(locked["train"], "outs", "models/model.pkl"))
    ]
    assert train["models"] == [{"name": stage_runs.MODEL, "version": 1}]
    # evaluate's run was started by a subprocess of the stage's command: still evaluate's.
    evaluate = runs["evaluate"]
    assert [s["name"] for s in evaluate["stages"]] == ["evaluate"]
    assert [d["path"] for d in evaluate["inputs"]] == [
        "data/features/features.csv",
        "models/model.pkl",
    ]
    assert paths(evaluate["outputs"]) == [
        ("metrics.json", md5(locked["evaluate"], "outs", "metrics.json"))
    ]
    # The command's own facts are the same for all.
    assert {tuple(r["command"]["argv"]) for r in runs.values()} == {("dvc", "repro", "-q")}
    assert len({json.dumps(r["code"], sort_keys=True) for r in runs.values()}) == 1


def test_a_forced_repro_records_every_stage_dvc_ran_even_with_an_unchanged_lock_entry(
    project: Project,
) -> None:
    first, forced = project.facts["first lock"], project.facts["forced lock"]
    assert first["preprocess"] == forced["preprocess"]  # rewritten, identical
    assert first["train"] != forced["train"]
    runs = by_stage(project.facts["forced"])

    recorded = [s["name"] for r in runs.values() for s in r["stages"]]
    assert sorted(recorded) == ["evaluate", "featurize", "preprocess", "train"]
    assert [d["path"] for d in runs["featurize"]["inputs"]] == ["data/raw/data.csv"]
    assert runs["train"]["models"] == [{"name": stage_runs.MODEL, "version": 2}]


def test_impact_of_the_raw_data_lists_the_model_of_the_forced_run(project: Project) -> None:
    impact = project.json("impact", "data/raw/data.csv")
    assert {(m["name"], m["version"]) for m in impact["models"]} == {
        (stage_runs.MODEL, 1),
        (stage_runs.MODEL, 2),
    }
    forced = {r["run"]["run_id"] for r in project.facts["forced"]}
    assert forced <= {r["run"] for r in impact["runs"]}


def test_a_stages_run_reproduces_by_rerunning_that_stage_alone(project: Project) -> None:
    proc = project.lineage("reproduce", f"{stage_runs.MODEL}/2", "--json", check=False, SALT="1")
    report = json.loads(proc.stdout)

    assert report["plan"]["command"] == [
        "dvc", "repro", "-q", "--force", "--single-item", "train"
    ]  # fmt: skip
    assert (proc.returncode, report["verdict"]) == (0, "bit-identical"), report["notes"]
    assert {c["name"]: c["status"] for c in report["outputs"]} == {"models/model.pkl": "exact"}
    assert {c["name"]: c["status"] for c in report["metrics"]}["fit"] == "exact"
