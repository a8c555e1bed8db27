"""DVC's pipelines as lineage needs them: which stages a command executed and what they read and
wrote, what a command outside the pipeline may read, what a past commit's pipeline says a run
read (``lineage import mlflow``), and how to rerun recorded stages. Read from DVC's files
(``dvc.py``), never by importing ``dvc``; the values in the executed stages' metrics files come
from ``dvc_metrics.py``.
"""

from __future__ import annotations

import json
import posixpath
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.adapters.dvc import (
    LOCK,
    PIPELINE,
    PointerEntry,
    load_yaml,
    lock_stages,
    pipeline_of,
    pointers_at_tree,
    raw_stages,
    split_stage_address,
    stage_address,
    stage_commands_at_tree,
)
from lineage.adapters.dvc_metrics import with_metrics
from lineage.errors import LineageError
from lineage.records import STATE_UNKNOWN, Data, Stage

if TYPE_CHECKING:  # dvc_plan is imported after the child only: `lineage run` starts fast
    from lineage.adapters.dvc_plan import PlannedStage, Repro

# Pipelines at a commit, for inferring what a past run read (``lineage import mlflow``). History
# may hold files that no longer parse: they are skipped, not fatal.


def _tolerant_yaml(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        document = load_yaml(text, "")
    except LineageError:
        return None
    return document


def declared_paths(
    read_blob: Callable[[str], str | None], files: Iterable[str]
) -> tuple[set[str], set[str]]:
    """(outs, deps) the dvc.yaml files among ``files`` declare, as repository paths; templated
    and external paths, and ``foreach`` stages, are left out."""
    declared = declared_by_stage(read_blob, files).values()
    return {p for d in declared for p in d.outs}, {p for d in declared for p in d.deps}


@dataclass(frozen=True)
class Declared:
    """What one dvc.yaml stage declares it writes and reads, as repository paths."""

    outs: frozenset[str]
    deps: frozenset[str]


def declared_by_stage(
    read_blob: Callable[[str], str | None], files: Iterable[str]
) -> dict[str, Declared]:
    """Stage address -> its declared outs and deps, for the dvc.yaml files among ``files``;
    templated and external paths, and ``foreach`` stages, are left out."""
    found: dict[str, Declared] = {}
    for path in (f for f in files if posixpath.basename(f) == PIPELINE):
        stages = (_tolerant_yaml(read_blob(path)) or {}).get("stages")
        directory = posixpath.dirname(path)
        for name, body in (stages if isinstance(stages, dict) else {}).items():
            if not isinstance(body, dict) or "foreach" in body:
                continue
            base = posixpath.join(directory, str(body.get("wdir") or ""))
            outs, deps = (_declared_set(base, body.get(key)) for key in ("outs", "deps"))
            found[stage_address(path, str(name))] = Declared(outs, deps)
    return found


def _declared_set(base: str, items: Any) -> frozenset[str]:
    found = set()
    for item in items or ():
        name = next(iter(item), None) if isinstance(item, dict) else item
        if isinstance(name, str) and "${" not in name and "://" not in name:
            found.add(posixpath.normpath(posixpath.join(base, name)))
    return frozenset(found)


def lock_params(
    read_blob: Callable[[str], str | None], files: Iterable[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Stage address -> params file -> {key: value}, as each dvc.lock among ``files`` recorded
    the params its stages read."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in (f for f in files if posixpath.basename(f) == LOCK):
        document = _tolerant_yaml(read_blob(path)) or {}
        stages = document.get("stages")
        directory = posixpath.dirname(path)
        for name, body in (stages if isinstance(stages, dict) else {}).items():
            params = body.get("params") if isinstance(body, dict) else None
            if isinstance(params, dict):
                found[stage_address(pipeline_of(path), str(name))] = {
                    posixpath.join(directory, str(f)): v
                    for f, v in params.items()
                    if isinstance(v, dict)
                }
    return found


def params_match(
    read_blob: Callable[[str], str | None], recorded: dict[str, dict[str, Any]]
) -> bool:
    """Whether the params files (YAML, or JSON by suffix) hold every recorded value; keys are
    dotted paths into them, as in dvc.lock."""
    for params_file, values in recorded.items():
        text = read_blob(params_file)
        if text is None:
            return False
        try:
            document = json.loads(text) if params_file.endswith(".json") else load_yaml(text, "")
        except (LineageError, ValueError):
            return False
        for key, value in values.items():
            node: Any = document
            for part in str(key).split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node != value:
                return False
    return True


def overlaps(path: str, others: Iterable[str]) -> bool:
    """Whether ``path`` is one of ``others``, inside one, or holds one (DVC tracks directories)."""
    return any(o == path or o.startswith(path + "/") or path.startswith(o + "/") for o in others)


def candidate_inputs(entries: Sequence[PointerEntry]) -> list[PointerEntry]:
    """The DVC data a command outside DVC's pipeline may read: everything `dvc add`ed, and
    pipeline outputs that some stage consumes (prepared datasets). The pipeline's end products
    (models, metrics files) are what a training command writes, not what it reads."""
    deps = [e.path for e in entries if e.role == "dep"]
    return [e for e in entries if e.stage is None or e.role == "dep" or overlaps(e.path, deps)]


def upstream_deps(entries: Sequence[PointerEntry], stages: Iterable[str]) -> set[str]:
    """The deps of ``stages`` and of every stage upstream of them (whose outs they read,
    directly or through other stages): the paths a rerun of that chain reads."""
    by_stage: dict[str, list[PointerEntry]] = {}
    for e in entries:
        if e.stage is not None:
            by_stage.setdefault(e.stage, []).append(e)
    seen = set(stages)
    pending = list(seen)
    deps: set[str] = set()
    while pending:
        for e in by_stage.get(pending.pop(), ()):
            if e.role != "dep" or e.path in deps:
                continue
            deps.add(e.path)
            for name, stage_entries in by_stage.items():
                makes = any(o.role == "out" and overlaps(o.path, [e.path]) for o in stage_entries)
                if makes and name not in seen:
                    seen.add(name)
                    pending.append(name)
    return deps


def candidate_inputs_of(
    entries: Sequence[PointerEntry],
    argv: Sequence[str],
    read_text: Callable[[str], str | None],
) -> list[PointerEntry]:
    """``candidate_inputs``, narrowed to what its stages read when ``argv`` is the command (or
    runs the script) of some stages in ``dvc.lock``: a stage's own command run by hand reads
    that stage's deps and the data its upstream chain starts from, never its outs or other
    stages' end products. ``read_text`` reads a file of the workspace (None if absent)."""
    candidates = candidate_inputs(entries)
    if not argv or is_pipeline_command(argv):
        return candidates
    locks = sorted({e.pointer for e in entries if posixpath.basename(e.pointer) == LOCK})
    own = stages_running(stage_commands_at_tree(read_text, locks), argv) if locks else set()
    if not own:
        return candidates
    # What the stage reads directly (another stage's outs), and the `dvc add`ed data its chain
    # starts from (a rerun of the chain reads it; `impact` of it must find the run).
    deps = [e.path for e in entries if e.stage in own and e.role == "dep"]
    upstream = upstream_deps(entries, own)
    return [
        e
        for e in candidates
        if e.stage not in own
        and e.role != "dep"
        and overlaps(e.path, deps if e.stage is not None else upstream)
    ]


# DVC's command line


PIPELINE_COMMANDS = (("repro",), ("exp", "run"))
# Flags of `dvc exp run` that mean the same for `dvc repro`; anything else (-S, --queue, -n)
# changes what runs and is not supported yet.
_EXP_RUN_FLAGS = {"-q", "--quiet", "-v", "--verbose", "-f", "--force"}
_VERBOSITY = ("-q", "--quiet", "-v", "--verbose")


def is_pipeline_command(argv: Sequence[str]) -> bool:
    """`dvc repro ...` or `dvc exp run ...`: DVC runs the pipeline and rewrites dvc.lock."""
    if not argv or posixpath.basename(argv[0]) != "dvc":
        return False
    words = [a for a in argv[1:] if not a.startswith("-")]
    return any(tuple(words[: len(c)]) == c for c in PIPELINE_COMMANDS)


def repro_targets(argv: Sequence[str]) -> list[str]:
    """Stage names given to `dvc repro` (its options take no values)."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    return words[1:] if words[:1] == ["repro"] else []


def forced_rerun(argv: Sequence[str], stages: Sequence[str]) -> list[str] | None:
    """The `dvc repro` that reruns exactly the ``stages`` a recorded pipeline command ran, each
    forced (never restored from DVC's run-cache) and without their upstream stages (whose
    outputs a reproduction restores by their recorded hashes); None for a `dvc exp run` whose
    arguments change what runs."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    flags = [a for a in argv[1:] if a.startswith("-")]
    if words[:2] == ["exp", "run"] and (words[2:] or any(f not in _EXP_RUN_FLAGS for f in flags)):
        return None
    chosen = list(stages) or repro_targets(argv)
    single = ["--single-item", *chosen] if chosen else []
    return ["dvc", "repro", *(f for f in flags if f in _VERBOSITY), "--force", *single]


def _warn_on_stderr(message: str) -> None:
    # What the CLI's warnings look like. `recording.collect` does not hand its context's
    # `warn` down to here yet; a caller that has one passes it.
    sys.stderr.write(f"lineage: warning: {message}\n")


def executed_stages(
    root: Path,
    argv: Sequence[str],
    lock_before: str | None,
    lock_after: str | None,
    *,
    cwd: str = "",
    seen: Iterable[str] = (),
    succeeded: bool = True,
    warn: Callable[[str], None] = _warn_on_stderr,
) -> list[Stage]:
    """The stages a command executed, as the dvc.lock files after it record them: those whose
    root dvc.lock entry changed, those a process of the command was seen running in (``seen``:
    ``DVC_STAGE`` as lineage's MLflow plugin noted it, relative to the root), and for a forced
    `dvc repro`/`dvc exp run` that ``succeeded``, every stage DVC's plan visited (``dvc_plan``;
    ``cwd`` is where DVC ran, relative to the root), since a forced stage that rewrote the same
    outputs leaves its entry as it was. For an up-to-date, unforced `dvc repro` (nothing
    changed), the stages it named, else all of them. Each carries the params dvc.lock recorded
    for it and the values of its metrics files as the command left them (``dvc_metrics``)."""
    from lineage.adapters.dvc_plan import parse_repro

    pipeline = is_pipeline_command(argv)
    seen = set(seen)
    if lock_after is None or (not pipeline and not seen and lock_after == lock_before):
        return []
    after = lock_stages(root)
    before = {s.name: s for s in lock_stages(root, lock_before)} if lock_before else {}
    ran = {s.name for s in after if before.get(s.name) != s} | seen
    repro = parse_repro(argv) if pipeline else None
    if repro is not None and succeeded:
        ran |= _forced(root, repro, after, ran, cwd)
    executed = [s for s in after if s.name in ran]
    if not executed and pipeline and not (repro is not None and repro.dry):
        named = set(repro_targets(argv))
        executed = [s for s in after if not named or s.name in named]
    return with_metrics(root, executed, warn)


def _forced(root: Path, repro: Repro, after: Sequence[Stage], ran: set[str], cwd: str) -> set[str]:
    """The stages DVC ran whatever their lock entry says: under ``-f`` every one its plan
    visits; under ``--force-downstream`` those downstream of one that ran."""
    from lineage.adapters.dvc_plan import downstream_of, visited

    if not (repro.force or repro.force_downstream):
        return set()
    stages = _planned(root, after)
    plan = visited(repro, stages, cwd)
    if plan is None:
        return set()
    return plan if repro.force else plan & downstream_of(ran, stages)


def _planned(root: Path, stages: Sequence[Stage]) -> list[PlannedStage]:
    """The stages as DVC's graph sees them: paths from dvc.lock (where DVC wrote templated and
    ``foreach`` paths out), frozen from dvc.yaml."""
    from lineage.adapters.dvc_plan import PlannedStage

    frozen: set[str] = set()
    for pipeline in sorted({split_stage_address(s.name)[0] for s in stages}):
        path = root / pipeline
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        for name, body in raw_stages(text, pipeline).items() if text else ():
            body = body.get("do", body) if isinstance(body, dict) and "foreach" in body else body
            if isinstance(body, dict) and body.get("frozen"):
                frozen.add(stage_address(pipeline, name))
    return [
        PlannedStage(
            address=s.name,
            deps=tuple(d.path for d in s.deps),
            outs=tuple(o.path for o in s.outs),
            frozen=s.name.partition("@")[0] in frozen,
        )
        for s in stages
    ]


def stage_data(executed: Sequence[Stage], tracked: set[str]) -> tuple[list[Data], list[Data]]:
    """What executed stages read and wrote: their deps that are neither git-tracked (code, which
    the commit covers) nor made by another executed stage; and their outs."""
    produced = {o.path for s in executed for o in s.outs}
    seen: set[tuple[str, str]] = set()
    inputs: list[Data] = []
    for stage in executed:
        for dep in stage.deps:
            if dep.path in tracked or dep.path in produced or (dep.path, dep.md5) in seen:
                continue
            seen.add((dep.path, dep.md5))
            inputs.append(dep)
    return inputs, [o for s in executed for o in s.outs]


def stages_of_runs(executed: Sequence[Stage], started_in: Iterable[str]) -> dict[str, list[Stage]]:
    """For each executed stage an MLflow run was started in, the stages its runs record: that
    stage, and each executed stage no run was started in that hangs off it: one that reads
    what it wrote (an evaluation after training), through other such stages; or, for a stage
    with no such run upstream, one whose outputs it reads (data preparation before training).
    A stage connected to no run's stage is left out of them all: it is not theirs."""
    started = set(started_in)
    covered = [s.name for s in executed if s.name in started]
    upstream: dict[str, set[str]] = {s.name: set() for s in executed}
    for stage in executed:
        for other in executed:
            if other is not stage and any(
                overlaps(d.path, [o.path for o in other.outs]) for d in stage.deps
            ):
                upstream[stage.name].add(other.name)
    downstream: dict[str, set[str]] = {name: set() for name in upstream}
    for name, makers in upstream.items():
        for maker in makers:
            downstream[maker].add(name)
    owners: dict[str, set[str]] = {name: {name} for name in covered}
    uncovered = [s.name for s in executed if s.name not in owners]
    for name in uncovered:  # what a run's stage wrote, read on: evaluation after training
        if found := _nearest(name, upstream, set(covered)):
            owners[name] = found
    changed = True
    while changed:  # what feeds a run's stage, or a stage already placed: preparation
        changed = False
        for name in (n for n in uncovered if n not in owners):
            if found := _nearest(name, downstream, set(owners)):
                owners[name] = {o for stage in found for o in owners[stage]}
                changed = True
    return {name: [s for s in executed if name in owners.get(s.name, ())] for name in covered}


def _nearest(start: str, edges: Mapping[str, set[str]], placed: set[str]) -> set[str]:
    """The ``placed`` stages fewest ``edges`` away from ``start``."""
    seen = {start}
    frontier = {start}
    while frontier:
        frontier = {b for a in frontier for b in edges.get(a, ()) if b not in seen}
        if found := frontier & placed:
            return found
        seen |= frontier
    return set()


def stages_running(commands: Mapping[str, str], argv: Sequence[str]) -> set[str]:
    """The stages whose command ``argv`` is: the same command line, else (MLflow keeps only
    the script a run ran, not its arguments) the same Python script."""
    exact = {name for name, cmd in commands.items() if _words(cmd) == list(argv)}
    if exact:
        return exact
    script = _script(argv)
    if script is None:
        return set()
    return {name for name, cmd in commands.items() if _script(_words(cmd)) == script}


def _words(cmd: str) -> list[str]:
    try:
        return shlex.split(cmd)
    except ValueError:
        return cmd.split()


def _script(argv: Sequence[str]) -> str | None:
    """The Python script a command runs (``python -u src/train.py x`` -> src/train.py)."""
    words = list(argv)
    if words and posixpath.basename(words[0]).startswith("python"):
        words = [w for w in words[1:] if not w.startswith("-")]
    script = words[0] if words else None
    return posixpath.normpath(script) if script and script.endswith(".py") else None


@dataclass(frozen=True)
class CommitFiles:
    """What a past commit holds, as the importer reads it: its sha, a reader of its files (None
    when absent) and their paths; for a commit after the run's, the paths it changed."""

    sha: str
    read_blob: Callable[[str], str | None]
    files: Sequence[str]
    changed: Sequence[str] = ()


@dataclass(frozen=True)
class RunInputs:
    """What a past run read: the data whose hash is known, and each path whose hash is not,
    with why (a sentence for the user)."""

    inputs: list[Data]
    unknown: dict[str, str] = field(default_factory=dict)


def inputs_at_commit(
    read_blob: Callable[[str], str | None],
    files: Sequence[str],
    tracked_md5: Callable[[str], str | None],
    argv: Sequence[str] = (),
) -> tuple[list[Data], list[str]]:
    """The data a run at a commit read, from that commit's own DVC files, and the paths whose
    hash cannot be trusted there (``inputs_of_run`` without later commits)."""
    found = _inputs_at(CommitFiles("", read_blob, files), tracked_md5, argv, {})
    return found.inputs, sorted(found.unknown)


def inputs_of_run(
    at: CommitFiles,
    next_commits: Sequence[CommitFiles],
    tracked_md5: Callable[[str], str | None],
    argv: Sequence[str] = (),
) -> RunInputs:
    """The data a run at commit ``at`` read, and why each path it read whose hash cannot be
    trusted is unknown. ``next_commits`` are the commits made on top of ``at`` (its children).

    A ``dvc.lock`` is usually committed one commit after the run it describes, so the lock at
    ``at`` may be an earlier run's, and deps a script reads without declaring them (params.yaml,
    raw data) let such a stale entry pass every check. The next commit tells: a stage entry it
    rewrites was not written by this run, so its outputs are unknown. When that next commit is
    only the late lock (it changes nothing but DVC's bookkeeping), its entries are this run's,
    and are used wherever they match ``at`` itself."""
    before = _lock_entries(at) or {}
    rewriting: list[tuple[CommitFiles, set[str]]] = []
    late_locks: list[CommitFiles] = []
    for child in next_commits:
        after = _lock_entries(child)
        stages = _rewritten(before, after)
        if stages:
            rewriting.append((child, stages))
            if after is not None and _only_bookkeeping(child, stages):
                late_locks.append(child)
    if len(rewriting) == 1 and late_locks:
        late = _with_lock_of(at, late_locks[0])
        moved = _pointers_moved(at, next_commits, {}, late)
        return _inputs_at(late, tracked_md5, argv, {}, moved)
    distrusted: dict[str, str] = {}
    for child, stages in rewriting:
        for name in sorted(stages):
            distrusted.setdefault(
                name,
                f"dvc.lock at {at.sha[:10]} was rewritten by the next commit {child.sha[:10]}: "
                f"its entry for stage {name} is not this run's",
            )
    moved = _pointers_moved(at, next_commits, distrusted, at)
    return _inputs_at(at, tracked_md5, argv, distrusted, moved)


def _pointers_moved(
    at: CommitFiles,
    next_commits: Sequence[CommitFiles],
    distrusted: Mapping[str, str],
    locked: CommitFiles,
) -> dict[str, str]:
    """Path -> why, for the `dvc add`ed data whose .dvc file a next commit changes: the data
    may have changed in the workspace before the run and been committed after it. Unless a
    lock entry of ``locked`` (the run's lock) that is not ``distrusted`` read the data the
    pointer names at ``at``."""
    mine = _added(at) or {}
    confirmed = {
        (e.path, e.md5)
        for e in pointers_at_tree(locked.read_blob, _locks(locked.files))
        if e.role == "dep" and e.stage not in distrusted
    }
    moved: dict[str, str] = {}
    for child in (c for c in next_commits if any(p.endswith(".dvc") for p in c.changed)):
        theirs = _added(child) or {}
        for path, entry in sorted(mine.items()):
            same = path in theirs and theirs[path].md5 == entry.md5
            if not same and (path, entry.md5) not in confirmed:
                moved.setdefault(
                    path,
                    f"{entry.pointer} was changed by the next commit {child.sha[:10]}: the run "
                    f"may have read that commit's data, not {at.sha[:10]}'s",
                )
    return moved


def _added(commit: CommitFiles) -> dict[str, PointerEntry] | None:
    """The `dvc add`ed data of a commit, by path; None if a .dvc file there does not parse."""
    pointers = [f for f in commit.files if f.endswith(".dvc")]
    try:
        entries = pointers_at_tree(commit.read_blob, pointers)
    except LineageError:
        return None
    return {e.path: e for e in entries if e.role == "out"}


_LockEntries = dict[str, tuple[frozenset[tuple[str, str, str]], str]]


def _lock_entries(commit: CommitFiles) -> _LockEntries | None:
    """Stage address -> what its dvc.lock entry records (paths, hashes, params); None if a
    dvc.lock there does not parse (a later commit's: it then tells nothing reliable)."""
    locks = _locks(commit.files)
    try:
        entries = pointers_at_tree(commit.read_blob, locks)
    except LineageError:
        return None
    params = lock_params(commit.read_blob, locks)
    recorded: dict[str, set[tuple[str, str, str]]] = {}
    for e in entries:
        if e.stage is not None:
            recorded.setdefault(e.stage, set()).add((e.path, e.md5, e.role))
    return {
        name: (frozenset(found), json.dumps(params.get(name, {}), sort_keys=True, default=str))
        for name, found in recorded.items()
    }


def _rewritten(before: _LockEntries, after: _LockEntries | None) -> set[str]:
    """The stages whose lock entry the later commit changed, added or removed (every stage
    of ``before`` when its lock does not parse)."""
    if after is None:
        return set(before)
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def _only_bookkeeping(child: CommitFiles, stages: set[str]) -> bool:
    """Whether ``child`` changes nothing a run reads: only dvc.lock files, the .gitignore
    entries DVC writes for outputs, and the git-tracked outputs (``cache: false`` metrics)
    of the stages whose entries it rewrote."""
    entries = pointers_at_tree(child.read_blob, _locks(child.files))
    outs = {e.path for e in entries if e.role == "out" and e.stage in stages}
    return bool(child.changed) and all(
        posixpath.basename(p) in (LOCK, ".gitignore") or overlaps(p, outs) for p in child.changed
    )


def _with_lock_of(at: CommitFiles, child: CommitFiles) -> CommitFiles:
    """Commit ``at`` as if the dvc.lock files of ``child`` had been committed with it."""

    def read_blob(path: str) -> str | None:
        return (child if posixpath.basename(path) == LOCK else at).read_blob(path)

    locks = _locks(child.files)
    return CommitFiles(child.sha, read_blob, sorted({*at.files} - {*_locks(at.files)} | {*locks}))


def _locks(files: Iterable[str]) -> list[str]:
    return [f for f in files if posixpath.basename(f) == LOCK]


def _inputs_at(
    at: CommitFiles,
    tracked_md5: Callable[[str], str | None],
    argv: Sequence[str],
    distrusted: Mapping[str, str],
    moved: Mapping[str, str] | None = None,
) -> RunInputs:
    """The data a run at a commit read, from that commit's own DVC files, and the paths whose
    hash cannot be trusted there (a stale ``dvc.lock``): a stage's outputs count only when every
    dep the lock recorded (git blobs, ``dvc add``ed data, other consistent stages' outputs) and
    every param match the commit, and no stage they come from is ``distrusted`` (stage ->
    why); `dvc add`ed data ``moved`` (path -> why) is unknown. ``tracked_md5`` gives DVC's md5
    of a git-tracked file or directory there (None if untracked).

    When ``argv`` is the command of some stages, the run read exactly those stages' deps, and
    never their outs (which it wrote). Otherwise it may have read any output some stage reads,
    save the outputs only stages that never ran would read."""
    read_blob, files, where = at.read_blob, at.files, f"dvc.lock at {at.sha[:10] or 'the commit'}"
    pointer_files = [f for f in files if f.endswith(".dvc") or posixpath.basename(f) == LOCK]
    entries = pointers_at_tree(read_blob, pointer_files)
    added = {e.path: e for e in entries if e.stage is None and e.role == "out"}
    params = lock_params(read_blob, pointer_files)
    stages: dict[str, list[PointerEntry]] = {}
    for e in entries:
        if e.stage is not None:
            stages.setdefault(e.stage, []).append(e)
    produced = {e.path: e for es in stages.values() for e in es if e.role == "out"}
    verdicts: dict[str, str | None] = {}

    def why_not(name: str, seen: frozenset[str] = frozenset()) -> str | None:
        """Why the lock entry of stage ``name`` is not the commit's (None: it is)."""
        if name in verdicts:
            return verdicts[name]
        if name in seen:
            return f"{where} has a cycle through stage {name}"
        why = distrusted.get(name)
        if why is None and not params_match(read_blob, params.get(name, {})):
            why = f"{where} is stale for stage {name}: its params are not the commit's"
        for dep in (e for e in stages[name] if e.role == "dep"):
            if why is not None:
                break
            stale = f"{where} is stale for stage {name}: its {dep.path} is not the commit's"
            if dep.path in produced:
                out = produced[dep.path]
                why = why_not(out.stage or "", seen | {name}) if out.md5 == dep.md5 else stale
            elif (added[dep.path].md5 if dep.path in added else tracked_md5(dep.path)) != dep.md5:
                why = stale
        verdicts[name] = why
        return why

    own = stages_running(stage_commands_at_tree(read_blob, pointer_files), argv) if argv else set()
    declared = declared_by_stage(read_blob, files)
    if own:
        deps = {e.path for name in own for e in stages.get(name, ()) if e.role == "dep"}
        writes = {e.path for name in own for e in stages.get(name, ()) if e.role == "out"}
        upstream = upstream_deps(entries, own)
        read_added = [e for p, e in added.items() if overlaps(p, upstream)]
        produced = {p: e for p, e in produced.items() if p not in writes}
        readers: dict[str, set[str]] = {"": deps}
        declared = {}
    else:
        read_added = list(added.values())
        readers = _readers(stages, declared, _locks(files))
    moved = moved or {}
    inputs = [e.to_data() for e in read_added if e.path not in moved]
    unknown = {e.path: moved[e.path] for e in read_added if e.path in moved}
    for path, out in sorted(produced.items()):
        if not _read_by_another(path, out.stage or "", readers):
            continue  # a pipeline's end product (model, metrics): written, not read
        why = why_not(out.stage or "")
        if why is None:
            inputs.append(out.to_data())
        else:
            unknown[path] = why
    # Declared in dvc.yaml and read by a stage, but no dvc.lock entry names it yet (the run
    # that made it was the first): the run read it, and nothing at the commit says which.
    for name, stage in sorted(declared.items()):
        for path in sorted(stage.outs - produced.keys()):
            if _read_by_another(path, name, readers):
                unknown[path] = f"no {where} entry names it: stage {name} was not locked there"
    inputs = [replace(d, state=STATE_UNKNOWN) for d in sorted(inputs, key=lambda d: d.path)]
    return RunInputs(inputs, dict(sorted(unknown.items())))


def _readers(
    locked: Mapping[str, Sequence[PointerEntry]],
    declared: Mapping[str, Declared],
    locks: Sequence[str],
) -> dict[str, set[str]]:
    """Stage address -> the paths it reads (lock deps and declared deps), for the stages that
    may have run: a stage of a pipeline whose dvc.lock has no entry for it never ran."""
    pipelines_locked = {pipeline_of(lock) for lock in locks}
    readers: dict[str, set[str]] = {}
    for name, entries in locked.items():
        readers.setdefault(name, set()).update(e.path for e in entries if e.role == "dep")
    for name, stage in declared.items():
        never_ran = name not in locked and split_stage_address(name)[0] in pipelines_locked
        if not never_ran:
            readers.setdefault(name, set()).update(stage.deps)
    return readers


def _read_by_another(path: str, producer: str, readers: Mapping[str, set[str]]) -> bool:
    """Whether a stage other than the one that writes ``path`` reads it."""
    return any(name != producer and overlaps(path, deps) for name, deps in readers.items())


# Reruns of a stage's own command


@dataclass(frozen=True)
class StageChain:
    """The stages a command is (its own command line or script, at a commit), every stage
    upstream of them, and what that chain writes: a rerun of the command is a forced
    `dvc repro` of those stages, which reruns the chain, so what it writes is rebuilt, not
    restored."""

    stages: tuple[str, ...]
    upstream: tuple[str, ...]  # the stages and every stage whose outs they read, transitively
    writes: tuple[str, ...]  # outs of every stage in ``upstream``

    def rerun(self) -> list[str]:
        # --force reruns each target and every stage upstream of it, never from the run-cache.
        return ["dvc", "repro", "--force", *self.stages]

    def rebuilds(self, path: str) -> bool:
        return overlaps(path, self.writes)


def stage_chain_at(
    read_blob: Callable[[str], str | None], files: Iterable[str], argv: Sequence[str]
) -> StageChain | None:
    """The chain ``argv`` reruns when it is the command (or runs the script) of some stages in
    the ``dvc.lock`` files among ``files``; None for any other command, or a pipeline command
    (whose recorded stages say what it ran)."""
    if not argv or is_pipeline_command(argv):
        return None
    locks = sorted(f for f in files if posixpath.basename(f) == LOCK)
    own = stages_running(stage_commands_at_tree(read_blob, locks), argv) if locks else set()
    if not own:
        return None
    entries = pointers_at_tree(read_blob, locks)
    chain = _with_upstream_stages(entries, own)
    writes = {e.path for e in entries if e.stage in chain and e.role == "out"}
    return StageChain(tuple(sorted(own)), tuple(sorted(chain)), tuple(sorted(writes)))


def _with_upstream_stages(entries: Sequence[PointerEntry], stages: Iterable[str]) -> set[str]:
    outs: dict[str, list[str]] = {}
    deps: dict[str, list[str]] = {}
    for e in entries:
        if e.stage is not None:
            (outs if e.role == "out" else deps).setdefault(e.stage, []).append(e.path)
    seen = set(stages)
    pending = list(seen)
    while pending:
        for dep in deps.get(pending.pop(), ()):
            for name, written in outs.items():
                if name not in seen and any(overlaps(o, [dep]) for o in written):
                    seen.add(name)
                    pending.append(name)
    return seen
