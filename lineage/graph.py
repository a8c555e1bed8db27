"""The lineage subgraph around some nodes: what made them (upstream), what was made from them
(downstream), or both, as the records stood at some moment.

Building walks the SQLite index breadth-first, one query per level, bounded by a depth and by
record time, so a graph of a few hundred nodes never loads the other 100,000 edges. The result
is a small plain model (frozen dataclasses) that ``lineage/render.py`` draws. Nothing here asks
git or MLflow anything: commit subjects and model aliases are added by the caller
(:func:`with_subjects`, :func:`with_aliases`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from lineage.commands.log import main_metric as pick_metric
from lineage.index import Edge, Index

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
BOTH = "both"
DIRECTIONS = (UPSTREAM, DOWNSTREAM, BOTH)
KIND_ORDER = {"commit": 0, "data": 1, "run": 2, "model": 3}
_CHUNK = 500  # SQLite's default limit on host parameters is 999 (older builds)


@dataclass(frozen=True)
class CommitNode:
    sha: str
    subject: str | None = None  # from git, when the repository has the commit
    snapshot: bool = False  # a lineage snapshot of a dirty working tree
    changed: tuple[str, ...] = ()  # a snapshot: the paths that differed from its base
    kind: ClassVar[str] = "commit"

    @property
    def key(self) -> str:
        return f"commit:{self.sha}"


@dataclass(frozen=True)
class DataNode:
    md5: str
    paths: tuple[str, ...] = ()  # every path it was recorded at
    size: int | None = None
    nfiles: int | None = None
    kind: ClassVar[str] = "data"

    @property
    def key(self) -> str:
        return f"data:{self.md5}"


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
        return f"run:{self.run_key}"


@dataclass(frozen=True)
class ModelNode:
    name: str
    version: int
    aliases: tuple[str, ...] | None = None  # current aliases; None: the registry was not asked
    kind: ClassVar[str] = "model"

    @property
    def key(self) -> str:
        return f"model:{self.name}/{self.version}"


GraphNode = CommitNode | DataNode | RunNode | ModelNode


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


@dataclass
class _Walk:
    nodes: set[str] = field(default_factory=set)
    edges: dict[tuple[str, str, str, str | None, str], Edge] = field(default_factory=dict)


# -- building --------------------------------------------------------------------------------


def build(
    index: Index,
    roots: Sequence[str],
    *,
    direction: str,
    depth: int | None = None,
    recorded_before: str | None = None,
    main_metric: str | None = None,
) -> Subgraph:
    """The subgraph within ``depth`` edges of ``roots`` (node keys), in ``direction``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    walked = _walk(index, roots, direction, depth, recorded_before)
    nodes: list[GraphNode] = []
    keys = sorted(walked.nodes, key=_order)
    snapshots = _snapshots(index, [k for k in keys if k.startswith("commit:")], recorded_before)
    data = _data_facts(index, [k for k in keys if k.startswith("data:")], recorded_before)
    runs = [k.partition(":")[2] for k in keys if k.startswith("run:")]
    representatives = representative_records(index, runs)
    verdicts, edge_verdicts = _reproductions(index, runs, recorded_before)
    for key in keys:
        kind, _, ident = key.partition(":")
        if kind == "commit":
            changed = snapshots.get(ident)
            nodes.append(
                CommitNode(ident, snapshot=changed is not None, changed=tuple(changed or ()))
            )
        elif kind == "data":
            paths, size, nfiles = data.get(ident, ((), None, None))
            nodes.append(DataNode(ident, paths, size, nfiles))
        elif kind == "run":
            record = representatives.get(ident)
            verdict = verdicts.get(ident, ())
            nodes.append(_run_node(ident, record, index, recorded_before, main_metric, verdict))
        elif kind == "model":
            name, _, version = ident.rpartition("/")
            nodes.append(ModelNode(name, int(version)))
    return Subgraph(
        roots=tuple(roots),
        direction=direction,
        nodes=tuple(nodes),
        edges=_merge(walked.edges.values(), edge_verdicts),
        depth=depth,
        recorded_before=recorded_before,
        records=representatives,
    )


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
) -> _Walk:
    walked = _Walk(nodes=set(roots))
    for way in (UPSTREAM, DOWNSTREAM) if direction == BOTH else (direction,):
        seen, frontier, level = set(roots), set(roots), 0
        while frontier and (depth is None or level < depth):
            reached: set[str] = set()
            column = "dst" if way == UPSTREAM else "src"
            for edge in edges_at(index, frontier, column, recorded_before):
                walked.edges[(edge.src, edge.rel, edge.dst, edge.path, edge.record_id)] = edge
                other = edge.src if way == UPSTREAM else edge.dst
                if other not in seen:
                    seen.add(other)
                    reached.add(other)
            frontier, level = reached, level + 1
        walked.nodes |= seen
    return walked


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
    found = {}
    for chunk in _chunks(sorted(run_keys)):
        marks = ",".join("?" * len(chunk))
        query = (
            "SELECT runs.run_key, records.id, records.body FROM runs "
            f"JOIN records ON records.id = runs.record_id WHERE runs.run_key IN ({marks})"
        )
        for run_key, record_id, body in index.db.execute(query, chunk):
            found[run_key] = (record_id, json.loads(body))
    return found


def _run_node(
    run_key: str,
    record: tuple[str, dict[str, Any]] | None,
    index: Index,
    recorded_before: str | None,
    main_metric: str | None,
    verdicts: tuple[str, ...],
) -> RunNode:
    doc = record[1] if record else None
    if doc is not None and recorded_before is not None and _created(doc) >= recorded_before:
        # The representative record is too new: the best one made in time, if any.
        doc = next(
            (d for _, d in index.records_for_run(run_key) if _created(d) < recorded_before), None
        )
    if doc is None:
        return RunNode(run_key, reproductions=verdicts)  # e.g. a parent run nobody recorded
    run = doc.get("run")
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


def _created(doc: Mapping[str, Any]) -> str:
    return str((doc.get("created") or {}).get("at") or "")


def _in_time(query: str, recorded_before: str | None) -> tuple[str, list[str]]:
    if recorded_before is None:
        return query, []
    return query + " AND r.created_at < ?", [recorded_before]


def _snapshots(
    index: Index, commit_keys: Sequence[str], recorded_before: str | None
) -> dict[str, list[str]]:
    """Snapshot commits among ``commit_keys``, with the paths that differed from their base."""
    found: dict[str, list[str]] = {}
    for chunk in _chunks(commit_keys):
        marks = ",".join("?" * len(chunk))
        query, extra = _in_time(
            "SELECT e.dst, r.body FROM edges e JOIN records r ON r.id = e.record_id "
            f"WHERE e.rel = 'snapshot' AND e.dst IN ({marks})",
            recorded_before,
        )
        for key, body in index.db.execute(query, [*chunk, *extra]):
            code = json.loads(body).get("code") or {}
            found.setdefault(key.partition(":")[2], list(code.get("changed") or ()))
    return found


def _data_facts(
    index: Index, data_keys: Sequence[str], recorded_before: str | None
) -> dict[str, tuple[tuple[str, ...], int | None, int | None]]:
    """md5 -> (every recorded path, size, number of files), from the records that name it."""
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
    facts = {}
    for md5, found in paths.items():
        size = nfiles = None
        doc = index.record(sample[md5]) or {}
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
    for run_key in run_keys:
        found = [
            r
            for r in index.reproductions(run_key)
            if recorded_before is None or r.created < recorded_before
        ]
        if found:
            found.sort(key=lambda r: (r.created, r.record_id))
            by_run[run_key] = tuple(r.verdict for r in found)
            by_record.update((r.record_id, (r.created, r.verdict)) for r in found)
    return by_run, by_record


# -- what the caller adds -------------------------------------------------------------------


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


# -- --as-of --------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"T(?P<h>\d{2})(:(?P<m>\d{2})(:(?P<s>\d{2})(?P<frac>[.,]\d+)?)?)?")


def moment_bound(text: str) -> str | None:
    """The exclusive upper bound on record time meant by an ISO 8601 date or datetime, as the
    records spell time (UTC, milliseconds, ``Z``); None when ``text`` is not one.

    The moment given is included to its precision: a date means the whole day, a time without
    seconds the whole minute. A date or time without a zone is local time.
    """
    if not _DATE.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    time = _TIME.search(text.replace(" ", "T", 1))
    if time is None:
        step = timedelta(days=1)
    elif time["m"] is None:
        step = timedelta(hours=1)
    elif time["s"] is None:
        step = timedelta(minutes=1)
    elif time["frac"] is None:
        step = timedelta(seconds=1)
    else:
        step = timedelta(milliseconds=1)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive means local time
    return utc_iso(moment + step)


def utc_iso(moment: datetime) -> str:
    """A moment as records write it: ``2026-11-27T03:15:00.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
