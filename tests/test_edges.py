"""lineage.edges: the graph each kind of record describes, and the node keys, as pure functions."""

from __future__ import annotations

import pytest

from lineage.edges import edges_of, model_key, model_of_key, node_key
from lineage.model_version import ModelVersion

SNAP, BASE, RAW, PKL = "5" * 40, "b" * 40, "d" * 32, "e" * 32


def test_a_run_record_is_its_code_data_outputs_models_and_parent() -> None:
    doc = {
        "kind": "run",
        "session": "s",
        "run": {"run_id": "r1", "parent_run_id": "p0"},
        "code": {"commit": BASE, "snapshot": SNAP},
        "inputs": [{"path": "data/raw.csv", "md5": RAW}],
        "outputs": [{"path": "model.pkl", "md5": PKL}],
        "models": [{"name": "churn model", "version": 3}],
    }
    assert edges_of("rec", doc) == [
        (f"commit:{SNAP}", "code", "run:r1", None),
        (f"commit:{BASE}", "snapshot", f"commit:{SNAP}", None),
        (f"data:{RAW}", "input", "run:r1", "data/raw.csv"),
        ("run:r1", "output", f"data:{PKL}", "model.pkl"),
        ("run:r1", "produced", "model:churn model/3", None),
        ("run:p0", "parent", "run:r1", None),
    ]


def test_attachments_and_reproductions_add_one_edge_environments_none() -> None:
    attachment = {"kind": "attachment", "commit": BASE, "run": "local-s"}
    assert edges_of("a", attachment) == [(f"commit:{BASE}", "code", "run:local-s", None)]
    reproduction = {"kind": "reproduction", "original_run": "r1", "rerun_run": "r2"}
    assert edges_of("b", reproduction) == [("run:r1", "reproduced", "run:r2", None)]
    assert edges_of("c", {**reproduction, "rerun_run": None}) == []
    assert edges_of("d", {"kind": "environment", "packages": {}}) == []


@pytest.mark.parametrize("model", [ModelVersion("churn", 3), ModelVersion("a@b c", 12)])
def test_model_keys_round_trip(model: ModelVersion) -> None:
    key = model_key(model.name, model.version)
    assert key == node_key("model", str(model))
    assert model_of_key(key) == model
