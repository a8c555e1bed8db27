"""Records as OpenLineage run events (openlineage-python's classes), for lineage servers such
as Marquez and DataHub (docs/exports.md#openlineage). Pure: records and the repository's names
in, events out; openlineage is imported here only, and this module only by
``lineage export openlineage``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    job_type_job,
    parent_run,
    source_code_location_job,
)
from openlineage.client.generated.base import RunFacet
from openlineage.client.uuid import generate_static_uuid

from lineage import __version__
from lineage.clock import from_ms
from lineage.documents import run_key_of, start_order
from lineage.edges import WANDB_MODEL_TYPE
from lineage.export_source import Doc, Records, data_identity

PRODUCER = f"urn:lineage:{__version__}"
FACET = "lineage"  # the key of lineage's custom run facet
FACET_SCHEMA = "urn:lineage:schema:LineageRunFacet:1#/$defs/LineageRunFacet"
INTERPRETERS = ("python", "python3", "Rscript", "julia", "bash", "sh", "node", "uv", "poetry")
FINAL_STATES = {
    "FINISHED": RunState.COMPLETE,
    "succeeded": RunState.COMPLETE,
    "FAILED": RunState.FAIL,
    "failed": RunState.FAIL,
    "KILLED": RunState.ABORT,
    "killed": RunState.ABORT,
    "interrupted": RunState.ABORT,
    "lost": RunState.ABORT,
}


@dataclass(frozen=True)
class Names:
    """Where the events place things: the job namespace, the dataset namespace of repository
    paths, and the code's URL (the remote's, credentials stripped; else the work tree's)."""

    jobs: str
    data: str
    code_url: str


@attr.define
class LineageRunFacet(RunFacet):
    """lineage's facts that no standard facet holds (lineage/schema/LineageRunFacet.json)."""

    record: str
    runKey: str  # camelCase: OpenLineage spells facet fields so
    evidence: str
    status: str | None = None
    mlflow: dict[str, Any] | None = None
    wandb: dict[str, Any] | None = None
    command: list[str] | None = None
    exitCode: int | None = None
    params: dict[str, str] = attr.field(factory=dict)
    metrics: dict[str, float | str] = attr.field(factory=dict)
    code: dict[str, Any] = attr.field(factory=dict)
    stages: list[str] = attr.field(factory=list)
    environment: dict[str, Any] | None = None
    unknownInputs: list[str] = attr.field(factory=list)
    reproductions: list[dict[str, Any]] = attr.field(factory=list)
    _additional_skip_redact: ClassVar[list[str]] = ["record", "runKey"]

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA


def run_uuid(doc: Doc) -> str:
    """The run's OpenLineage id: a UUIDv7 (the spec's recommendation) whose time is the run's
    start and whose other bits are a hash of its run key, so exporting twice gives the same id.
    From the run key, not the record id: a run keeps its id when a better record of it (an
    observed one after an import) arrives."""
    return str(generate_static_uuid(_start(doc) or _EPOCH, run_key_of(doc).encode()))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def job_name(doc: Doc) -> str:
    """The job a run is an instance of: its DVC stages, its MLflow Project entry point, or its
    command up to the script (``python train.py``: arguments vary between runs of one job)."""
    if doc.get("stages"):
        return "dvc:" + "+".join(s["name"] for s in doc["stages"])
    project = doc.get("project")
    if project:
        return f"mlflow-project:{project['uri']}:{project['entry_point']}"
    argv = list((doc.get("command") or {}).get("argv") or ())
    if not argv:
        run = doc.get("run") or {}
        return f"mlflow-experiment:{run.get('experiment_name') or run.get('experiment_id')}"
    words = argv[:1]
    if argv[0].rsplit("/", 1)[-1].startswith(INTERPRETERS):
        words += [a for a in argv[1:] if not a.startswith("-")][:1]
    return shlex.join(words)


def _start(doc: Doc) -> datetime | None:
    run, command = doc.get("run") or {}, doc.get("command") or {}
    if run.get("start_ms") is not None:
        return from_ms(run["start_ms"])
    return datetime.fromisoformat(command["started"]) if command.get("started") else None


def _end(doc: Doc) -> datetime | None:
    run, command = doc.get("run") or {}, doc.get("command") or {}
    if run.get("end_ms") is not None:
        return from_ms(run["end_ms"])
    return datetime.fromisoformat(command["ended"]) if command.get("ended") else None


def _status(doc: Doc) -> str | None:
    run, command = doc.get("run") or {}, doc.get("command") or {}
    return run.get("status") or command.get("status")


def _job(doc: Doc, names: Names) -> Job:
    code = doc.get("code") or {}
    kind = (
        "DVC_STAGE" if doc.get("stages") else "MLFLOW_PROJECT" if doc.get("project") else "COMMAND"
    )
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="LINEAGE", jobType=kind, producer=PRODUCER
        )
    }
    if code.get("snapshot") or code.get("commit"):
        facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
            type="git",
            url=names.code_url,
            repoUrl=names.code_url,
            path=(doc.get("command") or {}).get("cwd") or None,
            version=code.get("snapshot") or code.get("commit"),
            branch=code.get("branch"),
            producer=PRODUCER,
        )
    return Job(namespace=names.jobs, name=job_name(doc), facets=facets)


def _dataset(names: Names, data: Doc) -> dict[str, Any]:
    version = dataset_version_dataset.DatasetVersionDatasetFacet(
        datasetVersion=data_identity(data), producer=PRODUCER
    )
    return {"namespace": names.data, "name": data["path"], "facets": {"version": version}}


def _model(doc: Doc, model: Doc, tracking: str | None) -> OutputDataset:
    version = dataset_version_dataset.DatasetVersionDatasetFacet(
        datasetVersion=str(model["version"])
    )
    return OutputDataset(
        namespace=f"mlflow:{tracking or 'unknown'}",
        name=str(model["name"]),
        facets={"version": version},
    )


def _wandb_namespace(wandb: Doc) -> str:
    """A W&B project as a dataset namespace: ``wandb:<entity>/<project>`` (the entity left out
    when the run named none)."""
    entity = wandb.get("entity")
    return f"wandb:{entity}/{wandb['project']}" if entity else f"wandb:{wandb['project']}"


def _wandb_facts(wandb: Doc) -> dict[str, Any]:
    head = f"{wandb['entity']}/{wandb['project']}" if wandb.get("entity") else wandb["project"]
    return {
        "runPath": f"{head}/{wandb['run_id']}",
        "runName": wandb.get("name"),
        "group": wandb.get("group"),
        "jobType": wandb.get("job_type"),
        "sweepId": wandb.get("sweep_id"),
        "offline": bool(wandb.get("offline")),
    }


def _wandb_datasets(doc: Doc) -> tuple[list[InputDataset], list[OutputDataset]]:
    """A W&B run's artifacts: each file of one it used is an input, each file of one it
    logged an output (name ``<artifact>/<path>``, version the file's md5, which is DVC's md5
    of the same bytes); a used artifact whose files the run directory does not hold is one
    input named by the artifact; a logged ``model`` artifact is also an output of its own,
    versioned by its digest, as MLflow's registered versions are."""
    wandb = doc.get("wandb") or {}
    if not wandb:
        return [], []
    namespace = _wandb_namespace(wandb)
    inputs: list[InputDataset] = []
    outputs: list[OutputDataset] = []

    def version(text: str) -> dict[str, Any]:
        return {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=text, producer=PRODUCER
            )
        }

    for artifact in wandb.get("artifacts") or ():
        files = [
            (f"{artifact['name']}/{f['path']}", version(f["md5"]))
            for f in artifact.get("files") or ()
        ]
        if artifact.get("used"):
            if not files:
                inputs.append(InputDataset(namespace=namespace, name=artifact["name"]))
            inputs += [InputDataset(namespace=namespace, name=n, facets=v) for n, v in files]
            continue
        outputs += [OutputDataset(namespace=namespace, name=n, facets=v) for n, v in files]
        if artifact.get("type") == WANDB_MODEL_TYPE and artifact.get("digest"):
            outputs.append(
                OutputDataset(
                    namespace=namespace, name=artifact["name"], facets=version(artifact["digest"])
                )
            )
    return inputs, outputs


def _facet(record_id: str, doc: Doc, reproductions: list[Doc]) -> LineageRunFacet:
    run, command, code = doc.get("run") or {}, doc.get("command") or {}, doc.get("code") or {}
    env = doc.get("environment")
    mlflow = None
    if run:
        mlflow = {
            "runId": run["run_id"],
            "trackingUri": run.get("tracking_uri"),
            "experimentId": run.get("experiment_id"),
            "experimentName": run.get("experiment_name"),
            "runName": run.get("name"),
        }
    wandb = doc.get("wandb") or {}
    tracked = run or wandb  # a W&B run's config and summary, as MLflow's params and metrics
    return LineageRunFacet(
        record=record_id,
        runKey=run_key_of(doc),
        evidence=doc["evidence"],
        status=_status(doc),
        mlflow=mlflow,
        wandb=_wandb_facts(wandb) if wandb else None,
        command=list(command["argv"]) if command.get("argv") else None,
        exitCode=command.get("exit_code"),
        params=dict(tracked.get("params") or {}),
        metrics=dict(tracked.get("metrics") or {}),
        code={k: code.get(k) for k in ("commit", "snapshot", "dirty", "branch")},
        stages=[s["name"] for s in doc.get("stages") or ()],
        environment=(
            {k: env.get(k) for k in ("python", "implementation", "platform", "packages_hash")}
            if env
            else None
        ),
        unknownInputs=list(doc.get("unknown_inputs") or ()),
        reproductions=[
            {"record": r["id"], "verdict": r["verdict"], "rerun": r.get("rerun_run")}
            for r in reproductions
        ],
        producer=PRODUCER,
    )


def run_events(
    record_id: str,
    doc: Doc,
    names: Names,
    *,
    models: list[Doc],
    parent: Doc | None,
    reproductions: list[Doc],
) -> list[RunEvent]:
    """START, then COMPLETE, FAIL or ABORT when the run ended; ``models`` are every version it
    produced (its record's and later registrations'), ``parent`` the record of the run it is
    nested in."""
    run_facets: dict[str, Any] = {FACET: _facet(record_id, doc, reproductions)}
    parent_key = (doc.get("run") or {}).get("parent_run_id")
    if parent_key:
        parent_doc = parent or {"run": {"run_id": parent_key, "experiment_id": "?"}}
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_uuid(parent_doc)),
            job=parent_run.Job(namespace=names.jobs, name=job_name(parent_doc)),
            producer=PRODUCER,
        )
    run = Run(runId=run_uuid(doc), facets=run_facets)
    job = _job(doc, names)
    inputs = [InputDataset(**_dataset(names, d)) for d in doc.get("inputs") or ()]
    tracking = (doc.get("run") or {}).get("tracking_uri")
    outputs = [OutputDataset(**_dataset(names, d)) for d in doc.get("outputs") or ()]
    outputs += [_model(doc, m, tracking) for m in models]
    used, logged = _wandb_datasets(doc)
    inputs += used
    outputs += logged
    start, end = _start(doc) or _EPOCH, _end(doc)
    events = [
        RunEvent(
            eventType=RunState.START,
            eventTime=start.isoformat(),
            run=run,
            job=job,
            inputs=inputs,
            outputs=[],
            producer=PRODUCER,
        )
    ]
    final = FINAL_STATES.get(_status(doc) or "")
    if final is not None:
        events.append(
            RunEvent(
                eventType=final,
                eventTime=(end or start).isoformat(),
                run=run,
                job=job,
                inputs=inputs,
                outputs=outputs,
                producer=PRODUCER,
            )
        )
    return events


def to_events(records: Records, names: Names, run_keys: set[str] | None = None) -> list[RunEvent]:
    """The events of every run in ``records`` (or of ``run_keys``), oldest run first (by
    ``documents.start_order``, the index's order); ``records`` also holds the runs' parents,
    registrations and reproductions."""
    models: dict[str, list[Doc]] = {}
    for key, (_, doc) in records.runs.items():
        models[key] = list(doc.get("models") or ())
    for _, reg in records.registrations:
        held = models.setdefault(reg["run"], [])
        if reg["model"] not in held:
            held.append(reg["model"])
    reproduced: dict[str, list[Doc]] = {}
    for rid, rep in records.reproductions:
        reproduced.setdefault(rep["original_run"], []).append({**rep, "id": rid})
    chosen = [
        (key, rid, doc)
        for key, (rid, doc) in records.runs.items()
        if run_keys is None or key in run_keys
    ]
    chosen.sort(key=lambda item: start_order(item[0], item[2]))
    events: list[RunEvent] = []
    for key, rid, doc in chosen:
        parent_key = (doc.get("run") or {}).get("parent_run_id")
        parent = records.runs[parent_key][1] if parent_key in records.runs else None
        events += run_events(
            rid,
            doc,
            names,
            models=models.get(key, []),
            parent=parent,
            reproductions=reproduced.get(key, []),
        )
    return events


def touched_runs(new: Iterable[tuple[str, Doc]], representatives: Mapping[str, str]) -> set[str]:
    """The run keys the records ``new`` (id, document) say something about: a run's record
    when it is the run's representative (``representatives``: run key -> record id), a
    registration's, an attachment's and a reproduction's run."""
    keys: set[str] = set()
    for record_id, doc in new:
        kind = doc.get("kind")
        if kind == "run":
            key = run_key_of(doc)
            if representatives.get(key) == record_id:
                keys.add(key)
        elif kind in ("registration", "attachment"):
            keys.add(doc["run"])
        elif kind == "reproduction":
            keys.add(doc["original_run"])
    return keys


def to_json(event: RunEvent) -> str:
    """One event as the client sends it (its Serde: no nulls, camelCase keys)."""
    from openlineage.client.serde import Serde

    return str(Serde.to_json(event))
