"""Turn a user's REF (parsed by ``lineage/refs.py``) into one node of the lineage graph.

Model versions and aliases are resolved live in the registry of the invocation's context (never
cached); everything else is looked up in the index, and commits in git. Ambiguous or unknown
REFs raise a one-line error listing what would match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lineage import refs
from lineage.context import Context
from lineage.documents import run_key_of
from lineage.edges import node_key
from lineage.errors import BadReferenceError, LineageError
from lineage.index import Index

if TYPE_CHECKING:  # a run or commit REF never builds one (its dataclass costs ~1 ms to create)
    from lineage.model_version import ModelVersion


@dataclass(frozen=True)
class Node:
    kind: str  # model, run, commit, data
    ident: str  # name/3, run id, sha, md5
    resolved_from: str | None = None  # e.g. "churn@champion" for churn/2
    aliases: dict[str, int] = field(default_factory=dict)
    path: str | None = None  # for data given as path@md5
    registry_run_id: str | None = None  # the run the registry says made this model version
    model: ModelVersion | None = None  # kind "model": the version, typed

    @classmethod
    def of_model(
        cls,
        model: ModelVersion,
        *,
        resolved_from: str | None = None,
        aliases: dict[str, int] | None = None,
        registry_run_id: str | None = None,
    ) -> Node:
        return cls(
            "model",
            str(model),
            resolved_from=resolved_from,
            aliases=aliases or {},
            registry_run_id=registry_run_id,
            model=model,
        )

    @property
    def key(self) -> str:
        return node_key(self.kind, self.ident)


def resolve(ctx: Context, ref: str) -> Node:
    """The node ``ref`` names, in the context's index, repository and registry."""
    parsed = refs.parse(ref)
    index = ctx.index
    if isinstance(parsed, refs.ModelRef):
        return model_node(ctx, parsed)
    if isinstance(parsed, refs.LocalRunRef):
        return _local_run(ctx, parsed)
    if isinstance(parsed, refs.HexRef):
        return _hex(ctx, parsed.prefix)
    if isinstance(parsed, refs.AtRef):
        recorded = index.md5s_at_path(parsed.path)
        if recorded:  # a recorded data path wins over a model of the same name
            return _data_at(parsed.path, parsed.right.lower(), recorded)
        if parsed.model is not None:
            return model_node(ctx, parsed.model)
    return _revision(ctx, ref)  # HEAD@{1} and the like


def _revision(ctx: Context, text: str) -> Node:
    from lineage.adapters import git
    from lineage.model_version import ModelVersion

    commit = git.resolve_commit_prefix(ctx.paths, text) if not text.startswith("-") else None
    if commit:
        return Node("commit", commit, resolved_from=text)
    versions = ctx.index.model_versions(text)
    if versions:
        listed = ", ".join(str(ModelVersion(text, v)) for v in versions)
        raise BadReferenceError(
            text, f"{text!r} names a model; give a version or an alias: {listed} or {text}@ALIAS"
        )
    raise BadReferenceError(text, f"nothing recorded matches {text!r}; use one of: {refs.FORMS}")


def _hex(ctx: Context, prefix: str) -> Node:
    index = ctx.index
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
            from lineage.adapters import git

            sha = git.resolve_commit_prefix(ctx.paths, prefix)
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


def _local_run(ctx: Context, ref: refs.LocalRunRef) -> Node:
    """``local-e118b89ad46c`` as `lineage log` prints it: the whole key, or a unique prefix of
    one, like a short sha; anything else is left to git."""
    index = ctx.index
    if index.has_node(node_key("run", ref.text)):
        return Node("run", ref.text)
    prefix = ref.prefix
    if prefix is None:
        return _revision(ctx, ref.text)
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


def model_node(ctx: Context, ref: refs.ModelRef) -> Node:
    """The model version a version or alias names now (an alias always asks the registry)."""
    from lineage.model_version import ModelVersion

    if ref.alias is not None:
        return _model_alias(ctx, ref.name, ref.alias)
    if ref.version is None:
        raise BadReferenceError(
            str(ref), f"{ref} names a model; give a version or an alias: {ref}/3 or {ref}@ALIAS"
        )
    return _model_version(ctx, ModelVersion(ref.name, ref.version))


def _model_version(ctx: Context, model: ModelVersion) -> Node:
    node = Node.of_model(model)
    if ctx.index.has_node(node.key):
        return node
    recorded = ctx.index.model_versions(model.name)
    if recorded:
        listed = ", ".join(str(v) for v in recorded)
        raise BadReferenceError(
            str(model),
            f"model {model.name!r} has no recorded version {model.version}; recorded versions: "
            f"{listed}",
        )
    # Nothing recorded under that name: ask the registry, whose error names what exists.
    from lineage.adapters import mlflow_registry

    found, run_id = mlflow_registry.resolve_model(ctx.mlflow, model.name, version=model.version)
    return _unrecorded(Node.of_model(found, registry_run_id=run_id), ctx.index)


def _model_alias(ctx: Context, name: str, alias: str) -> Node:
    from lineage.adapters import mlflow_registry

    found, run_id = mlflow_registry.resolve_model(ctx.mlflow, name, alias=alias)
    node = Node.of_model(
        found,
        resolved_from=f"{name}@{alias}",
        aliases={alias: found.version},
        registry_run_id=run_id,
    )
    return node if ctx.index.has_node(node.key) else _unrecorded(node, ctx.index)


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
    if node.model is None:
        raise LineageError(
            f"{ref} is a {node.kind}; {verb} takes a model version (name/3, name@alias, "
            "models:/...) or a run id"
        )
    candidates = [node.registry_run_id] if node.registry_run_id else []
    candidates += index.producers(node.key)
    for run_key in candidates:
        if index.records_for_run(run_key):
            return run_key, node.model
    raise LineageError(
        f"model version {node.ident} was made by run {(candidates or ['?'])[0]}, which lineage "
        "has no record of; record training with `lineage run -- ...`"
    )
