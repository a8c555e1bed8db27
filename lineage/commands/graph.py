"""`lineage graph REF`: the provenance (upstream) or impact (downstream) subgraph of a node,
drawn as SVG/PNG/PDF (through Graphviz), DOT, Mermaid, JSON, a terminal tree, or GraphML/GEXF
(through networkx) for graph tools."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lineage import render
from lineage.adapters import git, git_content
from lineage.clock import moment_bound
from lineage.context import Context
from lineage.errors import LineageError
from lineage.graph import (
    DOWNSTREAM,
    UPSTREAM,
    CommitNode,
    ModelNode,
    Subgraph,
    with_aliases,
    with_subjects,
)
from lineage.index import Index
from lineage.resolve import path_note, resolve
from lineage.subgraph import TooManyNodes, build, edges_at

FORMATS = ("svg", "png", "pdf", "dot", "mermaid", "json", "text", "graphml", "gexf")
SUFFIXES = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".json": "json",
    ".txt": "text",
    ".graphml": "graphml",
    ".gexf": "gexf",
}
BINARY = ("png", "pdf")
LAID_OUT = ("svg", "png", "pdf")  # drawn through Graphviz's layout
MERMAID_MAX_EDGES = 500  # Mermaid's maxEdges: its renderers (GitHub's too) refuse more


@dataclass(frozen=True)
class Drawn:
    graph: Subgraph
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. which version a bare data path was taken to mean


def output_format(fmt: str | None, output: str | None) -> str:
    """The format asked for, else the one ``output``'s suffix names, else text."""
    if fmt:
        return fmt
    if output is None:
        return "text"
    found = SUFFIXES.get(Path(output).suffix.lower())
    if found is None:
        known = ", ".join(SUFFIXES)
        raise LineageError(
            f"cannot tell the format from the name {output!r}; give --format or a file name "
            f"ending in one of {known}"
        )
    return found


def default_direction(kind: str) -> str:
    """Models and runs: where they came from; data and commits: what was made from them."""
    return UPSTREAM if kind in ("model", "run") else DOWNSTREAM


def graph(
    ctx: Context,
    *,
    ref: str,
    direction: str | None = None,
    depth: int | None = None,
    as_of: str | None = None,
    aliases: bool = True,
    max_nodes: int | None = None,
) -> Drawn:
    """The subgraph around REF, with commit subjects and (unless ``aliases`` is False) the
    model versions' current aliases; refused past ``max_nodes`` nodes (a drawing to lay out)."""
    before = recorded_before(ctx, as_of) if as_of else None
    node = resolve(ctx, ref, recorded_before=before)
    index = ctx.index
    try:
        sub = build(
            index,
            [node.key],
            direction=direction or default_direction(node.kind),
            depth=depth,
            recorded_before=before,
            main_metric=ctx.config.main_metric,
            max_nodes=max_nodes,
        )
    except TooManyNodes as exc:
        raise LineageError(
            f"the graph around {ref} has more than {exc.max_nodes:,} nodes, more than Graphviz "
            "lays out in reasonable time or anyone can read; narrow it with --depth or a "
            "narrower REF (a model or run rather than a commit or data), write it for a graph "
            "tool with --format json, graphml or gexf, or raise --max-nodes"
        ) from None
    if before and not _recorded_then(index, node.key, before) and index.edges_touching(node.key):
        raise LineageError(
            f"nothing about {ref} was recorded as of {as_of}; drop --as-of or give a later "
            "commit or date"
        )
    shas = [n.sha for n in sub.nodes if isinstance(n, CommitNode)]
    summaries = git_content.commit_summaries(ctx.paths, shas)
    sub = with_subjects(sub, {sha: subject for sha, (subject, _) in summaries.items()})
    warnings: tuple[str, ...] = ()
    names = sorted({n.name for n in sub.nodes if isinstance(n, ModelNode)})
    if aliases and names:
        from lineage.adapters.mlflow_registry import live_aliases

        live, warnings = live_aliases(ctx.mlflow, names)
        sub = with_aliases(sub, live)
    note = path_note(node, as_of=as_of)
    return Drawn(sub, warnings, (note,) if note else ())


def mermaid_warning(graph: Subgraph) -> str | None:
    """What to say of a Mermaid graph its renderers will refuse (more than maxEdges)."""
    if len(graph.edges) <= MERMAID_MAX_EDGES:
        return None
    return (
        f"the graph has {len(graph.edges):,} edges; Mermaid draws at most {MERMAID_MAX_EDGES} "
        "by default (its maxEdges setting), so GitHub and most viewers will refuse it: narrow "
        "it with --depth, or raise maxEdges where you render it"
    )


def _recorded_then(index: Index, key: str, before: str) -> bool:
    return any(edges_at(index, [key], "src", before)) or any(edges_at(index, [key], "dst", before))


def recorded_before(ctx: Context, as_of: str) -> str:
    """The exclusive bound on record time ``--as-of`` means: an ISO 8601 date or datetime, or
    a commit's committer date."""
    bound = moment_bound(as_of)
    if bound is not None:
        return bound
    sha = git.resolve_commit_prefix(ctx.paths, as_of) if not as_of.startswith("-") else None
    summary = git_content.commit_summary(ctx.paths, sha) if sha else None
    bound = moment_bound(summary[1]) if summary else None
    if bound is None:
        raise LineageError(
            f"--as-of {as_of!r} is neither a commit nor an ISO 8601 date; give e.g. HEAD~3, "
            "2026-11-27 or 2026-11-27T15:30:00+01:00"
        )
    return bound


def draw(graph: Subgraph, fmt: str) -> bytes:
    """The graph in ``fmt``; svg, png and pdf go through Graphviz's ``dot``, graphml and gexf
    through networkx."""
    if fmt in ("svg", "png", "pdf"):
        from lineage.adapters import graphviz

        return graphviz.render(render.to_dot(graph), fmt)
    if fmt == "dot":
        return render.to_dot(graph).encode()
    if fmt == "mermaid":
        return render.to_mermaid(graph).encode()
    if fmt == "json":
        doc = render.to_json(graph)
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    if fmt == "text":
        return render.to_text(graph).encode()
    if fmt in ("graphml", "gexf"):
        from lineage import graph_files

        return graph_files.write(graph, fmt)
    raise ValueError(f"unknown format {fmt!r}")
