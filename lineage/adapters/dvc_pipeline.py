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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lineage.adapters.dvc import (
    LOCK,
    PIPELINE,
    PointerEntry,
    load_yaml,
    lock_stages,
    pipeline_of,
    pointers_at_tree,
    stage_address,
    stage_commands_at_tree,
)
from lineage.adapters.dvc_metrics import with_metrics
from lineage.errors import LineageError
from lineage.records import STATE_UNKNOWN, Data, Stage

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
    outs: set[str] = set()
    deps: set[str] = set()
    for path in (f for f in files if posixpath.basename(f) == PIPELINE):
        stages = (_tolerant_yaml(read_blob(path)) or {}).get("stages")
        directory = posixpath.dirname(path)
        for body in (stages if isinstance(stages, dict) else {}).values():
            if not isinstance(body, dict) or "foreach" in body:
                continue
            base = posixpath.join(directory, str(body.get("wdir") or ""))
            for key, into in (("outs", outs), ("deps", deps)):
                for item in body.get(key) or ():
                    name = next(iter(item), None) if isinstance(item, dict) else item
                    if isinstance(name, str) and "${" not in name and "://" not in name:
                        into.add(posixpath.normpath(posixpath.join(base, name)))
    return outs, deps


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
    warn: Callable[[str], None] = _warn_on_stderr,
) -> list[Stage]:
    """The stages a command executed, judged by the root dvc.lock before and after it: those
    whose entries changed; for an up-to-date `dvc repro` (nothing changed), the stages it
    named, else all of them. Each carries the params dvc.lock recorded for it and the values
    of its metrics files as the command left them (``dvc_metrics``)."""
    pipeline = is_pipeline_command(argv)
    if lock_after is None or (not pipeline and lock_after == lock_before):
        return []
    after = lock_stages(root)
    before = {s.name: s for s in lock_stages(root, lock_before)} if lock_before else {}
    executed = [s for s in after if before.get(s.name) != s]
    if not executed and pipeline:
        named = set(repro_targets(argv))
        executed = [s for s in after if not named or s.name in named]
    return with_metrics(root, executed, warn)


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


def inputs_at_commit(
    read_blob: Callable[[str], str | None],
    files: Sequence[str],
    tracked_md5: Callable[[str], str | None],
    argv: Sequence[str] = (),
) -> tuple[list[Data], list[str]]:
    """The data a run at a commit read, from that commit's own DVC files, and the paths whose
    hash cannot be trusted there (a stale ``dvc.lock``): a stage's outputs count only when every
    dep the lock recorded (git blobs, ``dvc add``ed data, other consistent stages' outputs) and
    every param match the commit. ``read_blob`` reads a file of the commit; ``tracked_md5``
    gives DVC's md5 of a git-tracked file or directory there (None if untracked).

    When ``argv`` is the command of some stages, the run read exactly those stages' deps, and
    never their outs (which it wrote)."""
    pointer_files = [f for f in files if f.endswith(".dvc") or posixpath.basename(f) == LOCK]
    entries = pointers_at_tree(read_blob, pointer_files)
    added = {e.path: e for e in entries if e.stage is None and e.role == "out"}
    params = lock_params(read_blob, pointer_files)
    stages: dict[str, list[PointerEntry]] = {}
    for e in entries:
        if e.stage is not None:
            stages.setdefault(e.stage, []).append(e)
    produced = {e.path: e for es in stages.values() for e in es if e.role == "out"}
    consistent: dict[str, bool] = {}

    def stage_ok(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in consistent:
            return consistent[name]
        if name in seen:
            return False
        ok = params_match(read_blob, params.get(name, {}))
        for dep in (e for e in stages[name] if e.role == "dep"):
            if not ok:
                break
            if dep.path in added:
                ok = added[dep.path].md5 == dep.md5
            elif dep.path in produced:
                out = produced[dep.path]
                ok = out.md5 == dep.md5 and stage_ok(out.stage or "", seen | {name})
            else:
                ok = tracked_md5(dep.path) == dep.md5
        consistent[name] = ok
        return ok

    own = stages_running(stage_commands_at_tree(read_blob, pointer_files), argv) if argv else set()
    if own:
        deps = {e.path for name in own for e in stages.get(name, ()) if e.role == "dep"}
        writes = {e.path for name in own for e in stages.get(name, ()) if e.role == "out"}
        upstream = upstream_deps(entries, own)
        read_added = [e for p, e in added.items() if overlaps(p, upstream)]
        produced = {p: e for p, e in produced.items() if p not in writes}
        declared_outs: set[str] = set()
    else:
        declared_outs, declared_deps = declared_paths(read_blob, files)
        deps = {e.path for es in stages.values() for e in es if e.role == "dep"} | declared_deps
        read_added = list(added.values())
    inputs = [e.to_data() for e in read_added]
    unknown: list[str] = []
    for path, out in sorted(produced.items()):
        if not overlaps(path, deps):
            continue  # a pipeline's end product (model, metrics): written, not read
        if stage_ok(out.stage or ""):
            inputs.append(out.to_data())
        else:
            unknown.append(path)
    # Declared in dvc.yaml and read by a stage, but no dvc.lock entry names it yet (the run
    # that made it was the first): the run read it, and nothing at the commit says which.
    unknown += [p for p in sorted(declared_outs) if p not in produced and overlaps(p, deps)]
    inputs = [replace(d, state=STATE_UNKNOWN) for d in sorted(inputs, key=lambda d: d.path)]
    return inputs, unknown


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
