"""The PROV document built from records (pure): every relation the records imply, read back by
the `prov` package from PROV-JSON and PROV-O, and PROV-N as the W3C notation spells it."""

from __future__ import annotations

import pytest
from prov.model import ProvDocument

from lineage import prov_export
from lineage.export_source import sort_records
from tests.exports import (
    LOGGED,
    MODEL_DIGEST,
    PREP,
    RAW,
    RECORDS,
    SNAP,
    USED,
    WANDB_RUN,
    WEIGHTS,
    prov_relations,
    read_prov,
    relations_in,
)


def document() -> ProvDocument:
    return prov_export.to_prov(sort_records("tip", RECORDS.items()))


def test_the_records_relations_are_all_there_and_nothing_else() -> None:
    expected = prov_relations(RECORDS)
    assert ("wasInformedBy", "run:c1", "run:p1") in expected  # nested, and a reproduction
    assert ("wasGeneratedBy", "model:churn model/2", "run:c1") in expected
    assert relations_in(document()) == expected


@pytest.mark.parametrize("fmt", ["json", "turtle"])
def test_json_and_turtle_read_back_with_prov_to_the_same_document(fmt: str) -> None:
    text = prov_export.serialize(document(), fmt).decode()
    if fmt == "turtle":
        assert text.startswith("@prefix agent: <urn:lineage:agent:> .\n")
    back = read_prov(text, fmt)
    assert relations_in(back) == relations_in(document())
    entities = {str(r.identifier): r for r in back.get_records() if r.is_element()}
    run = entities["run:p1"]
    assert str(run.get_startTime()).startswith("2023-11-14 22:13:20")
    assert {str(v) for v in run.get_attribute("prov:label")} == {"name-p1"}
    assert {str(v) for v in entities["agent:ada@example.com"].get_attribute("prov:type")} == {
        "prov:Person"
    }
    assert {str(v) for v in entities[f"data:{PREP}"].get_attribute("lineage:md5")} == {PREP}
    assert {str(v) for v in entities[f"commit:{SNAP}"].get_attribute("prov:type")} == {
        "lineage:Snapshot"
    }


def test_provn_is_the_w3c_notation() -> None:
    text = prov_export.serialize(document(), "provn").decode()
    assert text.startswith("document\n  prefix lineage <urn:lineage:vocab#>\n")
    assert text.endswith("endDocument\n")
    assert "  wasInformedBy(run:c1, run:p1, [prov:type='lineage:Nested'])\n" in text
    assert "  agent(agent:bob@example.com, [prov:type='prov:Person', prov:label=\"Bob\"])\n" in text


def test_a_wandb_run_uses_and_generates_its_artifact_files_and_model() -> None:
    """Files of a used artifact are used; a logged file is generated unless the run also read
    it (raw.csv: DVC's data, logged again); the model artifact is a model version."""
    doc = prov_export.to_prov(sort_records("tip", {"w1": WANDB_RUN}.items()))
    run = "run:wandb:churn/p7cj45nh"
    model = f"model:wandb:churn/churn-model/{MODEL_DIGEST}"
    found = {r for r in relations_in(doc) if r[0] in ("used", "wasGeneratedBy")}
    assert found == {
        ("used", run, f"commit:{'a' * 40}"),
        ("used", run, f"data:{RAW}"),
        ("used", run, f"data:{USED}"),
        ("wasGeneratedBy", f"data:{LOGGED}", run),
        ("wasGeneratedBy", f"data:{WEIGHTS}", run),
        ("wasGeneratedBy", model, run),
    }
    assert ("wasDerivedFrom", model, f"data:{USED}") in relations_in(doc)
