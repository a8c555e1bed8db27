"""Turn a user's REF into one node of the lineage graph.

REF forms: ``name/3``, ``name@alias``, ``models:/name/3``, ``models:/name@alias`` (aliases are
resolved live from the registry, never cached), an MLflow run id, a commit sha or unique prefix
(or anything ``git rev-parse`` resolves, like ``HEAD``), a data md5 or ``path@md5-prefix``, and
a record id prefix. Ambiguous or unknown REFs raise a one-line error listing what would match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lineage.adapters import git
from lineage.errors import BadReferenceError, LineageError
from lineage.index import Index, node_key, run_key_of

if TYPE_CHECKING:
    from lineage.records import ModelVersion

HEX = re.compile(r"^[0-9a-f]{4,64}(\.dir)?$")
LOCAL_RUN = re.compile(r"^local-[0-9a-f]{4,32}$")  # a run without MLflow, or a prefix of one
VERSION = re.compile(r"^(?P<name>[^@/\s][^@\s]*)/(?P<version>\d+)$")
ALIAS = re.compile(r"^(?P<left>[^@\s]+)@(?P<right>[^@\s/]+)$")
FORMS = "name/3, name@alias, models:/name/3, a run id, a commit, a data md5 or path@md5"


@dataclass(frozen=True)
class Node:
    kind: str  # model, run, commit, data
    ident: str  # name/3, run id, sha, md5
    resolved_from: str | None = None  # e.g. "churn@champion -> churn/2"
    aliases: dict[str, int] = field(default_factory=dict)
    path: str | None = None  # for data given as path@md5
    registry_run_id: str | None = None  # the run the registry says made this model version

    @property
    def key(self) -> str:
        return node_key(self.kind, self.ident)


def resolve(ref: str, *, index: Index, paths: git.RepoPaths, environ: Mapping[str, str]) -> Node:
    text = ref.strip()
    if not text or text != ref:
        raise BadReferenceError(ref, f"malformed REF {ref!r}; use one of: {FORMS}")
    if text.startswith("models:"):
        return _model_uri(text, index=index, paths=paths, environ=environ)
    if text.startswith("local-") and index.has_node(node_key("run", text)):
        return Node("run", text)
    if LOCAL_RUN.match(text.lower()):
        return _local_run_prefix(text.lower(), index=index)
    lowered = text.lower()
    if HEX.match(lowered):
        return _hex(lowered, index=index, paths=paths)
    if m := VERSION.match(text):
        return _model_version(
            m["name"], int(m["version"]), index=index, paths=paths, environ=environ
        )
    if m := ALIAS.match(text):
        left, right = m["left"], m["right"]
        recorded = index.md5s_at_path(left.rstrip("/"))
        if recorded:
            return _data_at(left.rstrip("/"), right.lower(), recorded)
        return _model_alias(left, right, index=index, paths=paths, environ=environ)
    commit = git.resolve_commit_prefix(paths, text) if not text.startswith("-") else None
    if commit:
        return Node("commit", commit, resolved_from=text)
    if index.model_versions(text):
        versions = ", ".join(f"{text}/{v}" for v in index.model_versions(text))
        raise BadReferenceError(
            ref, f"{ref!r} names a model; give a version or an alias: {versions} or {text}@ALIAS"
        )
    raise BadReferenceError(ref, f"nothing recorded matches {ref!r}; use one of: {FORMS}")


def _model_uri(text: str, **kw: object) -> Node:
    rest = text[len("models:") :]
    rest = rest[1:] if rest.startswith("/") else ""
    if m := VERSION.match(rest):
        return _model_version(m["name"], int(m["version"]), **kw)  # type: ignore[arg-type]
    if m := ALIAS.match(rest):
        return _model_alias(m["left"], m["right"], **kw)  # type: ignore[arg-type]
    raise BadReferenceError(
        text, f"malformed model URI {text!r}; use models:/NAME/VERSION or models:/NAME@ALIAS"
    )


def _hex(prefix: str, *, index: Index, paths: git.RepoPaths) -> Node:
    candidates: dict[str, Node] = {}
    for kind in ("run", "data", "commit"):
        for key in index.nodes_with_prefix(kind, prefix):
            candidates[key] = Node(kind, key.partition(":")[2])
    if not prefix.endswith(".dir"):
        for rid in index.record_ids_with_prefix(prefix):
            doc = index.record(rid)
            if doc and doc.get("kind") == "run":
                run_key = run_key_of(doc)
                candidates.setdefault(
                    node_key("run", run_key), Node("run", run_key, f"record {rid[:12]}")
                )
        if not candidates:  # a commit without lineage still shows (as "no runs recorded")
            sha = git.resolve_commit_prefix(paths, prefix)
            if sha:
                candidates[node_key("commit", sha)] = Node("commit", sha)
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    if not candidates:
        raise BadReferenceError(
            prefix,
            f"nothing recorded matches {prefix!r}: no run, commit, data md5 or record "
            "starts with it; `lineage log` lists recorded runs",
        )
    listed = ", ".join(f"{n.kind} {n.ident}" for n in list(candidates.values())[:6])
    raise BadReferenceError(
        prefix, f"{prefix!r} is ambiguous: it matches {listed}; give more characters"
    )


def _local_run_prefix(prefix: str, *, index: Index) -> Node:
    """``local-e118b89ad46c`` as `lineage log` prints it: a unique prefix, like a short sha."""
    keys = index.nodes_with_prefix("run", prefix)
    if len(keys) == 1:
        return Node("run", keys[0].partition(":")[2])
    if not keys:
        raise BadReferenceError(
            prefix, f"no recorded run starts with {prefix!r}; `lineage log` lists recorded runs"
        )
    listed = ", ".join(key.partition(":")[2] for key in keys[:6])
    raise BadReferenceError(
        prefix, f"{prefix!r} is ambiguous: it matches runs {listed}; give more characters"
    )


def _data_at(path: str, prefix: str, md5s: list[str]) -> Node:
    matches = [m for m in md5s if m.startswith(prefix)]
    if len(matches) == 1:
        return Node("data", matches[0], path=path)
    versions = ", ".join(m[:10] for m in md5s)
    if not matches:
        raise BadReferenceError(
            f"{path}@{prefix}",
            f"{path} has no recorded version starting {prefix!r}; recorded versions: {versions}",
        )
    raise BadReferenceError(
        f"{path}@{prefix}",
        f"{path}@{prefix} is ambiguous: it matches {versions}; give more characters",
    )


def _registry(paths: git.RepoPaths, environ: Mapping[str, str]) -> tuple[str, str]:
    from lineage.adapters import mlflow as mlflow_adapter

    uri = mlflow_adapter.tracking_uri(environ, Path.cwd())
    return uri, mlflow_adapter.registry_uri(environ, uri)


def _model_version(
    name: str, version: int, *, index: Index, paths: git.RepoPaths, environ: Mapping[str, str]
) -> Node:
    node = Node("model", f"{name}/{version}")
    if index.has_node(node.key):
        return node
    recorded = index.model_versions(name)
    if recorded:
        listed = ", ".join(str(v) for v in recorded)
        raise BadReferenceError(
            f"{name}/{version}",
            f"model {name!r} has no recorded version {version}; recorded versions: {listed}",
        )
    # Nothing recorded under that name: ask the registry, whose error names what exists.
    from lineage.adapters import mlflow as mlflow_adapter

    uri, registry = _registry(paths, environ)
    found, run_id = mlflow_adapter.resolve_model(uri, registry, name, version=version)
    return _unrecorded(Node("model", str(found), registry_run_id=run_id), index)


def _model_alias(
    name: str, alias: str, *, index: Index, paths: git.RepoPaths, environ: Mapping[str, str]
) -> Node:
    from lineage.adapters import mlflow as mlflow_adapter

    uri, registry = _registry(paths, environ)
    found, run_id = mlflow_adapter.resolve_model(uri, registry, name, alias=alias)
    node = Node(
        "model",
        str(found),
        resolved_from=f"{name}@{alias}",
        aliases={alias: found.version},
        registry_run_id=run_id,
    )
    return node if index.has_node(node.key) else _unrecorded(node, index)


def _unrecorded(node: Node, index: Index) -> Node:
    run_id = node.registry_run_id
    if run_id and index.records_for_run(run_id):
        return node  # the run is recorded; the registration happened after it
    raise BadReferenceError(
        node.ident,
        f"model version {node.ident} exists in the registry but lineage has no "
        f"record of the run that produced it ({run_id or 'no run'}); record training with "
        "`lineage run -- ...`",
    )


def run_of(ref: str, node: Node, index: Index, *, verb: str) -> tuple[str, ModelVersion | None]:
    """The recorded run behind a model version or run node (and the model version, if REF
    named one): the registry's answer first, then the recorded ``produced`` edge."""
    if node.kind == "run":
        return node.ident, None
    if node.kind != "model":
        raise LineageError(
            f"{ref} is a {node.kind}; {verb} takes a model version (name/3, name@alias, "
            "models:/...) or a run id"
        )
    name, _, version = node.ident.rpartition("/")
    from lineage.records import ModelVersion

    model = ModelVersion(name, int(version))
    candidates = [node.registry_run_id] if node.registry_run_id else []
    candidates += index.producers(node.key)
    for run_key in candidates:
        if index.records_for_run(run_key):
            return run_key, model
    raise LineageError(
        f"model version {node.ident} was made by run {(candidates or ['?'])[0]}, which lineage "
        "has no record of; record training with `lineage run -- ...`"
    )
