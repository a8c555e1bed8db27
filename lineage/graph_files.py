"""A subgraph as the files graph tools open: GraphML (yEd, Cytoscape, Gephi) and GEXF (Gephi),
written by networkx. networkx is imported here only, and this module only by ``lineage graph``
for these two formats: it costs ~0.2 s, which ``--help``, the hooks and the read path never pay.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from lineage.graph import GraphEdge, GraphNode, Subgraph
from lineage.render import label, node_json

if TYPE_CHECKING:
    import networkx

FORMATS = ("graphml", "gexf")


def _scalar(value: Any) -> str | int | float | bool | None:
    """GraphML and GEXF attributes hold scalars only: lists are joined, dicts spelt out."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return value


def node_attributes(node: GraphNode) -> dict[str, Any]:
    """The node's kind, its label as one text (lines joined by newlines: yEd and Gephi show
    them), and the facts ``--format json`` gives, without the empty ones."""
    doc = node_json(node)
    del doc["id"]
    doc["label"] = "\n".join(label(node))
    return {k: _scalar(v) for k, v in doc.items() if v is not None and v != []}


def edge_attributes(edge: GraphEdge) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "rel": edge.rel,
        "label": edge.rel,
        "evidence": "observed" if edge.observed else "inferred",
    }
    if edge.paths:
        attrs["paths"] = ", ".join(edge.paths)
    if edge.verdict:
        attrs["verdict"] = edge.verdict
    return attrs


def to_networkx(graph: Subgraph) -> networkx.DiGraph:
    import networkx

    out = networkx.DiGraph(
        roots=", ".join(graph.roots), direction=graph.direction, depth=graph.depth or -1
    )
    for node in graph.nodes:
        out.add_node(node.key, **node_attributes(node))
    for edge in graph.edges:
        out.add_edge(edge.src, edge.dst, **edge_attributes(edge))
    return out


def write(graph: Subgraph, fmt: str) -> bytes:
    """The graph as a GraphML or GEXF document."""
    import networkx

    buffer = io.BytesIO()
    if fmt == "graphml":
        networkx.write_graphml(to_networkx(graph), buffer, encoding="utf-8")
    elif fmt == "gexf":
        networkx.write_gexf(to_networkx(graph), buffer, encoding="utf-8")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return buffer.getvalue()
