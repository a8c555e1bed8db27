"""`lineage impact REF`: every run and model version made, directly or not, from some data, a
commit or a run; answered from the index alone, plus one registry call per model name for
its current aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lineage.context import Context
from lineage.documents import run_label
from lineage.edges import model_key, node_key, wandb_model_key
from lineage.graph import DOWNSTREAM, ModelNode, RunNode, WandbModelNode
from lineage.resolve import Node, resolve
from lineage.subgraph import build
from lineage.summary import LogEntry, log_entry, render_line, with_later_registrations
from lineage.summary import to_json as log_json


@dataclass(frozen=True)
class ImpactedModel:
    name: str
    version: int | str  # MLflow's version number; a W&B model artifact's digest
    aliases: tuple[str, ...] | None  # None: the registry could not be read
    runs: tuple[str, ...]  # the run(s) that produced it
    project: str | None = None  # a W&B model artifact's project

    @property
    def key(self) -> str:
        if self.project is not None:
            return wandb_model_key(self.project, self.name, str(self.version))
        return model_key(self.name, int(self.version))

    @property
    def label(self) -> str:
        """MLflow's ``name/3``; W&B's ``name:version``, the version a digest prefix."""
        if self.project is not None:
            return f"{self.name}:{str(self.version)[:8]}"
        return f"{self.name}/{self.version}"

    @property
    def order(self) -> tuple[bool, str, int]:
        """Aliased first, then by name, newest MLflow version first."""
        newest = -self.version if isinstance(self.version, int) else 0
        return (not self.aliases, self.name, newest)


@dataclass(frozen=True)
class Impact:
    ref: str
    sources: tuple[Node, ...]  # what REF named: one node, or every version of a data path
    models: tuple[ImpactedModel, ...]  # aliased first, then by name, newest version first
    runs: tuple[LogEntry, ...]  # newest first
    warnings: tuple[str, ...] = ()


def impact(ctx: Context, *, ref: str, aliases: bool = True) -> Impact:
    """Every run and model version made from REF, directly or through other runs; the model
    versions with their current aliases unless ``aliases`` is False."""
    sources = _sources(ctx, ref)
    roots = [n.key for n in sources]
    main = ctx.config.main_metric
    sub = build(ctx.index, roots, direction=DOWNSTREAM, main_metric=main)
    produced: dict[str, list[str]] = {}
    for edge in sub.edges:
        if edge.rel == "produced":
            produced.setdefault(edge.dst, []).append(edge.src.partition(":")[2])
    made = [n.run_key for n in sub.nodes if isinstance(n, RunNode) and n.key not in roots]
    # Reruns `lineage reproduce` made are checks of a run, not runs that depend on REF.
    reruns = ctx.index.reruns_among(made)
    made = [key for key in made if key not in reruns]
    records = sub.records  # read once, while building the subgraph
    entries = [log_entry(*records[k], main) for k in made if k in records]
    entries = with_later_registrations(
        entries, ctx.index.registered_later([e.run_key for e in entries])
    )
    entries.sort(key=lambda e: (-(e.started_ms or 0), e.run_key))
    versions = [n for n in sub.nodes if isinstance(n, ModelNode) and n.key not in roots]
    live: dict[str, dict[str, int]] = {}
    warnings: tuple[str, ...] = ()
    if aliases and versions:
        from lineage.adapters.mlflow_registry import live_aliases

        live, warnings = live_aliases(ctx.mlflow, sorted({n.name for n in versions}))
    models = [
        ImpactedModel(
            n.name,
            n.version,
            tuple(sorted(a for a, v in live[n.name].items() if v == n.version))
            if n.name in live
            else None,
            tuple(sorted(produced.get(n.key, ()))),
        )
        for n in versions
    ]
    models += [
        ImpactedModel(
            n.name, n.digest, n.aliases, tuple(sorted(produced.get(n.key, ()))), n.project
        )
        for n in sub.nodes
        if isinstance(n, WandbModelNode) and n.key not in roots
    ]
    models.sort(key=lambda m: m.order)
    return Impact(ref, tuple(sources), tuple(models), tuple(entries), warnings)


def _sources(ctx: Context, ref: str) -> list[Node]:
    """What REF names; a bare data path (which resolves to its latest version) widens to every
    version recorded at it: what was made from any of them would be affected."""
    node = resolve(ctx, ref)
    if node.versions:
        return [Node("data", md5, path=node.path) for md5 in node.versions]
    return [node]


def to_json(found: Impact) -> dict[str, Any]:
    """The documented, stable JSON form (docs/commands.md#lineage-impact-ref)."""
    return {
        "ref": found.ref,
        "sources": [
            {"id": n.key, "kind": n.kind, **({"path": n.path} if n.path else {})}
            for n in found.sources
        ],
        "models": [
            {
                "id": m.key,
                "name": m.name,
                "version": m.version,
                "aliases": None if m.aliases is None else list(m.aliases),
                "runs": list(m.runs),
                **({"tracker": "wandb", "project": m.project} if m.project else {}),
            }
            for m in found.models
        ],
        "runs": [{"id": node_key("run", e.run_key), **log_json(e)} for e in found.runs],
    }


def render_text(found: Impact) -> str:
    if not found.models and not found.runs:
        return f"nothing depends on {found.ref}\n"
    what = found.ref
    if len(found.sources) > 1:
        what += f" ({len(found.sources)} recorded versions)"
    counts = [
        f"{len(found.models)} model version{'s' if len(found.models) != 1 else ''}",
        f"{len(found.runs)} run{'s' if len(found.runs) != 1 else ''}",
    ]
    lines = [f"{what}: {' and '.join(counts)} depend on it"]
    if found.models:
        lines += ["", "model versions"]
        width = max(len(m.label) for m in found.models)
        alias_width = max(len(_aliases(m)) for m in found.models)
        for m in found.models:
            runs = ", ".join(run_label(r) for r in m.runs)
            lines.append(f"  {m.label:<{width}}  {_aliases(m):<{alias_width}}  run {runs}".rstrip())
    if found.runs:
        lines += ["", "runs"]
        lines += [f"  {render_line(e)}" for e in found.runs]
    return "\n".join(lines) + "\n"


def _aliases(model: ImpactedModel) -> str:
    if model.aliases is None:
        return "(aliases unknown)"
    mark = ":" if model.project else "@"  # W&B spells an alias name:alias
    return " ".join(f"{mark}{a}" for a in model.aliases)
