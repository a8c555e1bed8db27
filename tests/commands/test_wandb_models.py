"""W&B model artifacts as model versions: show, graph, impact, audit and reproduce them, on
YOLOv5's W&B logging (tests/layouts/yolov5_wandb.py), with the real wandb package offline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import sh
from tests.layouts import yolov5_wandb
from tests.scenarios import Recorded, hermetic_env
from tests.wandb_helpers import wandb_env


@dataclass(frozen=True)
class Trained:
    project: Recorded
    run_key: str  # wandb:YOLOv5/<run id>
    model: str  # run_<run id>_model
    versions: list[dict[str, Any]]  # the model's artifact entries in the record, as logged


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    base = tmp_path_factory.mktemp("yolov5")
    env = {**wandb_env(base / "home"), **hermetic_env(base)}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    repo = base / "repo"
    yolov5_wandb.build(repo, env)
    made = Recorded(repo, env)
    made.lineage("run", "--", "python", "train.py", "--epochs", "3")
    [entry] = made.json("log")
    record = made.json("show", entry["run"])["record"]
    artifacts = record["wandb"]["artifacts"]
    name = f"run_{record['wandb']['run_id']}_model"
    assert [a["name"] for a in artifacts] == [name] * 3
    return Trained(made, entry["run"], name, artifacts)


def test_each_logged_checkpoint_is_a_model_version_named_by_its_digest(trained: Trained) -> None:
    drawn = trained.project.lineage("graph", trained.run_key, "--downstream", "--format", "json")
    graph = json.loads(drawn.stdout)
    models = [n for n in graph["nodes"] if n["kind"] == "model"]
    digests = [a["digest"] for a in trained.versions]
    assert len(set(digests)) == 3  # three epochs, three different checkpoints
    assert sorted(m["digest"] for m in models) == sorted(digests)
    assert {m["tracker"] for m in models} == {"wandb"}
    assert {m["id"] for m in models} == {f"model:wandb:YOLOv5/{trained.model}:{d}" for d in digests}
    produced = {(e["source"], e["target"]) for e in graph["edges"] if e["rel"] == "produced"}
    assert produced == {(f"run:{trained.run_key}", m["id"]) for m in models}


def test_an_alias_names_the_newest_version_logged_with_it(trained: Trained) -> None:
    epoch1, epoch2, epoch3 = (a["digest"] for a in trained.versions)
    best = trained.project.json("show", f"{trained.model}:best")
    assert best["node"]["id"] == f"wandb:YOLOv5/{trained.model}:{epoch2}"
    # epoch 1 was logged with `best` too, but epoch 2 took it over; epoch 3 was not best.
    assert best["node"]["wandb"]["aliases"] == ["best", "epoch 2"]
    assert best["record"]["wandb"]["run_id"] == trained.run_key.rpartition("/")[2]
    latest = trained.project.json("show", f"YOLOv5/{trained.model}:latest")
    assert latest["node"]["id"].endswith(epoch3)
    assert latest["node"]["wandb"]["aliases"] == ["epoch 3", "last", "latest"]
    by_digest = trained.project.json("show", f"{trained.model}:{epoch1[:8]}")
    assert by_digest["node"]["wandb"]["aliases"] == ["epoch 1"]  # "" is not an alias


def test_show_says_where_the_aliases_come_from(trained: Trained) -> None:
    out = trained.project.lineage("show", f"{trained.model}:best").stdout
    epoch2 = trained.versions[1]["digest"]
    assert out.startswith(f"model wandb:YOLOv5/{trained.model}:{epoch2}   ({trained.model}:best)")
    assert f"W&B model YOLOv5/{trained.model}:{epoch2[:8]} (type model)" in out
    assert "aliases now: best, epoch 2 (as the runs lineage recorded gave them" in out


def test_a_server_version_number_gets_a_clear_error(trained: Trained) -> None:
    failed = trained.project.lineage("show", f"{trained.model}:v1", check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "W&B numbers versions (v1) on its server" in failed.stderr
    assert f"{trained.model}:{trained.versions[2]['digest'][:8]} (epoch 3, last, latest)" in (
        failed.stderr
    )


def test_impact_of_the_dvc_dataset_lists_every_checkpoint(trained: Trained) -> None:
    found = trained.project.json("impact", "datasets/coco128")
    models = {m["version"]: m for m in found["models"]}
    assert set(models) == {a["digest"] for a in trained.versions}
    best = models[trained.versions[1]["digest"]]
    assert best["tracker"] == "wandb" and best["project"] == "YOLOv5"
    assert best["aliases"] == ["best", "epoch 2"] and best["runs"] == [trained.run_key]
    text = trained.project.lineage("impact", "datasets/coco128").stdout
    assert f"{trained.model}:{trained.versions[1]['digest'][:8]}  :best :epoch 2" in text


def test_graph_draws_a_wandb_model_beside_its_run(trained: Trained) -> None:
    dot = trained.project.lineage("graph", f"{trained.model}:best", "--format", "dot").stdout
    assert f"{trained.model}:{trained.versions[1]['digest'][:8]}" in dot
    assert "W&amp;B :best :epoch 2" in dot or "W&B :best :epoch 2" in dot


def test_audit_of_a_wandb_only_project_checks_its_aliased_versions(trained: Trained) -> None:
    # No MLflow store exists: the W&B models are audited, not refused as a typo'd store.
    result = trained.project.lineage("audit", "--json", check=False)
    report = json.loads(result.stdout)
    audited = {v["version"]: v for v in report["versions"]}
    assert set(audited) == {a["digest"] for a in trained.versions}  # each holds `epoch N`
    row = audited[trained.versions[1]["digest"]]
    checks = {c["name"]: c for c in row["checks"]}
    assert checks["lineage"]["result"] == "pass"
    assert checks["run"]["result"] == "pass" and "by its W&B run file" in checks["run"]["reason"]
    assert checks["data"]["result"] == "warn"  # no DVC remote configured here
    assert checks["reproduction"]["result"] == "warn"
    assert f"lineage reproduce {trained.model}:" in checks["reproduction"]["reason"]
    assert row["registry"] == {"tracker": "wandb", "project": "YOLOv5", "entity": None}
    assert result.returncode == 0  # warnings only


def test_audit_takes_an_alias_and_a_wandb_ref(trained: Trained) -> None:
    by_alias = trained.project.json("audit", "--alias", "best")
    assert [v["version"] for v in by_alias["versions"]] == [trained.versions[1]["digest"]]
    assert by_alias["scope"] == "W&B model versions with alias :best"
    named = trained.project.json("audit", f"{trained.model}:latest")
    assert [v["version"] for v in named["versions"]] == [trained.versions[2]["digest"]]


def test_reproduce_of_a_wandb_model_reruns_its_run_and_matches_every_checkpoint(
    trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> None:
    made = trained.project.copy(tmp_path_factory.mktemp("reproduce"))
    result = made.lineage("reproduce", f"{trained.model}:best", "--yes")
    out = result.stdout
    assert f"Reproduce {trained.model}:best" in out
    # The rerun's artifact is named after its own run id: matched as run_<run>_model.
    digest = "wandb:run_<run>_model/last.pt"
    assert digest in out
    assert "Verdict: bit-identical" in out, out
    audit = made.json("audit", "--alias", "best")
    [row] = audit["versions"]
    assert {c["name"]: c["result"] for c in row["checks"]}["reproduction"] == "pass"


def test_a_package_named_wandb_is_code_the_run_depends_on(
    trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """YOLOv5's logger lives in utils/loggers/wandb/: committed (init's entries leave it in),
    and an edit to it makes the tree dirty, while W&B's own wandb/ stays out."""
    made = trained.project.copy(tmp_path_factory.mktemp("edited"))
    logger = "utils/loggers/wandb/wandb_utils.py"
    tracked = sh("git", "ls-files", "utils/loggers/wandb", cwd=made.repo).stdout.split()
    assert logger in tracked
    with open(made.repo / logger, "a") as f:
        f.write("# log fewer checkpoints\n")
    made.lineage("run", "--", "python", "train.py", "--epochs", "1")
    newest = made.json("log")[0]
    assert newest["dirty"] is True
    code = made.json("show", newest["run"])["record"]["code"]
    assert code["changed"] == [logger]  # not wandb/offline-run-*, which the run also wrote
