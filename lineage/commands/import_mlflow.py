"""`lineage import mlflow`: inferred records for history made before lineage was used.

For every run behind a registered model version (and, with ``--experiment``, every run of those
experiments) that lineage has no observed record of, write an **inferred** record from what MLflow
and the repository still know:

* code: MLflow's ``mlflow.source.git.commit`` tag, when that commit is in this repository. MLflow
  records no dirty flag, so ``code.dirty`` is ``null`` (unknown), never ``false``.
* data: the DVC pointers of that commit, used only where they are consistent *at that commit*,
  and where the commits made on top of it do not say they were another run's
  (``dvc_pipeline.inputs_of_run``). A ``dvc.lock`` is usually committed one commit after the run
  it describes, so at the run's commit it may belong to an earlier run, whose entries match
  every dep the lock declares when the script reads files it does not declare. A lock entry
  the next commit rewrites is not this run's; a next commit that is the late lock alone is.
  A stage's outputs are used only when every dep the lock recorded (code blobs, ``.dvc`` data,
  other stages' outputs) and every param matches the commit itself; otherwise the path is
  recorded in ``unknown_inputs``, with why in ``unknown_reasons``, never with a guessed hash.
* params, metrics, status and times from the run; the command from ``mlflow.source.name`` /
  ``mlflow.project.entryPoint`` where MLflow recorded one; the model versions made from it.

Idempotent: a run is written again only when what would be recorded changed (say, a version was
registered from it since); ``--since`` limits the search to runs started and versions created
after a date.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineage import progress, registrations
from lineage.adapters import dvc_pipeline, git, mlflow_bulk, mlflow_project
from lineage.adapters.dvc_hash import blob_md5, manifest_md5
from lineage.adapters.git_content import CommitTree, CommitTrees
from lineage.clock import iso_from_ms
from lineage.context import Context
from lineage.errors import LineageError
from lineage.records import (
    INFERRED,
    Code,
    Command,
    MlflowProject,
    ModelVersion,
    Provenance,
    RunRecord,
    encode,
    same_fact,
)
from lineage.redact import redact_value

Notify = Callable[[str], None]
SESSION = "mlflow-import"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
SOURCE_NAME_TAG = "mlflow.source.name"
SOURCE_TYPE_TAG = "mlflow.source.type"
ENTRY_POINT_TAG = "mlflow.project.entryPoint"
PROJECT_ENV_TAG = "mlflow.project.env"
_STATUS = {"FINISHED": "succeeded", "FAILED": "failed", "KILLED": "killed"}


@dataclass
class ImportResult:
    runs_seen: int = 0
    written: int = 0  # new or changed inferred records
    unchanged: int = 0  # an identical inferred record already exists
    observed: int = 0  # left alone: lineage observed these runs itself
    registrations: int = 0  # versions registered later from observed runs, now recorded
    record_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs_seen": self.runs_seen,
            "written": self.written,
            "unchanged": self.unchanged,
            "observed": self.observed,
            "registrations": self.registrations,
            "records": self.record_ids,
            "notes": self.notes,
        }

    def summary(self) -> str:
        later = (
            f", {self.registrations} version(s) registered from them later recorded"
            if self.registrations
            else ""
        )
        return (
            f"imported {self.written - self.registrations} inferred record(s) from "
            f"{self.runs_seen} MLflow run(s); {self.unchanged} already imported, "
            f"{self.observed} observed by lineage kept as they are{later}"
        )


def import_mlflow(
    ctx: Context,
    *,
    experiments: Sequence[str] = (),
    models: Sequence[str] = (),
    since: datetime | None = None,
    notify: Notify = lambda _: None,
) -> ImportResult:
    """Write an inferred record for every run behind a registered version of ``models`` (all
    models when none are named) and every run of ``experiments``, started (and registered)
    ``since``, that lineage did not observe."""
    ctx.require_initialized()  # as `lineage run`: records only where lineage is set up
    if git.head(ctx.paths).commit is None:
        raise LineageError(
            f"{ctx.paths.root} has no commit yet, so no commit MLflow names can be found in "
            "it; commit your code first, then run `lineage import mlflow`"
        )
    mlflow_bulk.require_stores(ctx.mlflow)
    since_ms = int(since.timestamp() * 1000) if since else None
    made, registered_at = _registered_from(ctx, models, since_ms, notify)

    historic = mlflow_bulk.runs(
        ctx.mlflow.tracking, experiments=experiments, run_ids=sorted(made), since_ms=since_ms
    )
    result = ImportResult()
    inferrer = _Inferrer(ctx.paths)
    created = ctx.provenance()
    pending: list[tuple[str, bytes]] = []
    # The runs of whole experiments are not counted before they are read: no total then.
    total = None if experiments else len(made)
    with progress.bar("reading MLflow runs", total=total, unit="runs") as advance:
        for item, existing in _with_records(ctx, historic):
            advance()
            result.runs_seen += 1
            produced = sorted(set(made.get(item.run.run_id, [])), key=lambda v: v.sort_key)
            if any(doc.get("evidence") == "observed" for _, doc in existing):
                # Lineage saw this run itself; what it may not have seen is a version
                # registered from it afterwards.
                result.observed += 1
                later = registrations.unrecorded(ctx.index, item.run.run_id, produced)
                pending += [encode(r) for r in registrations.build(ctx, later, registered_at)]
                result.registrations += len(later)
                continue
            record = inferrer.record(item, produced, created)
            if any(same_fact(doc, record) for _, doc in existing):
                result.unchanged += 1
                continue
            pending.append(encode(record))
    if pending:
        ctx.store.append(
            pending, message=f"lineage: import {len(pending)} inferred record(s) from MLflow"
        )
    result.written = len(pending)
    result.record_ids = [rid for rid, _ in pending]
    result.notes = inferrer.notes()
    return result


_PAGE = 1000  # runs looked up in the index at a time (MLflow pages them by 1,000 too)


def _with_records(
    ctx: Context, historic: Iterable[mlflow_bulk.HistoricRun]
) -> Iterator[tuple[mlflow_bulk.HistoricRun, list[tuple[str, dict[str, Any]]]]]:
    """Each run MLflow gave, with the records lineage holds of it: asked of the index a page
    of runs at a time (one query and one git read), not run by run."""
    runs = iter(historic)
    while page := list(itertools.islice(runs, _PAGE)):
        recorded = ctx.index.records_for_runs([item.run.run_id for item in page])
        for item in page:
            yield item, recorded.get(item.run.run_id, [])


def _registered_from(
    ctx: Context, models: Sequence[str], since_ms: int | None, notify: Notify
) -> tuple[dict[str, list[ModelVersion]], dict[ModelVersion, int | None]]:
    """Run id -> the versions of ``models`` (all models when none) registered from it; and
    when each version was registered."""
    versions = [
        v
        for v in mlflow_bulk.registered_versions(ctx.mlflow, models)
        if since_ms is None or (v.created_ms or 0) >= since_ms
    ]
    notify(f"{len(versions)} registered model version(s); reading their runs")
    made: dict[str, list[ModelVersion]] = {}
    for v in versions:
        if v.run_id:
            made.setdefault(v.run_id, []).append(v.version)
    return made, {v.version: v.created_ms for v in versions}


class _Inferrer:
    """Builds inferred records; caches what it reads per commit."""

    def __init__(self, paths: git.RepoPaths) -> None:
        self.paths = paths
        self._trees = CommitTrees(paths)
        self._inputs: dict[tuple[str, tuple[str, ...]], dvc_pipeline.RunInputs] = {}
        self._exists: dict[str, bool] = {}
        self.missing_commits: set[str] = set()

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
        command, project = self._command(item, commit)
        argv = command.argv if command else ()
        read = self.inputs_at(commit, argv) if commit else dvc_pipeline.RunInputs([])
        return RunRecord(
            evidence=INFERRED,
            session=SESSION,
            code=Code(commit=commit, dirty=None),
            created=created,
            run=item.run,
            command=command,
            inputs=tuple(read.inputs),
            models=tuple(models),
            unknown_inputs=tuple(read.unknown),
            unknown_reasons=read.unknown,
            project=project,
        )

    def _command(
        self, item: mlflow_bulk.HistoricRun, commit: str | None
    ) -> tuple[Command | None, MlflowProject | None]:
        """The command line, as far as MLflow's tags tell it. For an `mlflow run` it is whole:
        the entry point and every parameter MLflow passed it. For a script, MLflow keeps the
        file but not its arguments, and the command says so."""
        source = item.tags.get(SOURCE_NAME_TAG, "")
        kind = item.tags.get(SOURCE_TYPE_TAG, "")
        project = None
        unknown = False
        if kind == "PROJECT":
            project = self._project(item, commit)
            argv = tuple(mlflow_project.rerun_argv(project))
        elif source.endswith(".py") and commit:
            script = _in_tree(self._trees.at(commit), source)
            if script is None:
                return None, None
            argv, unknown = ("python", script), True
        else:
            return None, None
        run = item.run
        duration = ((run.end_ms or 0) - (run.start_ms or 0)) / 1000 if run.end_ms else 0.0
        command = Command(
            argv=argv,
            cwd=".",
            exit_code=None,
            status=_STATUS.get(run.status, run.status.lower()),
            started=iso_from_ms(run.start_ms),
            ended=iso_from_ms(run.end_ms),
            duration_s=round(max(duration, 0.0), 3),
            arguments_unknown=unknown,
        )
        return command, project

    def _project(self, item: mlflow_bulk.HistoricRun, commit: str | None) -> MlflowProject:
        """The `mlflow run` that made a run: its entry point, and the parameters the MLproject
        at the run's commit declares for it, with the values MLflow logged."""
        entry = item.tags.get(ENTRY_POINT_TAG) or mlflow_project.DEFAULT_ENTRY_POINT
        params = item.run.params
        declared = None
        if commit:
            text = self._trees.at(commit).text(mlflow_project.MLPROJECT)
            try:
                declared = mlflow_project.parse(text) if text is not None else None
            except LineageError:
                declared = None
        if declared is not None and entry in declared.entry_points:
            names = declared.entry_points[entry].parameters
            params = {k: v for k, v in params.items() if k in names}
        return MlflowProject(
            uri=".",
            entry_point=entry,
            parameters={k: redact_value(k, v) for k, v in sorted(params.items())},
            # MLflow tags the environment it built; none means it ran in the caller's own.
            env_manager=item.tags.get(PROJECT_ENV_TAG) or "local",
        )

    def inputs_at(self, commit: str, argv: Sequence[str]) -> dvc_pipeline.RunInputs:
        key = (commit, tuple(argv))
        if key not in self._inputs:
            self._inputs[key] = dvc_pipeline.inputs_of_run(
                self._files_of(commit),
                [self._files_of(child, commit) for child in self._trees.children(commit)],
                lambda path: _tracked_md5(self._trees.at(commit), path),
                argv,
            )
        return self._inputs[key]

    def _files_of(self, commit: str, parent: str | None = None) -> dvc_pipeline.CommitFiles:
        """A commit as the DVC pipeline rules read it; with ``parent``, and what it changed."""
        tree = self._trees.at(commit)
        changed = self._trees.changed(parent, commit) if parent else ()
        return dvc_pipeline.CommitFiles(commit, tree.text, tree.files(), changed)


def _in_tree(tree: CommitTree, source: str) -> str | None:
    """The path of the training script at the commit: the longest tail of MLflow's (often
    absolute, other machine's) source path that the commit has."""
    parts = source.replace("\\", "/").split("/")
    for start in range(len(parts)):
        candidate = "/".join(parts[start:])
        if candidate and tree.is_file(candidate):
            return candidate
    return None


def _tracked_md5(tree: CommitTree, path: str) -> str | None:
    """DVC's md5 of a git-tracked file or directory at the commit (None if untracked)."""
    found = tree.contents(path)
    if found is None:
        return None
    if isinstance(found, bytes):
        return blob_md5(found)
    return manifest_md5((rel, blob_md5(data)) for rel, data in found.items())
