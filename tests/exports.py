"""Reading a test repository's records straight from git (not through lineage), and the PROV
relations they imply, for the export tests to check lineage's exports against."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.conftest import sh

# Synthetic records of every kind: a dirty-tree run with an input, an output and a model; a run
# nested in it that a reproduction reran and a later registration names; an inferred local run.
ADA = {"at": "2026-11-27T10:00:00.000Z", "name": "Ada Lovelace", "email": "ada@example.com"}
BOB = {**ADA, "name": "Bob", "email": "bob@example.com"}
BASE, SNAP, LATER = "a" * 40, "b" * 40, "c" * 40
RAW, PREP = "1" * 32, "2" * 32 + ".dir"


def run(run_id: str | None, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": "run",
        "schema": 1,
        "evidence": "observed",
        "session": f"s-{run_id}",
        "code": {"commit": BASE, "dirty": False},
        "created": {**ADA, "tool": "lineage 0.1"},
        "command": {
            "argv": ["python", "train.py", "--depth", "3"],
            "cwd": ".",
            "status": "succeeded",
            "started": "2026-11-27T10:00:00+00:00",
            "ended": "2026-11-27T10:01:00+00:00",
        },
    }
    if run_id:
        doc["run"] = {
            "run_id": run_id,
            "name": f"name-{run_id}",
            "status": "FINISHED",
            "experiment_name": "churn",
            "start_ms": 1_700_000_000_000,
            "end_ms": 1_700_000_060_000,
        }
    doc.update(fields)
    return doc


RECORDS = {
    "r1": run(
        "p1",
        inputs=[{"path": "data/raw.csv", "md5": RAW}],
        outputs=[{"path": "data/prepared", "md5": PREP}],
        models=[{"name": "churn model", "version": 1}],
        code={"commit": BASE, "dirty": True, "snapshot": SNAP},
    ),
    "r2": run("c1", inputs=[{"path": "data/prepared", "md5": PREP}]),
    "r3": run(None, created={**BOB, "tool": "lineage 0.2"}, evidence="inferred", command=None),
    "reg": {
        "kind": "registration",
        "run": "c1",
        "model": {"name": "churn model", "version": 2},
        "created": ADA,
        "evidence": "observed",
    },
    "att": {
        "kind": "attachment",
        "run": "p1",
        "snapshot": SNAP,
        "commit": LATER,
        "created": ADA,
        "evidence": "observed",
    },
    "rep": {
        "kind": "reproduction",
        "original_run": "p1",
        "rerun_run": "c1",
        "verdict": "bit-identical",
        "created": ADA,
        "evidence": "observed",
    },
}
RECORDS["r2"]["run"]["parent_run_id"] = "p1"

# A W&B-only run: it used a dataset artifact (one file), read the DVC data too, and logged a
# dataset file and a model artifact (type `model`, its digest its version).
USED, LOGGED, WEIGHTS, MODEL_DIGEST = "3" * 32, "4" * 32, "5" * 32, "6" * 32
WANDB_RUN = run(
    None,
    session="s-w",
    inputs=[{"path": "data/raw.csv", "md5": RAW}],
    wandb={
        "run_id": "p7cj45nh",
        "project": "churn",
        "entity": "acme",
        "name": "depth-5",
        "group": "grid",
        "job_type": "train",
        "tags": [],
        "sweep_id": None,
        "offline": True,
        "directory": "wandb/offline-run-20261101_000000-p7cj45nh",
        "git_commit": BASE,
        "start_ms": 1_700_000_000_000,
        "exit_code": 0,
        "params": {"lr": "0.1", "model.depth": "5"},
        "metrics": {"acc": 0.9},
        "artifacts": [
            {
                "name": "raw",
                "type": "dataset",
                "digest": None,
                "used": True,
                "files": [{"path": "raw.csv", "md5": USED}],
            },
            {
                "name": "split",
                "type": "dataset",
                "digest": "7" * 32,
                "files": [{"path": "train.csv", "md5": LOGGED}, {"path": "raw.csv", "md5": RAW}],
            },
            {
                "name": "churn-model",
                "type": "model",
                "digest": MODEL_DIGEST,
                "aliases": ["best", "latest"],
                "files": [{"path": "model.pkl", "md5": WEIGHTS}],
            },
        ],
    },
)


def stored_records(repo: Path) -> dict[str, dict[str, Any]]:
    """Every record on refs/lineage/records, by name, read with git alone."""
    listing = sh("git", "ls-tree", "-r", "refs/lineage/records", cwd=repo).stdout
    out = {}
    for line in listing.splitlines():
        meta, path = line.split("\t")
        blob = sh("git", "cat-file", "blob", meta.split()[2], cwd=repo).stdout
        out[path.replace("/", "").removesuffix(".json")] = json.loads(blob)
    return out


def model(m: dict[str, Any]) -> str:
    return f"model:{m['name']}/{m['version']}"


def prov_relations(records: dict[str, dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(relation, subject, object) for every relation docs/exports.md says the records imply."""
    out: set[tuple[str, str, str]] = set()
    for doc in records.values():
        kind = doc["kind"]
        if kind == "registration":
            out.add(("wasGeneratedBy", model(doc["model"]), f"run:{doc['run']}"))
        elif kind == "attachment":
            out.add(("wasDerivedFrom", f"commit:{doc['commit']}", f"commit:{doc['snapshot']}"))
        elif kind == "reproduction" and doc.get("rerun_run"):
            out.add(("wasInformedBy", f"run:{doc['rerun_run']}", f"run:{doc['original_run']}"))
        elif kind == "run":
            out |= _run_relations(doc)
    return out


def _run_relations(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    run = f"run:{doc['run']['run_id']}" if doc.get("run") else f"run:local-{doc['session']}"
    out = {
        ("wasAssociatedWith", run, f"agent:{doc['created']['email']}"),
        ("wasAssociatedWith", run, "agent:lineage"),
    }
    code = doc["code"]
    if code.get("snapshot") or code.get("commit"):
        out.add(("used", run, f"commit:{code.get('snapshot') or code['commit']}"))
    if code.get("snapshot") and code.get("commit"):
        out.add(("wasDerivedFrom", f"commit:{code['snapshot']}", f"commit:{code['commit']}"))
    inputs = {f"data:{d['md5']}" for d in doc.get("inputs", ())}
    made = {f"data:{d['md5']}" for d in doc.get("outputs", ())}
    made |= {model(m) for m in doc.get("models", ())}
    out |= {("used", run, i) for i in inputs} | {("wasGeneratedBy", m, run) for m in made}
    out |= {("wasDerivedFrom", m, i) for m in made for i in inputs if m != i}
    parent = (doc.get("run") or {}).get("parent_run_id")
    if parent:
        out.add(("wasInformedBy", run, f"run:{parent}"))
    return out


def read_prov(text: str, fmt: str) -> Any:
    """A PROV-JSON or PROV-O (Turtle) document parsed by the ``prov`` package."""
    import warnings

    from prov.model import ProvDocument

    if fmt == "json":
        return ProvDocument.deserialize(content=text, format="json")
    with warnings.catch_warnings():  # prov 3.2 on rdflib 7: Dataset.default_context
        warnings.simplefilter("ignore", DeprecationWarning)
        return ProvDocument.deserialize(content=text, format="rdf", rdf_format="turtle")


def relations_in(prov_doc: Any) -> set[tuple[str, str, str]]:
    """(relation, subject, object) of every relation in a parsed ``prov`` document."""
    names = {
        "prov:Usage": "used",
        "prov:Generation": "wasGeneratedBy",
        "prov:Association": "wasAssociatedWith",
        "prov:Derivation": "wasDerivedFrom",
        "prov:Communication": "wasInformedBy",
    }
    out = set()
    for record in prov_doc.get_records():
        if record.is_relation():
            first, second = (v for _, v in record.formal_attributes[:2])
            out.add((names.get(str(record.get_type()), "?"), _short(first), _short(second)))
    return out


def _short(name: Any) -> str:
    """``run:<id>`` for the URI ``urn:lineage:run:<id>``, whatever prefix a parser chose (an
    RDF writer may split a URI at its last ``/``)."""
    uri = str(name.uri)
    assert uri.startswith("urn:lineage:"), uri
    return unquote(uri.removeprefix("urn:lineage:"))


# What an OpenLineage 2-0-2 run event must hold, written for these tests from the spec's
# documented rules (the spec's own JSON schema files are not vendored): the event's fields, each
# facet's `_producer` and `_schemaURL`, and the fields the standard facets lineage writes require.
# `eventType` is optional in the spec; lineage always sends one, so it is required here.
URI = {"type": "string", "format": "uri"}
UUID = {"type": "string", "format": "uuid"}
TEXT = {"type": "string"}
NAME = {"type": "string", "minLength": 1}


def needs(*, also: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """An object that must hold ``fields`` and may hold ``also``, each as the schema given."""
    return {"type": "object", "required": list(fields), "properties": {**fields, **(also or {})}}


def datasets(own: str) -> dict[str, Any]:
    """``inputs`` or ``outputs``: datasets, with the facets only inputs or outputs have."""
    dataset = needs(namespace=TEXT, name=TEXT, also={"facets": FACETS, own: FACETS})
    return {"type": "array", "items": dataset}


FACET = needs(_producer=URI, _schemaURL=URI)
FACETS = {"type": "object", "additionalProperties": FACET}
RUN_EVENT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    **needs(
        eventTime={"type": "string", "format": "date-time"},
        producer=URI,
        schemaURL=URI,
        eventType={"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        run=needs(runId=UUID, also={"facets": FACETS}),
        job=needs(namespace=NAME, name=NAME, also={"facets": FACETS}),
        also={"inputs": datasets("inputFacets"), "outputs": datasets("outputFacets")},
    ),
}
FACET_SCHEMA = Path(__file__).parent.parent / "lineage" / "schema" / "LineageRunFacet.json"


def facet_rules() -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """For each place facets sit, the facet names lineage writes there: the ``_schemaURL`` the
    facet must carry (openlineage-python's generated class's; lineage's own schema's for the
    ``lineage`` facet) and what the facet requires."""
    from openlineage.client.facet_v2 import (
        dataset_version_dataset,
        job_type_job,
        parent_run,
        source_code_location_job,
    )

    own = json.loads(FACET_SCHEMA.read_text())["$id"] + "#/$defs/LineageRunFacet"
    return {
        "run": {
            "parent": (
                parent_run.ParentRunFacet._get_schema(),
                needs(run=needs(runId=UUID), job=needs(namespace=NAME, name=NAME)),
            ),
            "lineage": (own, {"$ref": own}),  # lineage/schema/LineageRunFacet.json
        },
        "job": {
            "jobType": (
                job_type_job.JobTypeJobFacet._get_schema(),
                needs(processingType=TEXT, integration=TEXT),
            ),
            "sourceCodeLocation": (
                source_code_location_job.SourceCodeLocationJobFacet._get_schema(),
                needs(type=TEXT, url=URI),
            ),
        },
        "dataset": {
            "version": (
                dataset_version_dataset.DatasetVersionDatasetFacet._get_schema(),
                needs(datasetVersion=TEXT),
            ),
        },
        "inputFacets": {},
        "outputFacets": {},
    }


RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|[+-](\d\d):(\d\d))"
)
URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*")  # absolute (RFC 3986)


def format_checker() -> Any:
    """jsonschema's checker, with ``uri`` and ``date-time`` checked here where the optional
    packages jsonschema would check them with are not installed (it skips them then)."""
    from datetime import date

    from jsonschema import FormatChecker

    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        match = RFC3339.fullmatch(value)
        if not match:
            return False
        day, hour, minute, second, off_h, off_m = match.groups()
        try:
            date.fromisoformat(day)
        except ValueError:
            return False
        return (
            int(hour) < 24
            and int(minute) < 60
            and int(second) <= 60
            and int(off_h or 0) < 24
            and int(off_m or 0) < 60
        )

    checker = FormatChecker()
    if "uri" not in checker.checkers:
        checker.checks("uri")(lambda v: not isinstance(v, str) or bool(URI_RE.fullmatch(v)))
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(date_time)
    return checker


def spec_problems(event: dict[str, Any]) -> list[str]:
    """Everything in ``event`` that breaks the rules above, each as ``where: what``: the event
    against ``RUN_EVENT``; each facet named as the spec names the facet lineage means there,
    carrying that facet's ``_schemaURL``, and holding what that facet requires."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    own = json.loads(FACET_SCHEMA.read_text())
    registry: Registry[Any] = Registry().with_resource(own["$id"], Resource.from_contents(own))
    checker = format_checker()

    def check(instance: Any, schema: dict[str, Any], where: str) -> list[str]:
        validator = Draft202012Validator(schema, registry=registry, format_checker=checker)
        return [
            ("/".join([where, *map(str, e.absolute_path)]) or "/") + f": {e.message}"
            for e in validator.iter_errors(instance)
        ]

    Draft202012Validator.check_schema(RUN_EVENT)
    problems = check(event, RUN_EVENT, "")
    rules = facet_rules()
    places = [("run", "/run/facets", event.get("run")), ("job", "/job/facets", event.get("job"))]
    for side, own_facets in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for n, dataset in enumerate(event.get(side) or []):
            places.append(("dataset", f"/{side}/{n}/facets", dataset))
            places.append((own_facets, f"/{side}/{n}/{own_facets}", dataset))
    for place, where, holder in places:
        facets = holder.get(where.rsplit("/", 1)[1]) if isinstance(holder, dict) else None
        for name, facet in (facets if isinstance(facets, dict) else {}).items():
            if name not in rules[place]:
                problems.append(f"{where}/{name}: no {place} facet of that name is expected")
                continue
            url, required = rules[place][name]
            if isinstance(facet, dict) and facet.get("_schemaURL") != url:
                problems.append(
                    f"{where}/{name}/_schemaURL: {facet.get('_schemaURL')!r} != {url!r}"
                )
            problems += check(facet, required, f"{where}/{name}")
    return problems
