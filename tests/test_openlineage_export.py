"""OpenLineage events built from records (pure): holding what the spec requires (its rules as
written in tests/exports.py; the spec's own schema files are not vendored), with stable run ids,
jobs, datasets, model versions, the parent facet and lineage's own facet."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from openlineage.client.facet_v2 import source_code_location_job

from lineage import openlineage_export as ol
from lineage.export_source import sort_records
from tests.exports import (
    BASE,
    LOGGED,
    MODEL_DIGEST,
    PREP,
    RAW,
    RECORDS,
    SNAP,
    USED,
    WANDB_RUN,
    WEIGHTS,
    spec_problems,
)

NAMES = ol.Names(
    jobs="churn",
    data="https://git.example.com/team/churn.git",
    code_url="https://git.example.com/team/churn.git",
)


def events(run_keys: set[str] | None = None) -> list[dict]:
    records = sort_records("tip", RECORDS.items())
    return [json.loads(ol.to_json(e)) for e in ol.to_events(records, NAMES, run_keys)]


def test_every_event_holds_what_the_openlineage_spec_requires() -> None:
    found = events()
    assert [(e["eventType"], e["job"]["name"]) for e in found] == [
        ("START", "mlflow-experiment:None"),  # r3: imported, no command, no MLflow run
        ("START", "python train.py"),  # p1 and c1 started at the same moment: by run key
        ("COMPLETE", "python train.py"),
        ("START", "python train.py"),
        ("COMPLETE", "python train.py"),
    ]
    for event in found:
        assert spec_problems(event) == [], event
    broken = {**found[1], "run": {"runId": "not-a-uuid"}}
    assert spec_problems(broken) != []  # the check can fail


GONE = object()
BREAKS = [  # (where, what it becomes): one break of each kind of rule
    ("/run/runId", "not-a-uuid"),
    ("/eventTime", "27 Nov 2026"),
    ("/eventTime", "2026-02-30T10:00:00+00:00"),
    ("/producer", "lineage 0.1"),
    ("/schemaURL", GONE),
    ("/eventType", "DONE"),
    ("/job/name", ""),
    ("/job/namespace", GONE),
    ("/inputs/0/name", GONE),
    ("/run/facets/lineage/_producer", GONE),
    ("/job/facets/jobType/_schemaURL", "not a uri"),
    ("/run/facets/parent/run/runId", "p1"),
    ("/run/facets/parent/job/name", GONE),
    ("/outputs/0/facets/version/datasetVersion", GONE),
    ("/job/facets/sourceCodeLocation/url", GONE),
    ("/job/facets/jobType/integration", GONE),
    ("/run/facets/lineage/evidence", "guessed"),  # lineage's own facet, against its schema
    # a facet under a name that means another facet, or in the wrong place
    (
        "/job/facets/jobType/_schemaURL",
        source_code_location_job.SourceCodeLocationJobFacet._get_schema(),
    ),
    ("/run/facets/version", {"_producer": "urn:x", "_schemaURL": "urn:x", "datasetVersion": "1"}),
]


@pytest.mark.parametrize(("where", "value"), BREAKS)
def test_the_spec_check_finds_each_kind_of_break(where: str, value: Any) -> None:
    event = copy.deepcopy(
        next(e for e in events() if e["eventType"] == "COMPLETE" and "parent" in e["run"]["facets"])
    )
    assert spec_problems(event) == []
    *path, last = [int(k) if k.isdigit() else k for k in where.strip("/").split("/")]
    holder: Any = event
    for key in path:
        holder = holder[key]
    if value is GONE:
        del holder[last]
    else:
        holder[last] = value
    problems = spec_problems(event)
    assert problems and all(p.startswith(where.rsplit("/", 1)[0]) for p in problems), problems


def test_run_ids_are_uuid7_derived_from_the_run_and_the_same_every_time() -> None:
    first, second = events(), events()
    assert first == second
    ids = {e["run"]["facets"]["lineage"]["runKey"]: e["run"]["runId"] for e in first}
    assert len(set(ids.values())) == 3
    assert all(uuid.UUID(i).version == 7 for i in ids.values())


def test_datasets_models_code_location_parent_and_the_lineage_facet() -> None:
    by_run = {(e["run"]["facets"]["lineage"]["runKey"], e["eventType"]): e for e in events()}
    parent, child = by_run["p1", "COMPLETE"], by_run["c1", "COMPLETE"]
    assert [
        (d["namespace"], d["name"], d["facets"]["version"]["datasetVersion"])
        for d in parent["inputs"]
    ] == [(NAMES.data, "data/raw.csv", RAW)]
    assert [
        (d["namespace"], d["name"], d["facets"]["version"]["datasetVersion"])
        for d in parent["outputs"]
    ] == [
        (NAMES.data, "data/prepared", PREP),
        ("mlflow:unknown", "churn model", "1"),
    ]
    assert by_run["p1", "START"]["outputs"] == []
    code = parent["job"]["facets"]["sourceCodeLocation"]
    assert (code["type"], code["url"], code["version"]) == ("git", NAMES.code_url, SNAP)
    # the nested run names its parent's run id and job; a registration adds churn model v2
    assert child["run"]["facets"]["parent"]["run"]["runId"] == parent["run"]["runId"]
    assert child["run"]["facets"]["parent"]["job"] == {
        "namespace": "churn",
        "name": "python train.py",
        "facets": {},
    }
    assert (
        child["outputs"][-1]["name"] == "churn model"
        and child["outputs"][-1]["facets"]["version"]["datasetVersion"] == "2"
    )
    facet = parent["run"]["facets"]["lineage"]
    assert facet["record"] == "r1" and facet["evidence"] == "observed"
    assert facet["code"] == {"commit": BASE, "snapshot": SNAP, "dirty": True}
    assert facet["reproductions"] == [{"record": "rep", "verdict": "bit-identical", "rerun": "c1"}]
    assert facet["_schemaURL"] == "urn:lineage:schema:LineageRunFacet:1#/$defs/LineageRunFacet"


def test_new_records_select_the_runs_they_touch() -> None:
    records = sort_records("tip", RECORDS.items())
    chosen = {key: record_id for key, (record_id, _) in records.runs.items()}

    def touched(*ids: str) -> set[str]:
        return ol.touched_runs([(i, RECORDS[i]) for i in ids], chosen)

    assert touched("reg") == {"c1"}
    assert touched("att", "rep") == {"p1"}
    assert touched("r3") == {"local-s-None"}
    assert touched("r1") == {"p1"}
    # a run's record that is not the one shown (an inferred one beside an observed) changes
    # nothing the events say
    assert ol.touched_runs([("r1", RECORDS["r1"])], {**chosen, "p1": "other"}) == set()
    assert {e["run"]["facets"]["lineage"]["runKey"] for e in events({"c1"})} == {"c1"}


@pytest.mark.parametrize(
    ("remote", "uri"),
    [
        ("git@github.com:team/churn.git", "ssh://github.com/team/churn.git"),
        ("github.com:/srv/churn.git", "ssh://github.com/srv/churn.git"),
        (
            "https://bob:s3cret@git.example.com/team/churn.git",
            "https://git.example.com/team/churn.git",
        ),
        ("../origin.git", "file:///work/origin.git"),
    ],
)
def test_a_remote_becomes_an_absolute_uri_without_credentials(remote: str, uri: str) -> None:
    from pathlib import Path

    from lineage.commands.export_openlineage import code_location

    assert code_location(remote, Path("/work/repo")) == uri


def test_a_wandb_run_s_artifacts_are_datasets_and_its_model_a_versioned_output() -> None:
    records = sort_records("tip", {"w1": WANDB_RUN}.items())
    start, done = [json.loads(ol.to_json(e)) for e in ol.to_events(records, NAMES)]
    assert spec_problems(start) == [] and spec_problems(done) == []

    def named(datasets: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
        return [
            (
                d["namespace"],
                d["name"],
                (d.get("facets") or {}).get("version", {}).get("datasetVersion"),
            )
            for d in datasets
        ]

    assert named(done["inputs"]) == [
        (NAMES.data, "data/raw.csv", RAW),
        ("wandb:acme/churn", "raw/raw.csv", USED),
    ]
    assert named(done["outputs"]) == [
        ("wandb:acme/churn", "split/train.csv", LOGGED),
        ("wandb:acme/churn", "split/raw.csv", RAW),
        ("wandb:acme/churn", "churn-model/model.pkl", WEIGHTS),
        ("wandb:acme/churn", "churn-model", MODEL_DIGEST),
    ]
    facet = done["run"]["facets"]["lineage"]
    assert facet["runKey"] == "wandb:churn/p7cj45nh" and "mlflow" not in facet
    assert facet["wandb"] == {
        "runPath": "acme/churn/p7cj45nh",
        "runName": "depth-5",
        "group": "grid",
        "jobType": "train",
        "offline": True,  # no sweepId: OpenLineage's client leaves out what is None
    }
    assert facet["params"] == {"lr": "0.1", "model.depth": "5"} and facet["metrics"] == {"acc": 0.9}
