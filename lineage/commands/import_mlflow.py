"""`lineage import mlflow`: inferred records for history made before lineage was used.

For every run behind a registered model version (and, with ``--experiment``, every run of those
experiments) that lineage has no observed record of, write an **inferred** record from what MLflow
and the repository still know:

* code: MLflow's ``mlflow.source.git.commit`` tag, when that commit is in this repository. MLflow
  records no dirty flag, so ``code.dirty`` is ``null`` (unknown), never ``false``.
* data: the DVC pointers of that commit, used only where they are consistent *at that commit*.
  A ``.dvc`` file names what the commit claims, so its hash is used. A ``dvc.lock`` is usually
  committed after the run it describes, so at the run's commit it may be stale or belong to an
  earlier run: a stage's outputs are used only when every dep the lock recorded (code blobs,
  ``.dvc`` data, other stages' outputs) and every param matches the commit itself; otherwise the
  path is recorded in ``unknown_inputs``, never with a guessed hash.
* params, metrics, status and times from the run; the command from ``mlflow.source.name`` /
  ``mlflow.project.entryPoint`` where MLflow recorded one; the model versions made from it.

Idempotent: a run is written again only when what would be recorded changed (say, a version was
registered from it since); ``--since`` limits the search to runs started and versions created
after a date.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from lineage import __version__
from lineage.adapters import dvc, git, mlflow_bulk
from lineage.adapters import mlflow as mlflow_adapter
from lineage.commands.run import iso, utc_now
from lineage.index import Index
from lineage.records import (
    INFERRED,
    STATE_UNKNOWN,
    Code,
    Command,
    Data,
    ModelVersion,
    Provenance,
    RunRecord,
    encode,
    to_dict,
)
from lineage.store import Store

Notify = Callable[[str], None]
SESSION = "mlflow-import"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
SOURCE_NAME_TAG = "mlflow.source.name"
SOURCE_TYPE_TAG = "mlflow.source.type"
ENTRY_POINT_TAG = "mlflow.project.entryPoint"
_STATUS = {"FINISHED": "succeeded", "FAILED": "failed", "KILLED": "killed"}


@dataclass
class ImportResult:
    runs_seen: int = 0
    written: int = 0  # new or changed inferred records
    unchanged: int = 0  # an identical inferred record already exists
    observed: int = 0  # left alone: lineage observed these runs itself
    record_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def import_mlflow(
    *,
    paths: git.RepoPaths,
    index: Index,
    environ: Mapping[str, str],
    cwd: Path,
    experiments: Sequence[str] = (),
    models: Sequence[str] = (),
    since: datetime | None = None,
    notify: Notify = lambda _: None,
) -> ImportResult:
    uri = mlflow_adapter.tracking_uri(environ, cwd)
    registry = mlflow_adapter.registry_uri(environ, uri)
    since_ms = int(since.timestamp() * 1000) if since else None
    versions = [
        v
        for v in mlflow_bulk.registered_versions(uri, registry, models)
        if since_ms is None or (v.created_ms or 0) >= since_ms
    ]
    made: dict[str, list[ModelVersion]] = {}
    for v in versions:
        if v.run_id:
            made.setdefault(v.run_id, []).append(v.version)
    notify(f"{len(versions)} registered model version(s); reading their runs")

    def progress(done: int) -> None:
        notify(f"read {done} run(s)")

    historic = mlflow_bulk.runs(
        uri,
        experiments=experiments,
        run_ids=sorted(made),
        since_ms=since_ms,
        progress=progress,
    )
    result = ImportResult()
    inferrer = _Inferrer(paths)
    name, email = git.identity(paths)
    created = Provenance(at=iso(utc_now()), name=name, email=email, tool=f"lineage {__version__}")
    pending: list[tuple[str, bytes]] = []
    for item in historic:
        result.runs_seen += 1
        existing = index.records_for_run(item.run.run_id)
        if any(doc.get("evidence") == "observed" for _, doc in existing):
            result.observed += 1
            continue
        produced = sorted(set(made.get(item.run.run_id, [])), key=_by_name_version)
        record = inferrer.record(item, produced, created)
        if any(_same_fact(doc, record) for _, doc in existing):
            result.unchanged += 1
            continue
        pending.append(encode(record))
    if pending:
        Store(paths).append(
            pending, message=f"lineage: import {len(pending)} inferred record(s) from MLflow"
        )
    result.written = len(pending)
    result.record_ids = [rid for rid, _ in pending]
    result.notes = inferrer.notes()
    return result


def _by_name_version(model: ModelVersion) -> tuple[str, int]:
    return model.name, model.version


def _same_fact(doc: dict[str, Any], record: RunRecord) -> bool:
    """The same record but for when it was written: nothing new to say."""
    mine = to_dict(record)
    return {k: v for k, v in doc.items() if k != "created"} == {
        k: v for k, v in mine.items() if k != "created"
    }


class _Inferrer:
    """Builds inferred records; caches what it reads per commit."""

    def __init__(self, paths: git.RepoPaths) -> None:
        self.paths = paths
        self._repo: Any = None
        self._inputs: dict[str, tuple[list[Data], list[str]]] = {}
        self._exists: dict[str, bool] = {}
        self.missing_commits: set[str] = set()

    @property
    def repo(self) -> Any:
        if self._repo is None:
            import pygit2

            self._repo = pygit2.Repository(str(self.paths.git_dir))
        return self._repo

    def notes(self) -> list[str]:
        if not self.missing_commits:
            return []
        listed = ", ".join(sorted(c[:10] for c in self.missing_commits)[:5])
        return [
            f"{len(self.missing_commits)} commit(s) MLflow names are not in this repository "
            f"({listed}); those runs were imported without code or data: `git fetch` them and "
            "import again"
        ]

    def _has(self, sha: str) -> bool:
        if sha not in self._exists:
            self._exists[sha] = len(sha) == 40 and git.has_commit(self.paths, sha)
        return self._exists[sha]

    def record(
        self, item: mlflow_bulk.HistoricRun, models: list[ModelVersion], created: Provenance
    ) -> RunRecord:
        sha = item.tags.get(GIT_COMMIT_TAG, "").strip().lower()
        commit = sha if sha and self._has(sha) else None
        if sha and commit is None:
            self.missing_commits.add(sha)
        inputs, unknown = self.inputs_at(commit) if commit else ([], [])
        return RunRecord(
            evidence=INFERRED,
            session=SESSION,
            code=Code(commit=commit, dirty=None),
            created=created,
            run=item.run,
            command=self._command(item, commit),
            inputs=tuple(inputs),
            models=tuple(models),
            unknown_inputs=tuple(unknown),
        )

    def _command(self, item: mlflow_bulk.HistoricRun, commit: str | None) -> Command | None:
        source = item.tags.get(SOURCE_NAME_TAG, "")
        kind = item.tags.get(SOURCE_TYPE_TAG, "")
        argv: tuple[str, ...] | None = None
        if kind == "PROJECT":
            entry = item.tags.get(ENTRY_POINT_TAG, "main")
            argv = ("mlflow", "run", ".", "-e", entry)
        elif source.endswith(".py") and commit:
            script = self._in_tree(commit, source)
            argv = ("python", script) if script else None
        if argv is None:
            return None
        run = item.run
        duration = ((run.end_ms or 0) - (run.start_ms or 0)) / 1000 if run.end_ms else 0.0
        return Command(
            argv=argv,
            cwd=".",
            exit_code=None,
            status=_STATUS.get(run.status, run.status.lower()),
            started=_iso_ms(run.start_ms),
            ended=_iso_ms(run.end_ms),
            duration_s=round(max(duration, 0.0), 3),
        )

    def _in_tree(self, commit: str, source: str) -> str | None:
        """The path of the training script at the commit: the longest tail of MLflow's (often
        absolute, other machine's) source path that the commit has."""
        import pygit2

        tree = self.repo[commit].peel(pygit2.Tree)
        parts = source.replace("\\", "/").split("/")
        for start in range(len(parts)):
            candidate = "/".join(parts[start:])
            if not candidate:
                continue
            try:
                if isinstance(tree[candidate], pygit2.Blob):
                    return candidate
            except (KeyError, ValueError):
                continue
        return None

    # -- data ------------------------------------------------------------------------------

    def inputs_at(self, commit: str) -> tuple[list[Data], list[str]]:
        if commit not in self._inputs:
            self._inputs[commit] = self._infer_inputs(commit)
        return self._inputs[commit]

    def _infer_inputs(self, commit: str) -> tuple[list[Data], list[str]]:
        import pygit2

        tree = self.repo[commit].peel(pygit2.Tree)
        files = list(_walk(tree, ""))

        def read_blob(path: str) -> str | None:
            try:
                obj = tree[path]
            except (KeyError, ValueError):
                return None
            return bytes(obj.data).decode("utf-8") if isinstance(obj, pygit2.Blob) else None

        return infer_inputs(read_blob, files, lambda p: _tree_md5(tree, p))


def infer_inputs(
    read_blob: Callable[[str], str | None],
    files: Sequence[str],
    tracked_md5: Callable[[str], str | None],
) -> tuple[list[Data], list[str]]:
    """The data a run at a commit read, from that commit's own DVC files, and the paths whose
    hash cannot be trusted there (stale ``dvc.lock``). ``tracked_md5`` gives DVC's md5 of a
    git-tracked file or directory at the commit (None if untracked)."""
    pointer_files = [f for f in files if f.endswith(".dvc") or posixpath.basename(f) == dvc.LOCK]
    entries = dvc.pointers_at_tree(read_blob, pointer_files)
    added = {e.path: e for e in entries if e.stage is None and e.role == "out"}
    lock_params = _lock_params(read_blob, pointer_files)
    stages: dict[str, list[dvc.PointerEntry]] = {}
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
        ok = _params_match(read_blob, lock_params.get(name, {}))
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

    deps = {e.path for es in stages.values() for e in es if e.role == "dep"}

    def consumed(path: str) -> bool:
        return any(d == path or d.startswith(path + "/") or path.startswith(d + "/") for d in deps)

    declared_outs, declared_deps = _declared(read_blob, pointer_files, files)
    deps |= declared_deps
    inputs = [e.to_data() for e in added.values()]
    unknown: list[str] = []
    for path, out in sorted(produced.items()):
        if not consumed(path):
            continue  # a pipeline's end product (model, metrics): written, not read
        if stage_ok(out.stage or ""):
            inputs.append(out.to_data())
        else:
            unknown.append(path)
    # Declared in dvc.yaml and read by a stage, but no dvc.lock entry names it yet (the run
    # that made it was the first): the run read it, and nothing at the commit says which.
    unknown += [p for p in sorted(declared_outs) if p not in produced and consumed(p)]
    inputs = [replace(d, state=STATE_UNKNOWN) for d in sorted(inputs, key=lambda d: d.path)]
    return inputs, unknown


def _declared(
    read_blob: Callable[[str], str | None], pointer_files: Sequence[str], files: Sequence[str]
) -> tuple[set[str], set[str]]:
    """Outs and deps the dvc.yaml files at the commit declare (paths from the repo root)."""
    import yaml

    outs: set[str] = set()
    deps: set[str] = set()
    pipelines = [f for f in files if posixpath.basename(f) == "dvc.yaml"]
    for path in pipelines:
        text = read_blob(path)
        try:
            document = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            continue
        stages = document.get("stages") if isinstance(document, dict) else None
        directory = posixpath.dirname(path)
        for body in (stages or {}).values():
            if not isinstance(body, dict) or "foreach" in body:
                continue
            base = posixpath.join(directory, str(body.get("wdir") or ""))
            for key, into in (("outs", outs), ("deps", deps)):
                for item in body.get(key) or ():
                    name = next(iter(item), None) if isinstance(item, dict) else item
                    if isinstance(name, str) and "${" not in name and "://" not in name:
                        into.add(posixpath.normpath(posixpath.join(base, name)))
    return outs, deps


def _lock_params(
    read_blob: Callable[[str], str | None], pointer_files: Iterable[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Stage -> params file -> {key: value} as each dvc.lock recorded them."""
    import yaml

    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in pointer_files:
        if posixpath.basename(path) != dvc.LOCK:
            continue
        text = read_blob(path)
        document = yaml.safe_load(text) if text else None
        stages = (document or {}).get("stages") if isinstance(document, dict) else None
        directory = posixpath.dirname(path)
        prefix = "" if path == dvc.LOCK else f"{posixpath.join(directory, 'dvc.yaml')}:"
        for name, body in (stages or {}).items():
            params = body.get("params") if isinstance(body, dict) else None
            if isinstance(params, dict):
                found[f"{prefix}{name}"] = {
                    posixpath.join(directory, str(f)): v
                    for f, v in params.items()
                    if isinstance(v, dict)
                }
    return found


def _params_match(
    read_blob: Callable[[str], str | None], recorded: Mapping[str, Mapping[str, Any]]
) -> bool:
    import yaml

    for params_file, values in recorded.items():
        text = read_blob(params_file)
        if text is None:
            return False
        try:
            document = (
                yaml.safe_load(text) if not params_file.endswith(".json") else json.loads(text)
            )
        except (yaml.YAMLError, ValueError):
            return False
        for key, value in values.items():
            node: Any = document
            for part in str(key).split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node != value:
                return False
    return True


def _walk(tree: Any, prefix: str) -> Iterable[str]:
    import pygit2

    for entry in tree:
        path = f"{prefix}{entry.name}"
        if isinstance(entry, pygit2.Tree):
            yield from _walk(entry, path + "/")
        else:
            yield path


def _tree_md5(tree: Any, path: str) -> str | None:
    """DVC's md5 of a git-tracked file (plain md5 of its bytes) or directory (``.dir``)."""
    import pygit2

    try:
        obj = tree[path]
    except (KeyError, ValueError):
        return None
    if isinstance(obj, pygit2.Blob):
        return _md5(bytes(obj.data))
    if isinstance(obj, pygit2.Tree):
        manifest = [
            {
                "md5": hashlib.md5(
                    bytes(tree[f"{path}/{rel}"].data), usedforsecurity=False
                ).hexdigest(),
                "relpath": rel,
            }
            for rel in sorted(_walk(obj, ""))
        ]
        blob = json.dumps(manifest, sort_keys=True).encode("utf-8")
        return hashlib.md5(blob, usedforsecurity=False).hexdigest() + ".dir"
    return None


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _iso_ms(ms: int | None) -> str:
    if ms is None:
        return ""
    from datetime import UTC

    return iso(datetime.fromtimestamp(ms / 1000, tz=UTC))
