"""Which stages `dvc repro` (or `dvc exp run`) visits, worked out as DVC 3 does in
``dvc/repo/reproduce.py`` from the stages' deps and outs, without importing ``dvc``.

DVC collects the targets (``dvc.yaml`` in its working directory by default; a stage name, a
``foreach`` group, ``path/dvc.yaml``, ``path/dvc.yaml:name`` or ``dir:name``), then plans: the
targets and everything upstream of them; with ``-s`` the targets alone; with ``--downstream``
the targets and everything downstream; with ``-p`` the whole pipelines (connected components)
holding them; with ``-P`` every stage. Frozen stages run nothing and are cut from their
upstream. ``--dry`` runs nothing. Under ``-f`` every visited stage runs, changed or not.

Pure: the caller reads the stages (``dvc_pipeline``), so this is tested without DVC.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lineage.adapters.dvc import PIPELINE, split_stage_address, stage_address


@dataclass(frozen=True)
class PlannedStage:
    """A stage as DVC's graph sees it: its address and repository paths."""

    address: str
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    frozen: bool = False


@dataclass(frozen=True)
class Repro:
    """The options of a `dvc repro` / `dvc exp run` that decide what runs."""

    targets: tuple[str, ...] = ()
    force: bool = False
    single_item: bool = False
    pipeline: bool = False
    all_pipelines: bool = False
    recursive: bool = False
    downstream: bool = False
    force_downstream: bool = False
    dry: bool = False


_SWITCHES = {
    "-f": "force",
    "--force": "force",
    "-s": "single_item",
    "--single-item": "single_item",
    "-p": "pipeline",
    "--pipeline": "pipeline",
    "-P": "all_pipelines",
    "--all-pipelines": "all_pipelines",
    "-R": "recursive",
    "--recursive": "recursive",
    "--downstream": "downstream",
    "--force-downstream": "force_downstream",
    "--dry": "dry",
}
# Options that do not change which stages are visited (-i may skip one: the user said no).
_NEUTRAL = {
    "-q", "--quiet", "-v", "--verbose", "-i", "--interactive", "--pull", "--allow-missing",
    "-k", "--keep-going", "--ignore-errors", "--no-commit", "--no-run-cache",
}  # fmt: skip
# `dvc exp run` options: these take a value and leave the plan alone (-S changes params, not
# which stages DVC visits); --queue, --run-all and --temp run elsewhere or later: not modelled.
_EXP_VALUED = {"-n", "--name", "-S", "--set-param", "-j", "--jobs", "-C", "--copy-paths", "-m"}
_EXP_NEUTRAL = {"--no-hydra"}


def parse_repro(argv: Sequence[str]) -> Repro | None:
    """The plan options of ``dvc [-q|-v] repro|exp run ...``; None for any other command or an
    option not modelled here (``--glob``, ``--cd``, ``--queue``...)."""
    if not argv or posixpath.basename(argv[0]) != "dvc":
        return None
    words = list(argv[1:])
    while words and words[0] in ("-q", "--quiet", "-v", "--verbose"):
        words.pop(0)
    if words[:1] == ["repro"]:
        rest, exp = words[1:], False
    elif words[:2] == ["exp", "run"]:
        rest, exp = words[2:], True
    else:
        return None
    found: dict[str, bool] = {}
    targets: list[str] = []
    pending = iter(rest)
    for word in pending:
        if not word.startswith("-"):
            targets.append(word)
        elif exp and word in _EXP_VALUED:
            next(pending, None)
        elif exp and (word in _EXP_NEUTRAL or word.split("=", 1)[0] in _EXP_VALUED):
            continue
        else:
            flags = _flags(word)
            if flags is None:
                return None
            found.update((f, True) for f in flags)
    return Repro(targets=tuple(targets), **found)


def _flags(word: str) -> list[str] | None:
    """The plan switches one option word sets (``-fs`` is ``-f -s``); None if unknown."""
    if word in _SWITCHES:
        return [_SWITCHES[word]]
    if word in _NEUTRAL:
        return []
    if word.startswith("--") or len(word) < 3:
        return None
    letters = [f"-{c}" for c in word[1:]]
    if not all(x in _SWITCHES or x in _NEUTRAL for x in letters):
        return None
    return [_SWITCHES[x] for x in letters if x in _SWITCHES]


def visited(repro: Repro, stages: Sequence[PlannedStage], cwd: str = "") -> set[str] | None:
    """The addresses of the stages DVC's plan visits (each runs if changed, or always under
    ``-f``), frozen ones left out; None when the targets cannot be resolved here. ``cwd`` is
    DVC's working directory, relative to the repository root ("" at the root)."""
    if repro.dry:
        return set()
    by_address = {s.address: s for s in stages}
    upstream = _upstream_edges(stages)
    if repro.all_pipelines:
        chosen: set[str] = set(by_address)
    else:
        collected = _collect(repro, stages, cwd)
        if collected is None:
            return None
        if repro.pipeline:
            chosen = _reachable(_undirected(upstream), collected)
        elif repro.single_item:
            chosen = collected
        elif repro.downstream:
            chosen = _reachable(_reversed(upstream), collected)
        else:
            chosen = _reachable(upstream, collected)
    return {a for a in chosen if not by_address[a].frozen}


def downstream_of(changed: Iterable[str], stages: Sequence[PlannedStage]) -> set[str]:
    """Every stage that reads, directly or through others, what ``changed`` stages wrote:
    what ``--force-downstream`` forces."""
    changed = set(changed)
    return _reachable(_reversed(_upstream_edges(stages)), changed) - changed


def address_in_repo(address: str, cwd: str) -> str | None:
    """A stage address as DVC spells it for its working directory ``cwd`` (``DVC_STAGE``:
    the dvc.yaml path is relative to it), as lineage spells it: relative to the root."""
    pipeline, name = split_stage_address(address)
    path = _in_repo(cwd, pipeline)
    return stage_address(path, name) if path is not None and name else None


def _in_repo(cwd: str, path: str) -> str | None:
    joined = posixpath.normpath(posixpath.join(cwd, path))
    return None if joined == ".." or joined.startswith("../") else joined


def _collect(repro: Repro, stages: Sequence[PlannedStage], cwd: str) -> set[str] | None:
    """The stages the targets name, as DVC's ``collect`` resolves them."""
    collected: set[str] = set()
    for target in repro.targets or (PIPELINE,):
        found = _collect_one(target, stages, cwd, recursive=repro.recursive)
        if not found:
            return None  # DVC refuses a target it cannot find; a `.dvc` file is not modelled
        collected |= found
    return collected


def _collect_one(
    target: str, stages: Sequence[PlannedStage], cwd: str, *, recursive: bool
) -> set[str] | None:
    path, colon, name = target.rpartition(":")
    if not colon:
        path, name = (target, "") if target.endswith(PIPELINE) or recursive else ("", target)
    if recursive and not name:
        directory = _in_repo(cwd, path)
        if directory is None:
            return None
        inside = [s for s in stages if _under(split_stage_address(s.address)[0], directory)]
        return {s.address for s in inside}
    if path and not path.endswith(PIPELINE):
        path = posixpath.join(path, PIPELINE)  # `dir:name`
    pipeline = _in_repo(cwd, path or PIPELINE)
    if pipeline is None:
        return None
    found = set()
    for stage in stages:
        file, stage_name = split_stage_address(stage.address)
        # A `foreach`/`matrix` group's name collects every `name@key` stage of it.
        if file == pipeline and (not name or name in (stage_name, stage_name.partition("@")[0])):
            found.add(stage.address)
    return found


def _under(path: str, directory: str) -> bool:
    return directory in ("", ".") or path.startswith(directory + "/")


def _overlap(dep: str, out: str) -> bool:
    """DVC links a dep to an out that is it, holds it, or lies inside it."""
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


def _upstream_edges(stages: Sequence[PlannedStage]) -> dict[str, set[str]]:
    """Stage -> the stages whose outs it reads; a frozen stage reads none (DVC's active
    graph disconnects it from its upstream)."""
    edges: dict[str, set[str]] = {s.address: set() for s in stages}
    for stage in stages:
        if stage.frozen:
            continue
        for other in stages:
            if other is not stage and any(_overlap(d, o) for d in stage.deps for o in other.outs):
                edges[stage.address].add(other.address)
    return edges


def _reversed(edges: Mapping[str, set[str]]) -> dict[str, set[str]]:
    back: dict[str, set[str]] = {a: set() for a in edges}
    for a, targets in edges.items():
        for b in targets:
            back[b].add(a)
    return back


def _undirected(edges: Mapping[str, set[str]]) -> dict[str, set[str]]:
    back = _reversed(edges)
    return {a: edges[a] | back[a] for a in edges}


def _reachable(edges: Mapping[str, set[str]], start: Iterable[str]) -> set[str]:
    seen = set(start)
    pending = list(seen)
    while pending:
        for b in edges.get(pending.pop(), ()):
            if b not in seen:
                seen.add(b)
                pending.append(b)
    return seen
