"""iterative/example-get-started (tests/layouts/get_started.py): a DVC pipeline whose train stage
registers the model from an MLflow run that logs nothing else; params in two files, metrics in
JSON (`cache: false`), YAML and TOML, a `foreach` stage. init -> run -> register ->
show/graph/impact/diff -> reproduce, each answer checked against what the build knows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.layouts import get_started

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> get_started.Project:
    p = get_started.build(tmp_path_factory.mktemp("get-started"))
    p.lineage("run", "--", "dvc", "repro", "-q", MODEL="gs-model")
    p.commit("Train with 50 trees")
    params = p.repo / "params.yaml"
    params.write_text(params.read_text().replace("n_est: 50", "n_est: 100"))
    p.lineage("run", "--", "dvc", "repro", "-q", MODEL="gs-model")
    p.commit("Train with 100 trees")
    return p


def lock(project: get_started.Project) -> dict[str, dict[str, object]]:
    stages = yaml.safe_load((project.repo / "dvc.lock").read_text())["stages"]
    return {name: stage for name, stage in stages.items()}


def test_the_registered_model_shows_the_pipeline_run_and_its_dvc_values(
    project: get_started.Project,
) -> None:
    shown = project.json("show", "gs-model/2")
    record = shown["record"]
    assert record["models"] == [{"name": "gs-model", "version": 2}]
    assert [s["name"] for s in record["stages"]] == ["train", "evaluate"]  # what n_est reran
    train = next(s for s in record["stages"] if s["name"] == "train")
    assert train["params"] == {"params.yaml": {"train.seed": 20170428, "train.n_est": 100,
                                               "train.min_split": 0.01}}  # fmt: skip
    evaluate = next(s for s in record["stages"] if s["name"] == "evaluate")
    written = json.loads((project.repo / "eval/metrics.json").read_text())
    assert evaluate["metrics"]["eval/metrics.json"]["avg_prec"] == written["avg_prec"]
    model_md5 = lock(project)["train"]["outs"][0]["md5"]  # type: ignore[index]
    assert ("model.pkl", model_md5) in [(d["path"], d["md5"]) for d in record["outputs"]]
    text = project.lineage("show", "gs-model/2").stdout
    assert "params.yaml:train.n_est=100" in text


def test_graph_and_impact_reach_the_model_from_the_raw_data(
    project: get_started.Project,
) -> None:
    graph = json.loads(project.lineage("graph", "gs-model/2", "--format", "json").stdout)
    ids = {n["id"] for n in graph["nodes"]}
    raw = yaml.safe_load((project.repo / "data/data.tsv.dvc").read_text())["outs"][0]["md5"]
    assert f"data:{raw}" in ids
    impact = project.json("impact", "data/data.tsv")
    assert {(m["name"], m["version"]) for m in impact["models"]} == {
        ("gs-model", 1),
        ("gs-model", 2),
    }


def test_diff_of_the_two_versions_names_the_changed_param(project: get_started.Project) -> None:
    out = project.lineage("diff", "gs-model/1", "gs-model/2").stdout
    assert "params.yaml:train.n_est" in out and "50 -> 100" in out


def test_the_second_version_reproduces_on_its_outputs_and_metrics(
    project: get_started.Project, tmp_path: Path
) -> None:
    # MODEL makes train start its MLflow run, as the original's environment did.
    proc = project.lineage("reproduce", "gs-model/2", "--json", check=False, MODEL="gs-model")
    report = json.loads(proc.stdout)
    assert (proc.returncode, report["verdict"]) == (0, "reproduced"), report["notes"]
    assert report["plan"]["command"][:2] == ["dvc", "repro"]
    metrics = {c["name"]: c["status"] for c in report["metrics"]}
    assert metrics["eval/metrics.json:avg_prec"] == "exact"
    outputs = {c["name"]: c["status"] for c in report["outputs"]}
    assert outputs["model.pkl"] == "exact"
