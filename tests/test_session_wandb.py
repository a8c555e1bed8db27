"""`lineage run` of a command that starts W&B runs (the real wandb package, offline): every
run it started is recorded, beside its MLflow runs, with what W&B knew of it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from lineage.session_wandb import tag_variables
from tests.scenarios import Recorded
from tests.wandb_helpers import build_captured


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return build_captured(tmp_path_factory.mktemp("captured"))


_READ: dict[Path, dict[str, dict[str, Any]]] = {}


def _wandb_runs(captured: Recorded) -> dict[str, dict[str, Any]]:
    """W&B run name (or sweep lr) -> its record, read once per module (each read is a
    `lineage show`, a process of its own)."""
    if captured.repo in _READ:
        return _READ[captured.repo]
    found = {}
    for entry in captured.json("log"):
        if entry["run"].startswith("wandb:"):
            record = captured.json("show", entry["run"])["record"]
            wandb = record["wandb"]
            found[wandb["name"] or f"lr={wandb['params']['lr']}"] = record
    _READ[captured.repo] = found
    return found


def test_one_command_records_every_wandb_run_beside_its_mlflow_run(captured: Recorded) -> None:
    entries = captured.json("log")
    keys = [e["run"] for e in entries]
    assert len(keys) == 5 and sum(k.startswith("wandb:") for k in keys) == 4
    assert all(e["status"] == "FINISHED" for e in entries)
    assert len({e["commit"] for e in entries}) == 1
    runs = _wandb_runs(captured)
    assert sorted(runs) == ["depth-3", "depth-5", "lr=0.1", "lr=0.2"]
    said = (captured.repo.parent / "run.stderr").read_text().splitlines()[-1]
    assert said.startswith("lineage: recorded 5 run(s) [")
    for record in runs.values():
        assert f"wandb:{record['wandb']['project']}/{record['wandb']['run_id']}" in said


def test_a_wandb_run_record_holds_its_path_config_summary_and_the_commit(
    captured: Recorded,
) -> None:
    record = _wandb_runs(captured)["depth-5"]
    wandb = record["wandb"]
    assert record["run"] is None  # one record per run: the W&B run's has no MLflow run
    assert (wandb["entity"], wandb["project"], wandb["group"], wandb["job_type"]) == (
        "acme",
        "churn",
        "grid",
        "train",
    )
    assert wandb["params"] == {"lr": "0.1", "model.depth": "5"}
    assert wandb["metrics"] == {"best": 0.5, "loss": 0.2}
    assert wandb["git_commit"] == record["code"]["commit"] and wandb["exit_code"] == 0
    # W&B read the session from WANDB_TAGS: the W&B UI shows which lineage session made it.
    assert wandb["tags"] == [f"lineage:{record['session']}"]
    assert record["command"]["argv"] == ["python", "train.py"]


def test_a_sweep_agent_s_runs_are_separate_runs_with_the_sweep_id(captured: Recorded) -> None:
    runs = _wandb_runs(captured)
    sweep = [runs["lr=0.1"]["wandb"], runs["lr=0.2"]["wandb"]]
    assert [w["sweep_id"] for w in sweep] == ["sw33p", "sw33p"]
    assert sweep[0]["run_id"] != sweep[1]["run_id"]
    assert [w["metrics"] for w in sweep] == [{"score": 0.1}, {"score": 0.2}]


def test_a_wandb_run_is_named_by_its_run_path_or_bare_id(captured: Recorded) -> None:
    wandb = _wandb_runs(captured)["depth-3"]["wandb"]
    key = f"wandb:churn/{wandb['run_id']}"
    for ref in (key, f"acme/churn/{wandb['run_id']}", f"churn/{wandb['run_id']}", wandb["run_id"]):
        assert captured.json("show", ref)["node"]["id"] == key, ref
    text = captured.lineage("show", wandb["run_id"]).stdout
    assert f"run       W&B acme/churn/{wandb['run_id']}  depth-3  FINISHED  offline" in text
    assert "artifact  logged raw (latest)  type dataset" in text


def test_impact_of_the_dvc_data_reaches_the_wandb_runs(captured: Recorded) -> None:
    md5 = hashlib.md5((captured.repo / "data/raw.csv").read_bytes()).hexdigest()
    runs = {r["run"] for r in captured.json("impact", md5)["runs"]}
    assert len(runs) == 5 and sum(r.startswith("wandb:") for r in runs) == 4


def test_the_session_tag_is_appended_to_the_user_s_own_wandb_tags() -> None:
    assert tag_variables({"WANDB_TAGS": "baseline,gpu"}, "abc") == {
        "WANDB_TAGS": "baseline,gpu,lineage:abc"
    }
    assert tag_variables({}, "abc") == {"WANDB_TAGS": "lineage:abc"}


def test_log_and_show_of_a_wandb_run_import_no_wandb(captured: Recorded) -> None:
    from tests.test_cli import HEAVY, imported_modules

    key = next(e["run"] for e in captured.json("log") if e["run"].startswith("wandb:"))
    for args in (["log"], ["show", key]):
        mods = imported_modules(captured.repo, *args, env=captured.env)
        assert "lineage" in mods and not mods & set(HEAVY), (args, mods & set(HEAVY))


def test_diff_compares_a_wandb_run_with_the_mlflow_run_beside_it(captured: Recorded) -> None:
    wandb = _wandb_runs(captured)["depth-5"]["wandb"]
    mlflow = next(e["run"] for e in captured.json("log") if not e["run"].startswith("wandb:"))
    text = captured.lineage("diff", wandb["run_id"], mlflow).stdout
    assert text.splitlines()[0] == f"A  {wandb['run_id']}  run wandb:churn/{wandb['run_id']}"
    assert "params    lr           removed: 0.1\n          model.depth  removed: 5\n" in text
    assert "metrics   best   removed: 0.5\n          loss   removed: 0.2\n" in text
    assert "          score  added: 0.5\n" in text


def test_graph_draws_a_wandb_run_with_its_name_and_summary(captured: Recorded) -> None:
    wandb = _wandb_runs(captured)["depth-5"]["wandb"]
    text = captured.lineage("graph", wandb["run_id"], "--format", "text").stdout
    assert text.splitlines()[0] == f"run depth-5  wandb:churn/{wandb['run_id']} · best=0.5"
