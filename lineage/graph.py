"""The lineage subgraph around some nodes, as a small plain model (frozen dataclasses) that
``lineage/render.py`` draws: commits, data, runs and model versions, and the edges between them
(src was used to make dst). ``lineage/subgraph.py`` builds one from the index; commit subjects
and model aliases are added by the caller (:func:`with_subjects`, :func:`with_aliases`), since
nothing here asks git or MLflow anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from lineage.edges import model_key, node_key, wandb_model_key

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
BOTH = "both"
DIRECTIONS = (UPSTREAM, DOWNSTREAM, BOTH)
KIND_ORDER = {"commit": 0, "data": 1, "run": 2, "model": 3}


@dataclass(frozen=True)
class CommitNode:
    sha: str
    subject: str | None = None  # from git, when the repository has the commit
    snapshot: bool = False  # a lineage snapshot of a dirty working tree
    changed: tuple[str, ...] = ()  # a snapshot: the paths that differed from its base
    kind: ClassVar[str] = "commit"

    @property
    def key(self) -> str:
        return node_key("commit", self.sha)


@dataclass(frozen=True)
class DataNode:
    md5: str
    paths: tuple[str, ...] = ()  # every path it was recorded at
    size: int | None = None
    nfiles: int | None = None
    kind: ClassVar[str] = "data"

    @property
    def key(self) -> str:
        return node_key("data", self.md5)


@dataclass(frozen=True)
class RunNode:
    run_key: str  # the MLflow run id, or local-<session>
    name: str | None = None
    status: str | None = None
    metric: tuple[str, float | str] | None = None  # the main metric
    reproductions: tuple[str, ...] = ()  # verdicts of its reproductions, oldest first
    kind: ClassVar[str] = "run"

    @property
    def key(self) -> str:
        return node_key("run", self.run_key)


@dataclass(frozen=True)
class ModelNode:
    name: str
    version: int
    aliases: tuple[str, ...] | None = None  # current aliases; None: the registry was not asked
    kind: ClassVar[str] = "model"

    @property
    def key(self) -> str:
        return model_key(self.name, self.version)


@dataclass(frozen=True)
class WandbModelNode:
    """A W&B model artifact version (lineage/wandb_models.py): named by its manifest digest,
    since W&B numbers versions on its server."""

    project: str
    name: str
    digest: str
    aliases: tuple[str, ...] | None = None  # as lineage's records say; None: not looked up
    kind: ClassVar[str] = "model"

    @property
    def key(self) -> str:
        return wandb_model_key(self.project, self.name, self.digest)


GraphNode = CommitNode | DataNode | RunNode | ModelNode | WandbModelNode


@dataclass(frozen=True)
class GraphEdge:
    """src was used to make dst; one edge however many records say so."""

    src: str
    rel: str  # code, snapshot, input, output, produced, parent, reproduced
    dst: str
    observed: bool  # at least one record observed it (else every record inferred it)
    paths: tuple[str, ...] = ()  # input/output: the data's path(s)
    verdict: str | None = None  # reproduced: reproduced, differs or failed


@dataclass(frozen=True)
class Subgraph:
    roots: tuple[str, ...]
    direction: str
    nodes: tuple[GraphNode, ...]  # ordered by kind, then key
    edges: tuple[GraphEdge, ...]  # ordered by src, rel, dst
    depth: int | None = None
    recorded_before: str | None = None  # only records created before this moment (UTC ISO)
    # Each run's representative record, run key -> (record id, record), read while building.
    records: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict, compare=False)


def with_subjects(graph: Subgraph, subjects: Mapping[str, str]) -> Subgraph:
    """The graph with commit subjects (sha -> subject line) filled in."""
    nodes = tuple(
        replace(n, subject=subjects.get(n.sha)) if isinstance(n, CommitNode) else n
        for n in graph.nodes
    )
    return replace(graph, nodes=nodes)


def with_aliases(graph: Subgraph, aliases: Mapping[str, Mapping[str, int]]) -> Subgraph:
    """The graph with model aliases (name -> alias -> version) filled in, for the names given."""
    nodes = tuple(
        replace(
            n,
            aliases=tuple(sorted(a for a, v in aliases[n.name].items() if v == n.version)),
        )
        if isinstance(n, ModelNode) and n.name in aliases
        else n
        for n in graph.nodes
    )
    return replace(graph, nodes=nodes)
