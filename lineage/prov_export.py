"""Records as a W3C PROV document (the ``prov`` package), for provenance tools: data, model
versions and commits are entities, runs are activities, the people who recorded runs and
lineage itself are agents (docs/exports.md#w3c-prov). Pure: records in, a document out; prov is
imported here only, and this module only by ``lineage export prov``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from prov.constants import PROV
from prov.identifier import Namespace
from prov.model import ProvDocument

from lineage.clock import from_ms
from lineage.documents import run_key_of
from lineage.edges import WANDB_MODEL_TYPE, artifact_path
from lineage.export_source import Doc, Records, data_identity

# Identifiers read like the node keys every other output uses: run:<id>, data:<md5>,
# model:<name>/<version>, commit:<sha>; agents are agent:<email> and agent:lineage.
NAMESPACES = {
    "lineage": "urn:lineage:vocab#",
    "run": "urn:lineage:run:",
    "data": "urn:lineage:data:",
    "model": "urn:lineage:model:",
    "commit": "urn:lineage:commit:",
    "agent": "urn:lineage:agent:",
}
FORMATS = ("json", "provn", "turtle")
LINEAGE = Namespace("lineage", NAMESPACES["lineage"])  # lineage's types and roles
LINEAGE_AGENT = "agent:lineage"


def model_id(model: dict[str, Any]) -> str:
    return f"model:{quote(str(model['name']), safe='')}/{int(model['version'])}"


def person_id(created: dict[str, Any]) -> str:
    return f"agent:{quote(str(created.get('email') or created.get('name') or 'unknown'), safe='@')}"


def _time(iso: str | None, ms: int | None) -> datetime | None:
    if ms is not None:
        return from_ms(ms)
    return datetime.fromisoformat(iso) if iso else None


class _Builder:
    """One document, each entity and agent added once."""

    def __init__(self) -> None:
        self.doc = ProvDocument()
        for prefix, uri in NAMESPACES.items():
            self.doc.add_namespace(prefix, uri)
        self.seen: set[str] = set()

    def entity(self, ident: str, attrs: list[tuple[str, Any]]) -> str:
        if ident not in self.seen:
            self.seen.add(ident)
            self.doc.entity(ident, attrs)
        return ident

    def data(self, data: Doc) -> str:
        ident = data_identity(data)
        return self.entity(
            f"data:{ident}", [("prov:type", LINEAGE["Data"]), ("lineage:md5", data["md5"])]
        )

    def commit(self, sha: str, *, snapshot: bool) -> str:
        kind = LINEAGE["Snapshot"] if snapshot else LINEAGE["Commit"]
        return self.entity(f"commit:{sha}", [("prov:type", kind), ("lineage:sha", sha)])

    def model(self, model: dict[str, Any]) -> str:
        label = f"{model['name']} v{int(model['version'])}"
        attrs: list[tuple[str, Any]] = [
            ("prov:type", LINEAGE["ModelVersion"]),
            ("prov:label", label),
        ]
        attrs += [("lineage:name", model["name"]), ("lineage:version", int(model["version"]))]
        return self.entity(model_id(model), attrs)

    def wandb_model(self, project: str, artifact: Doc) -> str:
        """A W&B model artifact version: ``model:wandb%3A<project>%2F<name>/<digest>``, the
        node key's ident spelt as MLflow's versions are (name, then version)."""
        name, digest = str(artifact["name"]), str(artifact["digest"])
        attrs: list[tuple[str, Any]] = [
            ("prov:type", LINEAGE["ModelVersion"]),
            ("prov:label", f"{name}:{digest[:8]}"),
            ("lineage:name", name),
            ("lineage:version", digest),
            ("lineage:tracker", "wandb"),
            ("lineage:project", project),
        ]
        ident = f"model:{quote(f'wandb:{project}/{name}', safe='')}/{digest}"
        return self.entity(ident, attrs)

    def agent(self, ident: str, attrs: list[tuple[str, Any]]) -> str:
        if ident not in self.seen:
            self.seen.add(ident)
            self.doc.agent(ident, attrs)
        return ident


def to_prov(records: Records, advance: Callable[[], object] = lambda: None) -> ProvDocument:
    """The PROV document of every run and what joins them (registrations, attachments,
    reproductions); ``advance()`` after each run (a progress bar's)."""
    out = _Builder()
    tools = sorted({str(doc["created"].get("tool", "")) for _, doc in records.runs.values()})
    out.agent(
        LINEAGE_AGENT,
        [("prov:type", PROV["SoftwareAgent"]), ("prov:label", "lineage")]
        + [("lineage:tool", tool) for tool in tools if tool],
    )
    for record_id, doc in records.runs.values():
        _run(out, record_id, doc)
        advance()
    for _, doc in records.registrations:
        run = f"run:{doc['run']}"
        out.doc.wasGeneratedBy(
            out.model(doc["model"]), run, other_attributes={"lineage:evidence": "registration"}
        )
    for _, doc in records.attachments:
        snapshot = out.commit(doc["snapshot"], snapshot=True)
        commit = out.commit(doc["commit"], snapshot=False)
        out.doc.wasDerivedFrom(
            commit, snapshot, other_attributes={"prov:type": LINEAGE["Attachment"]}
        )
    for _, doc in records.reproductions:
        if doc.get("rerun_run"):
            attrs = {"prov:type": LINEAGE["Reproduction"], "lineage:verdict": doc["verdict"]}
            out.doc.wasInformedBy(
                f"run:{doc['rerun_run']}", f"run:{doc['original_run']}", other_attributes=attrs
            )
    return out.doc


def _run(out: _Builder, record_id: str, doc: Doc) -> None:
    run = doc.get("run") or {}
    command = doc.get("command") or {}
    ident = f"run:{run_key_of(doc)}"
    attrs: list[tuple[str, Any]] = [("prov:type", LINEAGE["Run"]), ("lineage:record", record_id)]
    attrs.append(("lineage:evidence", doc["evidence"]))
    if run.get("name"):
        attrs.append(("prov:label", run["name"]))
    if run.get("status") or command.get("status"):
        attrs.append(("lineage:status", run.get("status") or command.get("status")))
    if command.get("argv"):
        attrs.append(("lineage:command", " ".join(command["argv"])))
    start = _time(command.get("started"), run.get("start_ms"))
    end = _time(command.get("ended"), run.get("end_ms"))
    out.doc.activity(ident, start, end, attrs)

    who = doc["created"]
    role = LINEAGE["operator"] if doc["evidence"] == "observed" else LINEAGE["importer"]
    person = out.agent(
        person_id(who), [("prov:type", PROV["Person"]), ("prov:label", who.get("name") or "")]
    )
    out.doc.wasAssociatedWith(ident, person, other_attributes={"prov:role": role})
    out.doc.wasAssociatedWith(
        ident, LINEAGE_AGENT, other_attributes={"prov:role": LINEAGE["recorder"]}
    )

    code = doc.get("code") or {}
    ran = code.get("snapshot") or code.get("commit")
    if ran:
        out.doc.used(
            ident,
            out.commit(ran, snapshot=bool(code.get("snapshot"))),
            start,
            other_attributes={"prov:role": LINEAGE["code"]},
        )
    if code.get("snapshot") and code.get("commit"):
        base = out.commit(code["commit"], snapshot=False)
        out.doc.wasDerivedFrom(
            f"commit:{ran}", base, other_attributes={"prov:type": PROV["Revision"]}
        )
    inputs = [out.data(data) for data in doc.get("inputs") or ()]
    for data, used in zip(doc.get("inputs") or (), inputs, strict=True):
        out.doc.used(ident, used, start, other_attributes={"lineage:path": data["path"]})
    made = []
    for data in doc.get("outputs") or ():
        made.append(out.data(data))
        out.doc.wasGeneratedBy(
            made[-1], ident, end, other_attributes={"lineage:path": data["path"]}
        )
    for model in doc.get("models") or ():
        made.append(out.model(model))
        out.doc.wasGeneratedBy(made[-1], ident, end)
    _wandb_artifacts(out, ident, doc, (start, end), inputs, made)
    for product in dict.fromkeys(made):
        for source in dict.fromkeys(inputs):
            if source != product:
                out.doc.wasDerivedFrom(product, source, ident)
    if run.get("parent_run_id"):
        out.doc.wasInformedBy(
            ident, f"run:{run['parent_run_id']}", other_attributes={"prov:type": LINEAGE["Nested"]}
        )


def _wandb_artifacts(
    out: _Builder,
    ident: str,
    doc: Doc,
    when: tuple[datetime | None, datetime | None],
    inputs: list[str],
    made: list[str],
) -> None:
    """A W&B run's artifact files as data it used or generated (path ``wandb:<artifact>/<file>``,
    the md5 DVC's of the same bytes), and each ``model`` artifact it logged as a model version.
    A logged file the run also read is not generated by it, as in the graph."""
    wandb = doc.get("wandb") or {}
    read = {d["md5"] for d in doc.get("inputs") or ()}
    for artifact in wandb.get("artifacts") or ():
        for f in artifact.get("files") or ():
            data = out.data({"md5": f["md5"]})
            path = {"lineage:path": artifact_path(artifact["name"], f["path"])}
            if artifact.get("used"):
                inputs.append(data)
                out.doc.used(ident, data, when[0], other_attributes=path)
            elif f["md5"] not in read:
                made.append(data)
                out.doc.wasGeneratedBy(data, ident, when[1], other_attributes=path)
        model = artifact.get("type") == WANDB_MODEL_TYPE and artifact.get("digest")
        if model and not artifact.get("used"):
            made.append(out.wandb_model(wandb["project"], artifact))
            out.doc.wasGeneratedBy(made[-1], ident, when[1])


def serialize(doc: ProvDocument, fmt: str) -> bytes:
    """PROV-JSON, PROV-N or PROV-O (Turtle, through rdflib)."""
    if fmt == "json":
        text = doc.serialize(format="json", indent=2)
    elif fmt == "provn":
        text = doc.serialize(format="provn")
    elif fmt == "turtle":
        import warnings

        # prov 3.2 builds an rdflib Dataset through APIs rdflib 7 deprecates
        # (Dataset.default_context); the Turtle is right, the warning is prov's to fix.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            text = doc.serialize(format="rdf", rdf_format="turtle")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    assert text is not None  # prov returns the text when given no destination
    return (text if text.endswith("\n") else text + "\n").encode()
