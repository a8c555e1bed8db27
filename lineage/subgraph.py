"""Building the subgraph around some nodes (``lineage/graph.py``'s model) from the query index:
what made them (upstream), what was made from them (downstream), or both, as the records stood
at some moment.

The walk is breadth-first, one SQLite query per level, bounded by a depth and by record time,
so a graph of a few hundred nodes never loads the other 100,000 edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lineage.documents import created_at, wandb_status
from lineage.documents import main_metric as pick_metric
from lineage.edges import WANDB_MODEL_PREFIX, model_of_key, node_key, wandb_model_of_key
from lineage.graph import (
    BOTH,
    DIRECTIONS,
    DOWNSTREAM,
    KIND_ORDER,
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
from lineage.index import Edge, Index

_CHUNK = 500  # SQLite's default limit on host parameters is 999 (older builds)


@dataclass
class _Walk:
    nodes: set[str] = field(default_factory=set)
    edges: dict[tuple[str, str, str, str | None, str], Edge] = field(default_factory=dict)


class TooManyNodes(Exception):
    """The walk passed ``max_nodes`` nodes (``build``), and stopped there."""

    def __init__(self, max_nodes: int) -> None:
        super().__init__(f"more than {max_nodes} nodes")
        self.max_nodes = max_nodes


def build(
    index: Index,
    roots: Sequence[str],
    *,
    direction: str,
    depth: int | None = None,
    recorded_before: str | None = None,
    main_metric: str | None = None,
    max_nodes: int | None = None,
) -> Subgraph:
    """The subgraph within ``depth`` edges of ``roots`` (node keys), in ``direction``; raises
    TooManyNodes as soon as it holds more than ``max_nodes``, before reading any record."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    walked = _walk(index, roots, direction, depth, recorded_before, max_nodes)
    nodes: list[GraphNode] = []
    keys = sorted(walked.nodes, key=_order)
    snapshots = _snapshots(index, [k for k in keys if k.startswith("commit:")], recorded_before)
    recorded, sample = _data_samples(
        index, [k for k in keys if k.startswith("data:")], recorded_before
    )
    drawn = _paths_on_edges(walked.edges.values())
    runs = [k.partition(":")[2] for k in keys if k.startswith("run:")]
    chosen = _representative_ids(index, runs)
    # The runs' records and the data's sample records, in one `git cat-file` (~5 ms a call),
    # which reads them on the other core while the queries that do not need them run.
    with index.fetch([*chosen.values(), *sample.values()]) as fetching:
        verdicts, edge_verdicts = _reproductions(index, runs, recorded_before)
        wandb_nodes = _wandb_model_nodes(index, [k for k in keys if k.startswith(_WANDB_MODEL)])
        docs = fetching.documents()
    representatives = {key: (rid, docs[rid]) for key, rid in chosen.items() if rid in docs}
    data = _data_facts(recorded, sample, docs)
    for key in keys:
        kind, _, ident = key.partition(":")
        if kind == "commit":
            changed = snapshots.get(ident)
            nodes.append(
                CommitNode(ident, snapshot=changed is not None, changed=tuple(changed or ()))
            )
        elif kind == "data":
            paths, size, nfiles = data.get(ident, ((), None, None))
            nodes.append(DataNode(ident, _drawn_first(paths, drawn.get(key, ())), size, nfiles))
        elif kind == "run":
            record = representatives.get(ident)
            verdict = verdicts.get(ident, ())
            nodes.append(_run_node(ident, record, index, recorded_before, main_metric, verdict))
        elif kind == "model" and ident.startswith(WANDB_MODEL_PREFIX):
            nodes.append(wandb_nodes[key])
        elif kind == "model":
            model = model_of_key(key)
            nodes.append(ModelNode(model.name, model.version))
    return Subgraph(
        roots=tuple(roots),
        direction=direction,
        nodes=tuple(nodes),
        edges=_merge(walked.edges.values(), edge_verdicts),
        depth=depth,
        recorded_before=recorded_before,
        records=representatives,
    )


_WANDB_MODEL = f"model:{WANDB_MODEL_PREFIX}"


def _wandb_model_nodes(index: Index, keys: Sequence[str]) -> dict[str, WandbModelNode]:
    """W&B model versions, with the aliases lineage's records say they hold: the versions of
    each model read once, however many of them the graph holds."""
    if not keys:
        return {}
    from lineage.wandb_models import versions  # only a graph with a W&B model needs it

    parsed = {key: wandb_model_of_key(key) or ("?", "?", "?") for key in keys}
    names = sorted({(project, name) for project, name, _ in parsed.values()})
    known = {m.key: m for project, name in names for m in versions(index, name, project)}
    return {
        key: WandbModelNode(*parts, known[key].aliases if key in known else None)
        for key, parts in parsed.items()
    }


def _order(key: str) -> tuple[int, str]:
    return KIND_ORDER.get(key.partition(":")[0], 9), key


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def edges_at(
    index: Index, keys: Iterable[str], column: str, recorded_before: str | None
) -> Iterator[Edge]:
    """The edges whose ``column`` (src or dst) is one of ``keys``, from records made in time."""
    assert column in ("src", "dst")
    for chunk in _chunks(sorted(keys)):
        marks = ",".join("?" * len(chunk))
        query, extra = _in_time(
            "SELECT e.src, e.rel, e.dst, e.path, e.record_id, e.evidence FROM edges e "
            f"JOIN records r ON r.id = e.record_id WHERE e.{column} IN ({marks})",
            recorded_before,
        )
        params = [*chunk, *extra]
        for row in index.db.execute(query, params):
            yield Edge(*row)


def _walk(
    index: Index,
    roots: Sequence[str],
    direction: str,
    depth: int | None,
    recorded_before: str | None,
    max_nodes: int | None = None,
) -> _Walk:
    """Breadth-first from ``roots``. A rerun `lineage reproduce` made is reached only through
    the ``reproduced`` edge from the run it reproduced, and never walked on from: it read and
    wrote the same data as the original, and would otherwise pass for another producer or
    consumer of it."""
    walked = _Walk(nodes=set(roots))
    reruns = _Reruns(index, roots)
    for way in (UPSTREAM, DOWNSTREAM) if direction == BOTH else (direction,):
        seen, frontier, level = set(roots), set(roots), 0
        while frontier and (depth is None or level < depth):
            reached: set[str] = set()
            column = "dst" if way == UPSTREAM else "src"
            found = [
                (edge, edge.src if way == UPSTREAM else edge.dst)
                for edge in edges_at(index, frontier, column, recorded_before)
            ]
            rerun = reruns.among(other for _, other in found)
            for edge, other in found:
                if other in rerun and edge.rel != "reproduced":
                    continue
                walked.edges[(edge.src, edge.rel, edge.dst, edge.path, edge.record_id)] = edge
                if other not in seen:
                    seen.add(other)
                    if other not in rerun:
                        reached.add(other)
            frontier, level = reached, level + 1
            if max_nodes is not None and len(seen) + len(walked.nodes - seen) > max_nodes:
                raise TooManyNodes(max_nodes)
        walked.nodes |= seen
    return walked


class _Reruns:
    """Which run nodes are reruns (asked once per node), roots excepted: a rerun asked for
    by name is walked like any run."""

    def __init__(self, index: Index, roots: Sequence[str]) -> None:
        self._index = index
        self._known: dict[str, bool] = dict.fromkeys(roots, False)

    def among(self, keys: Iterable[str]) -> set[str]:
        asked = set(keys)
        new = sorted(k for k in asked if k.startswith("run:") and k not in self._known)
        if new:
            found = self._index.reruns_among([k.partition(":")[2] for k in new])
            self._known.update((k, k.partition(":")[2] in found) for k in new)
        return {k for k in asked if self._known.get(k)}


def _merge(edges: Iterable[Edge], verdicts: Mapping[str, tuple[str, str]]) -> tuple[GraphEdge, ...]:
    grouped: dict[tuple[str, str, str], list[Edge]] = {}
    for edge in edges:
        grouped.setdefault((edge.src, edge.rel, edge.dst), []).append(edge)
    merged = []
    for (src, rel, dst), group in sorted(grouped.items()):
        verdict = None
        if rel == "reproduced":  # the newest reproduction's verdict
            found = sorted(verdicts[e.record_id] for e in group if e.record_id in verdicts)
            verdict = found[-1][1] if found else None
        merged.append(
            GraphEdge(
                src,
                rel,
                dst,
                observed=any(e.evidence == "observed" for e in group),
                paths=tuple(sorted({e.path for e in group if e.path})),
                verdict=verdict,
            )
        )
    return tuple(merged)


def representative_records(
    index: Index, run_keys: Sequence[str]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each run's representative record (the one `lineage log` shows: observed over inferred,
    then the newest), as run key -> (record id, record); one indexed query per 500 runs."""
    chosen = _representative_ids(index, run_keys)
    docs = index.documents(chosen.values())
    return {key: (rid, docs[rid]) for key, rid in chosen.items() if rid in docs}


def _representative_ids(index: Index, run_keys: Sequence[str]) -> dict[str, str]:
    """Run key -> the id of its representative record; one indexed query per 500 runs."""
    chosen: dict[str, str] = {}
    for chunk in _chunks(sorted(run_keys)):
        marks = ",".join("?" * len(chunk))
        query = (
            "SELECT substr(n.key, 5), records.id FROM nodes n JOIN runs ON runs.nid = n.nid "
            f"JOIN records ON records.rid = runs.rid WHERE n.key IN ({marks})"
        )
        chosen.update(index.db.execute(query, [node_key("run", key) for key in chunk]))
    return chosen


def _run_node(
    run_key: str,
    record: tuple[str, dict[str, Any]] | None,
    index: Index,
    recorded_before: str | None,
    main_metric: str | None,
    verdicts: tuple[str, ...],
) -> RunNode:
    doc = record[1] if record else None
    if doc is not None and recorded_before is not None and created_at(doc) >= recorded_before:
        # The representative record is too new: the best one made in time, if any.
        doc = next(
            (d for _, d in index.records_for_run(run_key) if created_at(d) < recorded_before), None
        )
    if doc is None:
        return RunNode(run_key, reproductions=verdicts)  # e.g. a parent run nobody recorded
    run = doc.get("run")
    if not run and doc.get("wandb"):  # a W&B run: its name, its end, its summary
        wandb = doc["wandb"]
        return RunNode(
            run_key,
            name=wandb.get("name"),
            status=wandb_status(wandb),
            metric=pick_metric(wandb.get("metrics") or {}, main_metric),
            reproductions=verdicts,
        )
    if not run:
        status = str((doc.get("command") or {}).get("status", "?")).upper()
        return RunNode(run_key, status=status, reproductions=verdicts)
    return RunNode(
        run_key,
        name=run.get("name"),
        status=run.get("status"),
        metric=pick_metric(run.get("metrics") or {}, main_metric),
        reproductions=verdicts,
    )


def _in_time(query: str, recorded_before: str | None) -> tuple[str, list[str]]:
    if recorded_before is None:
        return query, []
    return query + " AND r.created_at < ?", [recorded_before]


def _snapshots(
    index: Index, commit_keys: Sequence[str], recorded_before: str | None
) -> dict[str, list[str]]:
    """Snapshot commits among ``commit_keys``, with the paths that differed from their base."""
    rows: list[tuple[str, str]] = []
    for chunk in _chunks(commit_keys):
        marks = ",".join("?" * len(chunk))
        query, extra = _in_time(
            "SELECT e.dst, r.id FROM edges e JOIN records r ON r.id = e.record_id "
            f"WHERE e.rel = 'snapshot' AND e.dst IN ({marks})",
            recorded_before,
        )
        rows.extend(index.db.execute(query, [*chunk, *extra]))
    docs = index.documents(record_id for _, record_id in rows)
    found: dict[str, list[str]] = {}
    for key, record_id in rows:
        code = docs.get(record_id, {}).get("code") or {}
        found.setdefault(key.partition(":")[2], list(code.get("changed") or ()))
    return found


def _paths_on_edges(edges: Iterable[Edge]) -> dict[str, set[str]]:
    """Data node key -> the paths the edges of this graph name it at."""
    found: dict[str, set[str]] = {}
    for edge in edges:
        if edge.path:
            key = edge.src if edge.rel == "input" else edge.dst
            found.setdefault(key, set()).add(edge.path)
    return found


def _drawn_first(paths: Sequence[str], drawn: Iterable[str]) -> tuple[str, ...]:
    """A data node's paths, those its edges in this graph use first: the same bytes may have
    been recorded at another path elsewhere, and a node is named as this graph uses it."""
    first = sorted(set(drawn))
    return (*first, *(p for p in paths if p not in first))


def _data_samples(
    index: Index, data_keys: Sequence[str], recorded_before: str | None
) -> tuple[dict[str, set[str]], dict[str, str]]:
    """(md5 -> every path recorded for it, md5 -> a record that names it)."""
    paths: dict[str, set[str]] = {}
    sample: dict[str, str] = {}
    for chunk in _chunks(data_keys):
        marks = ",".join("?" * len(chunk))
        for rel, column in (("input", "src"), ("output", "dst")):
            query, extra = _in_time(
                f"SELECT e.{column}, e.path, e.record_id FROM edges e "
                f"JOIN records r ON r.id = e.record_id WHERE e.rel = ? AND e.{column} IN ({marks})",
                recorded_before,
            )
            for key, path, record_id in index.db.execute(query, [rel, *chunk, *extra]):
                md5 = key.partition(":")[2]
                paths.setdefault(md5, set()).add(path)
                sample.setdefault(md5, record_id)
    return paths, sample


def _data_facts(
    paths: dict[str, set[str]], sample: dict[str, str], docs: dict[str, dict[str, Any]]
) -> dict[str, tuple[tuple[str, ...], int | None, int | None]]:
    """md5 -> (every recorded path, size, number of files), the size and count from the
    sample record's ``docs``."""
    facts = {}
    for md5, found in paths.items():
        size = nfiles = None
        doc = docs.get(sample[md5]) or {}
        for item in [*(doc.get("inputs") or ()), *(doc.get("outputs") or ())]:
            if item.get("md5") == md5:
                size, nfiles = item.get("size"), item.get("nfiles")
                break
        facts[md5] = (tuple(sorted(found)), size, nfiles)
    return facts


def _reproductions(
    index: Index, run_keys: Sequence[str], recorded_before: str | None
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, str]]]:
    """(run key -> verdicts of its reproductions, oldest first; reproduction record id ->
    (time, verdict)) for the runs given."""
    by_run: dict[str, tuple[str, ...]] = {}
    by_record: dict[str, tuple[str, str]] = {}
    every = index.reproductions_of(run_keys)
    for run_key in run_keys:
        found = [
            r
            for r in every.get(run_key, ())
            if recorded_before is None or r.created < recorded_before
        ]
        if found:
            found.sort(key=lambda r: (r.created, r.record_id))
            by_run[run_key] = tuple(r.verdict for r in found)
            by_record.update((r.record_id, (r.created, r.verdict)) for r in found)
    return by_run, by_record
