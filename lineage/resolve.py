"""Turn a user's REF (parsed by ``lineage/refs.py``) into one node of the lineage graph.

Model versions and aliases are resolved live in the registry of the invocation's context (never
cached); everything else is looked up in the index, and commits in git. Ambiguous or unknown
REFs raise a one-line error listing what would match.

Every command that takes a REF comes here, so every one takes the same forms, in one order of
precedence: a ``models:/`` URI is a model; text that is a recorded data path (as typed, else
relative to the working directory) is that data, whatever else it could also be; then the
forms of ``lineage/refs.py``. A bare path means its latest recorded version (the one first
recorded last); ``path@md5`` names another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lineage import refs
from lineage.context import Context
from lineage.documents import WANDB_PREFIX, run_key_of
from lineage.edges import node_key
from lineage.errors import BadReferenceError, LineageError
from lineage.formatting import newest, number_ranges, short_hash
from lineage.index import Index, like_escaped

if TYPE_CHECKING:  # a run or commit REF never builds one (its dataclass costs ~1 ms to create)
    from lineage.model_version import ModelVersion

_HEX_DIGITS = frozenset("0123456789abcdef")  # `string` costs ~0.5 ms to import for this


@dataclass(frozen=True)
class Node:
    kind: str  # model, run, commit, data
    ident: str  # name/3, run id, sha, md5
    resolved_from: str | None = None  # e.g. "churn@champion" for churn/2
    aliases: dict[str, int] = field(default_factory=dict)
    path: str | None = None  # for data given by its path (path@md5, or the bare path)
    registry_run_id: str | None = None  # the run the registry says made this model version
    model: ModelVersion | None = None  # kind "model": the version, typed
    versions: tuple[str, ...] = ()  # a bare data path: every md5 recorded at it, oldest first

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


def resolve(ctx: Context, ref: str, *, recorded_before: str | None = None) -> Node:
    """The node ``ref`` names, in the context's index, repository and registry.

    ``recorded_before`` (an ``--as-of`` bound) makes a bare data path mean its latest version
    recorded by then."""
    try:
        ref.encode("utf-8")
    except UnicodeEncodeError:  # bytes of another encoding, as Python passes them on
        raise BadReferenceError(
            ref, f"REF {ref!r} is not valid UTF-8; give it as UTF-8 text (`lineage log` prints ids)"
        ) from None
    parsed = refs.parse(ref)
    if isinstance(parsed, refs.ModelRef) and parsed.uri:
        return model_node(ctx, parsed)
    if isinstance(parsed, refs.AtRef):
        return _at(ctx, parsed)
    data = _recorded_path(ctx, ref, recorded_before)
    if data is not None:  # a recorded data path wins over every other reading of the text
        return data
    if isinstance(parsed, refs.ModelRef):
        return model_node(ctx, parsed)
    if isinstance(parsed, refs.LocalRunRef):
        return _local_run(ctx, parsed)
    wandb = _wandb_model(ctx, ref) or _wandb_run(ctx, ref)
    if wandb is not None:
        return wandb
    if isinstance(parsed, refs.HexRef):
        return _hex(ctx, parsed.prefix)
    return _revision(ctx, ref)


def path_note(node: Node, *, as_of: str | None = None) -> str | None:
    """Which version a bare data path was taken to mean, and how to name another; None for a
    node any other REF named."""
    if not node.versions:
        return None
    recorded = "recorded" + (f" as of {as_of}" if as_of else "")
    if len(node.versions) == 1:
        return f"{node.path}: the only version {recorded}, {short_hash(node.ident)}"
    older = [short_hash(md5) for md5 in reversed(node.versions[:-1])]
    hash_word = "OID" if node.ident.startswith(refs.LFS_PREFIX) else "MD5"
    listed = ", ".join(older[:5]) + (f" and {len(older) - 5} more" if len(older) > 5 else "")
    return (
        f"{node.path}: the latest of the {len(node.versions)} versions {recorded}, "
        f"{short_hash(node.ident)}; name another as {node.path}@{hash_word} (older: {listed})"
    )


def _at(ctx: Context, ref: refs.AtRef) -> Node:
    """``left@right``: data at a recorded path wins over a model alias of the same name."""
    for path in _path_forms(ctx, ref.left):
        versions = ctx.index.data_versions(path)
        if versions:
            return _data_at(path, ref.right.lower(), [md5 for md5, _ in versions])
    if ref.model is not None:
        return model_node(ctx, ref.model)
    return _revision(ctx, str(ref), path=ref.left)  # HEAD@{1} and the like


def _recorded_path(ctx: Context, text: str, recorded_before: str | None) -> Node | None:
    """The latest version of the data recorded at ``text``, if it is a recorded path."""
    for path in _path_forms(ctx, text):
        versions = ctx.index.data_versions(path)
        if not versions:
            continue
        then = [md5 for md5, first in versions if not recorded_before or first < recorded_before]
        # Nothing there by then: the latest, and the command says nothing was recorded then.
        md5s = then or [md5 for md5, _ in versions]
        return Node("data", md5s[-1], resolved_from=text, path=path, versions=tuple(md5s))
    return None


def _path_forms(ctx: Context, text: str) -> list[str]:
    """``text`` as a repository-relative path: as typed, then relative to the working
    directory (``lineage -C data show raw.csv``)."""
    typed = refs.data_path(text)
    forms = [typed] if typed else []
    if "\0" in text:
        return forms
    # Lexically, not with Path.resolve(): a DVC output may be a symlink into the cache.
    here = os.path.relpath(os.path.normpath(ctx.cwd / text), ctx.paths.root)
    if here not in (".", "..") and not here.startswith("../") and here not in forms:
        forms.append(here)
    return forms


def _revision(ctx: Context, text: str, *, path: str | None = None) -> Node:
    """A git revision; failing that, say what else ``text`` (or its ``path`` part) could have
    meant."""
    from lineage.adapters import git
    from lineage.model_version import ModelVersion

    commit = git.resolve_commit_prefix(ctx.paths, text) if not text.startswith("-") else None
    if commit:
        return Node("commit", commit, resolved_from=text)
    versions = ctx.index.model_versions(text)
    if versions:
        listed = (
            ", ".join(str(ModelVersion(text, v)) for v in versions)
            if len(versions) <= 5
            else f"{ModelVersion(text, versions[-1])} (recorded: {number_ranges(versions)})"
        )
        raise BadReferenceError(
            text, f"{text!r} names a model; give a version or an alias: {listed} or {text}@ALIAS"
        )
    short = text.lower().removeprefix("local-")
    if short and len(short) < refs.MIN_PREFIX and all(c in _HEX_DIGITS for c in short):
        raise BadReferenceError(
            text,
            f"{text!r} is too short to look up: an id prefix needs at least {refs.MIN_PREFIX} "
            "hex digits; `lineage log` prints runs' ids",
        )
    path = path or text
    if _looks_like_path(ctx, path):
        raise _unrecorded_path(ctx, text, path)
    raise BadReferenceError(text, f"nothing recorded matches {text!r}; use one of: {refs.FORMS}")


def _looks_like_path(ctx: Context, text: str) -> bool:
    try:
        return "/" in text or (ctx.cwd / text).exists()
    except (OSError, ValueError):
        return False


def _unrecorded_path(ctx: Context, text: str, path: str) -> BadReferenceError:
    """No run read or wrote ``path``: name the recorded directory it is in, or the recorded
    paths to choose from (those with the same file name first)."""
    recorded = ctx.index.data_paths()
    forms = _path_forms(ctx, path)
    around = [p for p in recorded for form in forms if form.startswith(f"{p}/")]
    if around:
        directory = max(around, key=len)
        return BadReferenceError(
            text,
            f"{path!r} is inside {directory}, a DVC directory lineage records as one piece of "
            f"data; give {directory} (or {directory}@MD5)",
        )
    name = path.rstrip("/").rpartition("/")[2]
    ranked = sorted(recorded, key=lambda p: p.rpartition("/")[2] != name)
    if not ranked:
        choice = "no data is recorded yet: record a run with `lineage run -- CMD`"
    else:
        more = f" and {len(ranked) - 5} more" if len(ranked) > 5 else ""
        choice = f"give a recorded one: {', '.join(ranked[:5])}{more}"
    return BadReferenceError(
        text, f"no recorded run read or wrote {path!r}, and it names no commit or model; {choice}"
    )


def _wandb_model(ctx: Context, text: str) -> Node | None:
    """A recorded W&B model artifact version (``name:alias``, ``project/name:DIGEST``, ...:
    lineage/wandb_models.py); None when ``text`` names none."""
    if ":" not in text:
        return None
    from lineage import wandb_models

    found = wandb_models.resolve(ctx.index, text)
    if found is None:
        return None
    return Node("model", found.ident, resolved_from=text if text != found.ident else None)


def _wandb_run(ctx: Context, text: str) -> Node | None:
    """A recorded W&B run named by its key (``wandb:project/runid``), its run path
    (``entity/project/runid``, ``project/runid``) or its bare run id; None when ``text`` names
    none. A bare id two projects share is ambiguous."""
    wanted = text.removeprefix(WANDB_PREFIX)
    parts = wanted.split("/")
    if len(parts) > 3 or not all(parts) or any(c in text for c in "@ "):
        return None
    if len(parts) > 1:
        key = f"{WANDB_PREFIX}{parts[-2]}/{parts[-1]}"
        return Node("run", key) if ctx.index.has_node(node_key("run", key)) else None
    found = [  # LIKE ignores ASCII case: keep exact matches
        key.partition(":")[2]
        for key in ctx.index.nodes_matching("run", WANDB_PREFIX, "%/" + like_escaped(wanted), 7)
        if key.endswith("/" + wanted)
    ]
    if len(found) > 1:
        raise BadReferenceError(
            text,
            f"W&B run id {text!r} is ambiguous: it matches {', '.join(found[:6])}; give the run "
            "path (project/runid)",
        )
    return Node("run", found[0]) if found else None


def _hex(ctx: Context, prefix: str) -> Node:
    index = ctx.index
    candidates: dict[str, Node] = {}
    if prefix.startswith(refs.LFS_PREFIX):  # sha256:…: a Git LFS oid and nothing else
        searches = [("data", prefix)]
    else:  # bare hex may also start an LFS oid
        searches = [("run", prefix), ("data", prefix), ("data", refs.LFS_PREFIX + prefix)]
        searches.append(("commit", prefix))
    for kind, start in searches:
        for key in index.nodes_with_prefix(kind, start):
            candidates[key] = Node(kind, key.partition(":")[2])
    if not prefix.endswith(".dir") and not prefix.startswith(refs.LFS_PREFIX):
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
    if not candidates and prefix.startswith(refs.LFS_PREFIX):
        raise BadReferenceError(
            prefix,
            f"no recorded Git LFS data has an oid starting {prefix!r}; `git lfs ls-files -l` "
            "lists the oids in this tree",
        )
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
    """``path@prefix``: an md5 prefix, or a Git LFS oid's with or without ``sha256:``."""
    matches = [m for m in md5s if m.startswith((prefix, refs.LFS_PREFIX + prefix))]
    if len(matches) == 1:
        return Node("data", matches[0], path=path)
    versions = newest([short_hash(m) for m in md5s])
    if not matches:
        raise BadReferenceError(
            f"{path}@{prefix}",
            f"{path} has no recorded version starting {prefix!r}; recorded versions: {versions}",
        )
    raise BadReferenceError(
        f"{path}@{prefix}",
        f"{path}@{prefix} is ambiguous: it matches {newest([short_hash(m) for m in matches])}; "
        "give more characters",
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
        raise BadReferenceError(
            str(model),
            f"model {model.name!r} has no recorded version {model.version}; recorded versions: "
            f"{number_ranges(recorded)}",
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
    if node.kind == "data":
        import shlex

        named = f"{node.path}@{node.ident[:10]}" if node.path else node.ident
        raise LineageError(
            f"{ref} is data ({named}); {verb} takes a model version (name/3, name@alias, "
            f"models:/...) or a run id: `lineage impact {shlex.quote(ref)}` lists the runs "
            "and model versions made from it"
        )
    if node.model is None and node.kind == "model":  # a W&B model artifact version
        for run_key in index.producers(node.key):
            if index.records_for_run(run_key):
                return run_key, None
        raise LineageError(
            f"W&B model {ref} was logged by no run lineage has a record of; record training "
            "with `lineage run -- ...`, or take it in with `lineage import wandb`"
        )
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
