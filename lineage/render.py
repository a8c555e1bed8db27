"""Draw a :class:`~lineage.graph.Subgraph`: Graphviz DOT, Mermaid, a terminal tree, or JSON.

Pure functions from the graph to a string (or a JSON-ready dict); writing files and running
Graphviz's ``dot`` is the caller's business. One visual language per node kind, the same in
every format:

=============== ======================== ==========================================
kind            shape                    label
=============== ======================== ==========================================
commit          grey box                 short sha, subject
snapshot commit amber box, dashed border short sha + "snapshot", the paths changed
data            teal cylinder            path, short md5 · files · size
run             blue rounded box         run name, short run id · main metric
model version   pink 3-D box             ``name vN``, current aliases
=============== ======================== ==========================================

Observed edges are solid, inferred ones dashed; a reproduction's edge carries its verdict.
"""

from __future__ import annotations

import html
from typing import Any

from lineage.documents import short_run
from lineage.formatting import human_size, short_hash
from lineage.graph import (
    BOTH,
    DOWNSTREAM,
    UPSTREAM,
    CommitNode,
    DataNode,
    GraphEdge,
    GraphNode,
    ModelNode,
    RunNode,
    Subgraph,
    WandbModelNode,
)

TEXT_WIDTH = 80
MAX_GROUP = 8  # versions of one data path drawn in a box together
VERDICT_MARK = {
    "bit-identical": "✓ bit-identical",
    "within-tolerance": "✓ within tolerance",
    "reproduced": "✓ reproduced",  # records written before the two above
    "unverified": "? unverified",
    "differs": "≠ differs",
    "failed": "✗ failed",
}
VERDICT_COLOUR = {
    "bit-identical": "#2e7d32",
    "within-tolerance": "#2e7d32",
    "reproduced": "#2e7d32",
    "unverified": "#757575",
    "differs": "#e65100",
    "failed": "#c62828",
}

# (fill, border, shape, style) per node kind.
_LOOK = {
    "commit": ("#eceff1", "#455a64", "box", "filled"),
    "snapshot": ("#fff8e1", "#ff8f00", "box", "filled,dashed"),
    "data": ("#e0f2f1", "#00796b", "cylinder", "filled"),
    "run": ("#e3f2fd", "#1565c0", "box", "rounded,filled"),
    "model": ("#fce4ec", "#ad1457", "box3d", "filled"),
}
_EDGE_COLOUR = "#78909c"


# -- labels ----------------------------------------------------------------------------------


def look(node: GraphNode) -> str:
    """The visual kind: a node kind, or ``snapshot`` for a commit of a dirty tree."""
    return "snapshot" if isinstance(node, CommitNode) and node.snapshot else node.kind


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def metric_text(metric: tuple[str, float | str]) -> str:
    name, value = metric
    return f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"


def label(node: GraphNode, *, grouped: bool = False) -> list[str]:
    """The lines a person reads on the node; ``grouped``: a data node drawn inside a box that
    already names its path."""
    if isinstance(node, CommitNode):
        if node.snapshot:
            changed = ", ".join(node.changed[:3]) + (
                f", +{len(node.changed) - 3}" if len(node.changed) > 3 else ""
            )
            return [f"{node.sha[:10]} snapshot", clip(f"changed: {changed or '?'}", 44)]
        return [node.sha[:10], *([clip(node.subject, 44)] if node.subject else [])]
    if isinstance(node, DataNode):
        facts = [short_hash(node.md5)]
        if node.nfiles is not None:
            facts.append(f"{node.nfiles} file{'' if node.nfiles == 1 else 's'}")
        if node.size is not None:
            facts.append(human_size(node.size))
        if grouped or not node.paths:
            return [facts[0], " · ".join(facts[1:])] if len(facts) > 1 else facts
        more = f" (+{len(node.paths) - 1} paths)" if len(node.paths) > 1 else ""
        return [clip(node.paths[0], 44) + more, " · ".join(facts)]
    if isinstance(node, RunNode):
        short = short_run(node.run_key)
        facts = [] if node.name is None else [short]
        if node.metric is not None:
            facts.append(metric_text(node.metric))
        if node.status not in (None, "FINISHED", "SUCCEEDED"):
            facts.append(str(node.status))
        lines = [clip(node.name, 32) if node.name else short]
        if facts:
            lines.append(" · ".join(facts))
        if node.reproductions:
            lines.append(VERDICT_MARK.get(node.reproductions[-1], node.reproductions[-1]))
        return lines
    if isinstance(node, WandbModelNode):  # W&B spells a version name:alias
        held = " ".join(f":{a}" for a in node.aliases or ())
        return [clip(f"{node.name}:{node.digest[:8]}", 40), clip(f"W&B {held}".rstrip(), 40)]
    aliases = " ".join(f"@{a}" for a in node.aliases or ())
    return [clip(f"{node.name} v{node.version}", 40), *([clip(aliases, 40)] if aliases else [])]


def _groups(graph: Subgraph) -> dict[str, list[DataNode]]:
    """Versions of one path, to draw in one box named by the path: only a few of them. A box
    is kept in one piece, so a box of a grid search's hundred outputs would pull each away
    from the run that wrote it."""
    by_path: dict[str, list[DataNode]] = {}
    for node in graph.nodes:
        if isinstance(node, DataNode) and node.paths:
            by_path.setdefault(node.paths[0], []).append(node)
    return {path: nodes for path, nodes in sorted(by_path.items()) if 1 < len(nodes) <= MAX_GROUP}


# -- Graphviz DOT ----------------------------------------------------------------------------


def dot_id(text: str) -> str:
    """A DOT quoted ID. DOT's only escape is ``\\"``, so a backslash cannot end the string."""
    body = text.replace("\n", " ").replace('"', '\\"')
    return f'"{body} "' if body.endswith("\\") else f'"{body}"'


def _html_label(node: GraphNode, grouped: bool) -> str:
    lines = label(node, grouped=grouped)
    parts = [f"<b>{html.escape(lines[0])}</b>"]
    for line in lines[1:]:
        colour = "#37474f"
        if isinstance(node, RunNode) and node.reproductions and line == lines[-1]:
            colour = VERDICT_COLOUR.get(node.reproductions[-1], colour)
        parts.append(f'<font point-size="9" color="{colour}">{html.escape(line)}</font>')
    return "<" + "<br/>".join(parts) + ">"


def _dot_node(node: GraphNode, *, root: bool, grouped: bool) -> str:
    fill, border, shape, style = _LOOK[look(node)]
    attrs = [
        f"label={_html_label(node, grouped)}",
        f"shape={shape}",
        f'style="{style}"',
        f'fillcolor="{fill}"',
        f'color="{border}"',
    ]
    if root:
        attrs.append("penwidth=2.5")
    return f"{dot_id(node.key)} [{', '.join(attrs)}];"


def _dot_edge(edge: GraphEdge) -> str:
    attrs = []
    if not edge.observed:
        attrs.append("style=dashed")
    if edge.rel == "reproduced":
        colour = VERDICT_COLOUR.get(edge.verdict or "", _EDGE_COLOUR)
        mark = VERDICT_MARK.get(edge.verdict or "", "reproduction")
        attrs += [f'color="{colour}"', f'fontcolor="{colour}"', f"label={dot_id(mark)}"]
        attrs.append("penwidth=1.6")
    elif edge.rel == "parent":
        attrs += ['label="nested"', "arrowhead=odot"]
    tail = f" [{', '.join(attrs)}]" if attrs else ""
    return f"{dot_id(edge.src)} -> {dot_id(edge.dst)}{tail};"


def to_dot(graph: Subgraph) -> str:
    """Graphviz DOT, left to right: inputs on the left, model versions on the right."""
    groups = _groups(graph)
    grouped = {n.key for nodes in groups.values() for n in nodes}
    lines = [
        "digraph lineage {",
        # newrank: rank the whole graph at once, so a data path's box never pulls a node
        # before the run that wrote it.
        "  graph [rankdir=LR, newrank=true, nodesep=0.25, ranksep=0.55, "
        'fontname="Helvetica", fontsize=10, bgcolor="white"];',
        '  node [fontname="Helvetica", fontsize=10, penwidth=1.2, margin="0.14,0.06"];',
        f'  edge [color="{_EDGE_COLOUR}", arrowsize=0.7, fontname="Helvetica", fontsize=9];',
    ]
    roots = set(graph.roots)
    for node in graph.nodes:
        if node.key not in grouped:
            lines.append("  " + _dot_node(node, root=node.key in roots, grouped=False))
    for n, (path, nodes) in enumerate(groups.items()):
        lines.append(f"  subgraph cluster_data_{n} {{")
        lines.append(
            f'    label={dot_id(path)}; labeljust=l; style="rounded,dashed"; '
            f'color="{_LOOK["data"][1]}"; fontcolor="{_LOOK["data"][1]}";'
        )
        for node in nodes:
            lines.append("    " + _dot_node(node, root=node.key in roots, grouped=True))
        lines.append("  }")
    models = [n.key for n in graph.nodes if isinstance(n, (ModelNode, WandbModelNode))]
    if len(models) > 1:  # model versions in one column, on the right
        lines.append(f"  {{rank=same; {' '.join(dot_id(k) + ';' for k in models)}}}")
    lines += ["  " + _dot_edge(edge) for edge in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- Mermaid ---------------------------------------------------------------------------------

_MERMAID_SHAPE = {
    "commit": ('["', '"]'),
    "snapshot": ('["', '"]'),
    "data": ('[("', '")]'),
    "run": ('("', '")'),
    "model": ('{{"', '"}}'),
}


def mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label (Mermaid's ``#entity;`` escapes)."""
    out = text.replace("#", "#35;").replace("&", "#38;")
    out = out.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return out.replace("\n", " ")


def to_mermaid(graph: Subgraph) -> str:
    """A Mermaid flowchart (renders in GitHub and GitLab Markdown)."""
    ids = {node.key: f"n{n}" for n, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        start, end = _MERMAID_SHAPE[look(node)]
        text = "<br/>".join(mermaid_text(line) for line in label(node))
        lines.append(f"  {ids[node.key]}{start}{text}{end}")
    for edge in graph.edges:
        arrow = "-->" if edge.observed else "-.->"
        text = ""
        if edge.rel == "reproduced":
            text = VERDICT_MARK.get(edge.verdict or "", "reproduction")
        elif edge.rel == "parent":
            text = "nested"
        tag = f'|"{mermaid_text(text)}"|' if text else ""
        lines.append(f"  {ids[edge.src]} {arrow}{tag} {ids[edge.dst]}")
    for kind, (fill, border, _, style) in _LOOK.items():
        dash = ",stroke-dasharray:4 3" if "dashed" in style else ""
        lines.append(f"  classDef {kind} fill:{fill},stroke:{border}{dash}")
    for kind in _LOOK:
        members = [ids[n.key] for n in graph.nodes if look(n) == kind]
        if members:
            lines.append(f"  class {','.join(members)} {kind}")
    for root in graph.roots:
        if root in ids:
            lines.append(f"  style {ids[root]} stroke-width:3px")
    return "\n".join(lines) + "\n"


# -- a tree for the terminal -----------------------------------------------------------------


def text_line(node: GraphNode) -> str:
    """One line for the node: its kind, then its label."""
    return f"{node.kind} {'  '.join(label(node))}"


def _edge_note(edge: GraphEdge) -> str:
    notes = []
    if edge.rel == "reproduced":
        notes.append(f"[{VERDICT_MARK.get(edge.verdict or '', 'reproduction')}]")
    elif edge.rel == "parent":
        notes.append("[nested]")
    if not edge.observed:
        notes.append("(inferred)")
    return "  " + " ".join(notes) if notes else ""


_NOTHING = {UPSTREAM: "upstream", DOWNSTREAM: "downstream", BOTH: "around it"}


def to_text(graph: Subgraph, *, width: int = TEXT_WIDTH) -> str:
    """A tree per root, like ``dvc dag``'s: what made it (upstream) or what was made from it
    (downstream); a node met again says ``(see above)``. Lines are clipped to ``width``."""
    nodes = {n.key: n for n in graph.nodes}
    ups: dict[str, list[GraphEdge]] = {}
    downs: dict[str, list[GraphEdge]] = {}
    for edge in graph.edges:
        ups.setdefault(edge.dst, []).append(edge)
        downs.setdefault(edge.src, []).append(edge)
    seen: set[str] = set()
    out: list[str] = []

    def order(key: str) -> tuple[int, str]:
        return (
            {"commit": 0, "snapshot": 0, "data": 1, "run": 2, "model": 3}[look(nodes[key])],
            key,
        )

    def branch(key: str, way: str, prefix: str) -> None:
        edges = ups.get(key, []) if way == UPSTREAM else downs.get(key, [])
        pairs = sorted(
            (((e.src if way == UPSTREAM else e.dst), e) for e in edges),
            key=lambda p: (order(p[0])[0], text_line(nodes[p[0]]), p[0], p[1].rel),
        )
        for n, (child, edge) in enumerate(pairs):
            last = n == len(pairs) - 1
            again = child in seen
            seen.add(child)
            head = prefix + ("└── " if last else "├── ")
            tail = _edge_note(edge) + ("  (see above)" if again else "")
            room = max(width - len(head) - len(tail), 16)  # the notes matter more
            out.append(head + clip(text_line(nodes[child]), room) + tail)
            if not again:
                branch(child, way, prefix + ("    " if last else "│   "))

    for n, root in enumerate(graph.roots):
        if n:
            out.append("")
        seen.add(root)
        out.append(clip(text_line(nodes[root]), width))
        before = len(out)
        if graph.direction == BOTH:
            sections = [(UPSTREAM, "made from", ups), (DOWNSTREAM, "used to make", downs)]
            present = [(way, title) for way, title, edges in sections if edges.get(root)]
            for m, (way, title) in enumerate(present):
                last = m == len(present) - 1
                out.append(("└── " if last else "├── ") + title)
                branch(root, way, "    " if last else "│   ")
        else:
            branch(root, graph.direction, "")
        if len(out) == before:
            out.append(f"(nothing recorded {_NOTHING[graph.direction]})")
    return "\n".join(out) + "\n"


# -- JSON ------------------------------------------------------------------------------------


def node_json(node: GraphNode) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": node.key, "kind": node.kind, "label": label(node)}
    if isinstance(node, CommitNode):
        doc.update(sha=node.sha, subject=node.subject, snapshot=node.snapshot)
        if node.snapshot:
            doc["changed"] = list(node.changed)
    elif isinstance(node, DataNode):
        doc.update(md5=node.md5, paths=list(node.paths), size=node.size, nfiles=node.nfiles)
    elif isinstance(node, RunNode):
        doc.update(
            run=node.run_key,
            name=node.name,
            status=node.status,
            metric={"name": node.metric[0], "value": node.metric[1]} if node.metric else None,
            reproductions=list(node.reproductions),
        )
    elif isinstance(node, ModelNode):
        aliases = None if node.aliases is None else list(node.aliases)
        doc.update(name=node.name, version=node.version, aliases=aliases)
    elif isinstance(node, WandbModelNode):
        aliases = None if node.aliases is None else list(node.aliases)
        doc.update(
            tracker="wandb",
            project=node.project,
            name=node.name,
            digest=node.digest,
            aliases=aliases,
        )
    return doc


def to_json(graph: Subgraph) -> dict[str, Any]:
    """Node-link JSON, as networkx 3.6 writes it (``networkx.node_link_graph(doc)`` reads it);
    node ids are the keys ``lineage show --json`` uses (``commit:<sha>``, ``model:<name>/<v>``)."""
    return {
        "directed": True,
        "multigraph": False,
        "graph": {
            "roots": list(graph.roots),
            "direction": graph.direction,
            "depth": graph.depth,
            "recorded_before": graph.recorded_before,
        },
        "nodes": [node_json(n) for n in graph.nodes],
        "edges": [_link(e) for e in graph.edges],
    }


def _link(edge: GraphEdge) -> dict[str, Any]:
    return {
        "source": edge.src,
        "target": edge.dst,
        "rel": edge.rel,
        "evidence": "observed" if edge.observed else "inferred",
        "paths": list(edge.paths),
        "verdict": edge.verdict,
    }
