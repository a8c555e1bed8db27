"""`lineage graph REF`: the provenance (upstream) or impact (downstream) subgraph of a node,
drawn as SVG/PNG/PDF (through Graphviz), DOT, Mermaid, JSON or a terminal tree."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lineage import render
from lineage.adapters import git
from lineage.adapters.aliases import live_aliases
from lineage.errors import LineageError
from lineage.graph import (
    DOWNSTREAM,
    UPSTREAM,
    CommitNode,
    ModelNode,
    Subgraph,
    build,
    edges_at,
    moment_bound,
    with_aliases,
    with_subjects,
)
from lineage.index import Index
from lineage.resolve import resolve

FORMATS = ("svg", "png", "pdf", "dot", "mermaid", "json", "text")
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
}
BINARY = ("png", "pdf")


@dataclass(frozen=True)
class Drawn:
    graph: Subgraph
    warnings: tuple[str, ...] = ()


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
    *,
    ref: str,
    index: Index,
    paths: git.RepoPaths,
    environ: Mapping[str, str],
    cwd: Path,
    direction: str | None = None,
    depth: int | None = None,
    as_of: str | None = None,
    main_metric: str | None = None,
    aliases: bool = True,
) -> Drawn:
    node = resolve(ref, index=index, paths=paths, environ=environ)
    before = recorded_before(as_of, paths) if as_of else None
    sub = build(
        index,
        [node.key],
        direction=direction or default_direction(node.kind),
        depth=depth,
        recorded_before=before,
        main_metric=main_metric,
    )
    if before and not _recorded_then(index, node.key, before) and index.edges_touching(node.key):
        raise LineageError(
            f"nothing about {ref} was recorded as of {as_of}; drop --as-of or give a later "
            "commit or date"
        )
    shas = [n.sha for n in sub.nodes if isinstance(n, CommitNode)]
    subjects = {sha: subject for sha, (subject, _) in git.commit_summaries(paths, shas).items()}
    sub = with_subjects(sub, subjects)
    warnings: tuple[str, ...] = ()
    if aliases:
        names = sorted({n.name for n in sub.nodes if isinstance(n, ModelNode)})
        live, warnings = live_aliases(names, environ=environ, cwd=cwd)
        sub = with_aliases(sub, live)
    return Drawn(sub, warnings)


def _recorded_then(index: Index, key: str, before: str) -> bool:
    return any(edges_at(index, [key], "src", before)) or any(edges_at(index, [key], "dst", before))


def recorded_before(as_of: str, paths: git.RepoPaths) -> str:
    """The exclusive bound on record time ``--as-of`` means: an ISO 8601 date or datetime, or
    a commit's committer date."""
    bound = moment_bound(as_of)
    if bound is not None:
        return bound
    sha = git.resolve_commit_prefix(paths, as_of) if not as_of.startswith("-") else None
    summary = git.commit_summary(paths, sha) if sha else None
    bound = moment_bound(summary[1]) if summary else None
    if bound is None:
        raise LineageError(
            f"--as-of {as_of!r} is neither a commit nor an ISO 8601 date; give e.g. HEAD~3, "
            "2026-11-27 or 2026-11-27T15:30:00+01:00"
        )
    return bound


def draw(graph: Subgraph, fmt: str) -> bytes:
    """The graph in ``fmt``; svg, png and pdf go through Graphviz's ``dot``."""
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
    raise ValueError(f"unknown format {fmt!r}")
