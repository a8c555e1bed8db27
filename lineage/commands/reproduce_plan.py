"""`lineage reproduce REF`, first half: the plan. Everything reproduce would do, checked, without
running or writing anything (what `--dry-run` prints).

Resolve REF (aliases live) to a run and its representative record; check the recorded commit or
snapshot is here; ask where each input md5 is (the DVC cache on disk, else the remote in one
batched query); derive the command (the recorded argv; `dvc repro --force --single-item` of the
stages that ran; the MLproject entry point); compare the recorded environment with the
interpreter the rerun would use; pick the link types. Problems found here stop the reproduction
before anything runs.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lineage import environment
from lineage.adapters import (
    dvc,
    dvc_config,
    dvc_link,
    dvc_pipeline,
    dvc_store,
    git,
    git_content,
    git_lfs,
    mlflow_project,
)
from lineage.adapters.git_lfs import is_lfs_hash, oid_of
from lineage.context import Context
from lineage.errors import LineageError, UnsafePathError
from lineage.index import Index
from lineage.records import (
    OBSERVED,
    STATE_MISSING,
    Data,
    Environment,
    MlflowProject,
    ModelVersion,
    RunRecord,
    repo_path,
    run_record_from_dict,
)
from lineage.redact import REDACTED, Redaction, missing_values, redact_command, redact_uri
from lineage.resolve import Node, resolve, run_of

LINK_AS_ROOT = "LINEAGE_LINK_AS_ROOT"


class ReproductionBlocked(LineageError):
    """The plan found missing code, data or command: nothing was run."""


@dataclass(frozen=True)
class InputPlan:
    data: Data
    where: str  # cache, remote, missing, skipped; Git LFS: lfs-cache, lfs-remote
    remote: str | None = None
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvironmentDiff:
    python_then: str | None
    python_now: str | None
    changed: tuple[tuple[str, str, str], ...] = ()  # name, recorded version, version now
    missing: tuple[tuple[str, str], ...] = ()  # recorded but not installed now
    added: tuple[tuple[str, str], ...] = ()  # installed now, not recorded
    known: bool = True  # False when the record has no package list to compare with

    @property
    def same(self) -> bool:
        return self.python_then == self.python_now and not (
            self.changed or self.missing or self.added
        )


@dataclass
class Plan:
    ref: str
    node: Node
    model: ModelVersion | None
    run_key: str
    record_id: str
    record: RunRecord
    checkout: str | None  # commit to check out: the snapshot of a dirty tree, or the commit
    code_present: bool
    code_subject: str | None  # the commit's subject line, when it is here
    inputs: list[InputPlan]
    argv: list[str]  # what will run
    command_source: str  # record, dvc.yaml, MLproject, --command
    cwd: str
    foreign: bool  # the record was not written by this clone
    environment: EnvironmentDiff
    link_types: tuple[str, ...]
    link_note: str | None
    tracking_uri: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Paths the record read without knowing their version, restored as the commit's DVC
    # pointers name them (--use-pointers): the reproduction record says so.
    from_pointers: tuple[str, ...] = ()
    # Values the record hid in ``argv`` (secrets), put back from the environment at rerun time.
    hidden: tuple[Redaction, ...] = ()

    @property
    def shown_argv(self) -> list[str]:
        """``argv`` as it may be printed or written: secret-looking values hidden."""
        return list(redact_command(self.argv).argv)

    @property
    def needs_confirmation(self) -> bool:
        # An `mlflow run` from elsewhere names the project and the values put into its command.
        return self.foreign and self.command_source in ("record", "MLproject")

    def blocked_message(self) -> str:
        n = len(self.problems)
        more = f" (and {n - 1} more problem(s), listed above)" if n > 1 else ""
        return f"cannot reproduce {self.ref}: {self.problems[0]}{more}; nothing was run"


def plan(
    ctx: Context,
    *,
    ref: str,
    command: str | None = None,
    env_manager: str | None = None,
    given_inputs: Sequence[Data] = (),
    use_pointers: bool = False,
) -> Plan:
    """Everything `reproduce` would do, checked, without running or writing anything;
    ``command`` and ``env_manager`` as for :func:`command_for`; ``given_inputs`` are versions
    of inputs the user names (--input), ``use_pointers`` takes the versions the commit's DVC
    pointers name for inputs the record does not know (--use-pointers)."""
    node = resolve(ctx, ref)
    run_key, model = run_of(ref, node, ctx.index, verb="reproduce")
    record_id, record = _record(ctx.index, run_key)
    # The rerun's Python is probed in a child interpreter (~0.1-0.3 s): start it now, on the
    # record's own command, so it runs while the plan reads git and DVC.
    early = _EnvironmentProbe.start(ctx, record, record.command.argv if record.command else ())
    problems: list[str] = []
    warnings = _warnings(ctx, run_key, record)

    checkout = record.code.ran
    present = bool(checkout) and git.has_commit(ctx.paths, checkout or "")
    if checkout is None:
        problems.append("code: the record names no commit (the repository had none)")
    elif not present:
        what = "snapshot" if record.code.snapshot else "commit"
        problems.append(
            f"code: {what} {checkout[:12]} is not in this repository; fetch it "
            "(`git fetch`, or `lineage pull` for snapshots) and try again"
        )
    subject = None
    if present and record.code.commit and not record.code.snapshot:
        summary = git_content.commit_summary(ctx.paths, record.code.commit)
        subject = summary[0] if summary else None

    tree = git_content.ListedTree(ctx.paths, checkout) if present and checkout else None
    chain = _stage_chain(record, tree) if command is None else None
    wanted, from_pointers, unknown = _inputs_wanted(record, tree, chain, given_inputs, use_pointers)
    problems += [_unknown_input(path) for path in unknown]
    inputs = _plan_inputs(ctx, wanted)
    if chain is not None:  # what the chain writes is rebuilt: a lost copy does not matter
        inputs = [i for i in inputs if not (i.where == "missing" and chain.rebuilds(i.data.path))]
    problems += [_missing_input(item) for item in inputs if item.where == "missing"]
    argv, source, problem = command_for(
        record,
        command=command,
        env_manager=env_manager,
        chain=chain,
    )
    if env_manager and source != "MLproject":
        problem = problem or (
            "command: --env-manager applies to an `mlflow run` command, and this run's command "
            f"is `{' '.join(redact_command(argv).argv)}`"
        )
    hidden = _hidden_values(record, source)
    problem = problem or _hidden_problem(hidden, source, ctx.environ)
    if source == "MLproject" and record.project is not None and tree is not None:
        problem = problem or _environment_problem(record.project, env_manager, tree, ctx.environ)
    if problem:
        problems.append(problem)
    configured = dvc_config.cache_config(ctx.paths.root).link_types if inputs else ("copy",)
    links, note = link_types(configured, ctx.environ)
    return Plan(
        ref=ref,
        node=node,
        model=model,
        run_key=run_key,
        record_id=record_id,
        record=record,
        checkout=checkout,
        code_present=present,
        code_subject=subject,
        inputs=inputs,
        argv=argv,
        command_source=source,
        # A stage chain reruns from the top: stage addresses are relative to it.
        cwd="." if chain is not None else (record.command.cwd if record.command else "."),
        foreign=not ctx.store.written_here(record_id),
        environment=_environment_diff(ctx, record, argv, early),
        link_types=links,
        link_note=note,
        tracking_uri=ctx.mlflow.tracking,
        problems=problems,
        warnings=warnings,
        from_pointers=from_pointers,
        hidden=hidden if source == "record" else (),
    )


def _hidden_values(record: RunRecord, source: str) -> tuple[Redaction, ...]:
    """The values the record hid in the command that will run (a `dvc.yaml` chain, an
    MLproject's parameters or the user's --command are other commands)."""
    if record.command is None or source not in ("record", "MLproject") or record.project:
        return ()
    return record.command.redacted


def _hidden_problem(
    hidden: tuple[Redaction, ...], source: str, environ: Mapping[str, str]
) -> str | None:
    """Why the command cannot run with its hidden values (never with the placeholder)."""
    missing = missing_values(hidden, environ) if source == "record" else list(hidden)
    if not missing:
        return None
    given = [r for r in missing if r.variable is not None and source == "record"]
    lost = [r for r in missing if r not in given]
    if lost:
        what = ", ".join(_what_was_hidden(r) for r in lost)
        return (
            f"command: the record hides {what} (it looked like a secret) and a rerun cannot "
            "get it back; give the whole command with --command"
        )
    names = ", ".join(f"{_what_was_hidden(r)} (set {r.variable})" for r in given)
    which = "that variable" if len(given) == 1 else "those variables"
    return (
        f"command: the record hides {names}, since it looked like a secret; set {which} in "
        "the environment to give the value, or give the whole command with --command"
    )


def _what_was_hidden(r: Redaction) -> str:
    if r.variable is None:
        return f"the credentials of {r.name}"
    return f"the value of {r.name}"


def given_input(text: str) -> Data:
    """``PATH=MD5`` (--input): a version of an input the user vouches for."""
    path, eq, md5 = text.partition("=")
    digest = md5.removesuffix(".dir")
    if not (eq and path and len(digest) == 32 and all(c in "0123456789abcdef" for c in digest)):
        raise ValueError(f"{text!r} is not PATH=MD5 (a DVC md5, with .dir for a directory)")
    try:
        return Data(path=repo_path(path), md5=md5)
    except UnsafePathError:
        raise ValueError(f"{path!r} is outside the repository") from None


def _stage_chain(
    record: RunRecord, tree: git_content.ListedTree | None
) -> dvc_pipeline.StageChain | None:
    """The DVC stages the recorded command is at the record's commit (None: it is no stage's)."""
    if tree is None or record.command is None or record.stages:
        return None
    return dvc_pipeline.stage_chain_at(tree.text, tree.files(), record.command.argv)


def _inputs_wanted(
    record: RunRecord,
    tree: git_content.ListedTree | None,
    chain: dvc_pipeline.StageChain | None,
    given: Sequence[Data],
    use_pointers: bool,
) -> tuple[list[Data], tuple[str, ...], list[str]]:
    """The inputs to restore (recorded, given, or the commit's pointers' for unknown ones), the
    paths taken from the pointers, and the unknown paths nothing gives a version of."""
    by_path = {d.path: d for d in given}
    wanted = [d for d in record.inputs if d.path not in by_path] + list(given)
    unknown = [
        p
        for p in record.unknown_inputs
        if p not in by_path and not (chain is not None and chain.rebuilds(p))
    ]
    if not (use_pointers and unknown):
        return wanted, (), unknown
    at_commit = _pointed_at(tree) if tree is not None else {}
    taken = [at_commit[p] for p in unknown if p in at_commit]
    return (
        wanted + taken,
        tuple(d.path for d in taken),
        [p for p in unknown if p not in at_commit],
    )


def _pointed_at(tree: git_content.ListedTree) -> dict[str, Data]:
    """Path -> the version the commit's .dvc files and dvc.lock outs name."""
    pointer_files = [
        f for f in tree.files() if f.endswith(".dvc") or f.rsplit("/", 1)[-1] == dvc.LOCK
    ]
    entries = dvc.pointers_at_tree(tree.text, pointer_files)
    return {e.path: e.to_data() for e in entries if e.role == "out"}


def _unknown_input(path: str) -> str:
    return (
        f"data: the run read {path}, whose version is unknown; give it with "
        f"--input {path}=MD5, or use the version the commit's DVC files name with --use-pointers"
    )


def _record(index: Index, run_key: str) -> tuple[str, RunRecord]:
    record_id, doc = index.records_for_run(run_key)[0]
    try:
        return record_id, run_record_from_dict(doc)
    except UnsafePathError as exc:
        raise LineageError(
            f"record {record_id[:12]} names the path {exc.path!r}, which is outside the "
            "repository; refusing to reproduce from it"
        ) from None


def _warnings(ctx: Context, run_key: str, record: RunRecord) -> list[str]:
    warnings = []
    if record.evidence != OBSERVED:
        warnings.append(
            f"the record of run {run_key[:12]} is {record.evidence}, not observed: its code and "
            "data were reconstructed after the fact and may not be what really ran"
        )
    here = redact_uri(ctx.mlflow.tracking)
    if record.run and here != record.run.tracking_uri:
        warnings.append(
            f"the run was recorded in {record.run.tracking_uri}; the rerun goes to {here}"
        )
    return warnings


def _plan_inputs(ctx: Context, inputs: Sequence[Data]) -> list[InputPlan]:
    wanted = [d for d in inputs if d.state != STATE_MISSING and not is_lfs_hash(d.md5)]
    found = dvc_store.locate(ctx.paths.root, sorted({d.md5 for d in wanted})) if wanted else {}
    lfs = sorted({oid_of(d.md5) for d in inputs if d.state != STATE_MISSING and is_lfs_hash(d.md5)})
    in_lfs = git_lfs.locate(ctx.paths, lfs) if lfs else {}
    plans = []
    for data in inputs:
        if data.state == STATE_MISSING:
            plans.append(InputPlan(data, "skipped"))
            continue
        if is_lfs_hash(data.md5):
            remote = git_lfs.default_remote(ctx.paths)
            plans.append(InputPlan(data, in_lfs[oid_of(data.md5)], remote))
            continue
        where = found[data.md5]
        plans.append(InputPlan(data, where.where, where.remote, where.missing))
    return plans


def _missing_input(item: InputPlan) -> str:
    if is_lfs_hash(item.data.md5):
        return (
            f"data: {item.data.path} {item.data.md5} is in neither .git/lfs/objects nor the "
            f"LFS store of '{item.remote}'; push it from the clone that made it (`git lfs push "
            f"--object-id {item.remote} {oid_of(item.data.md5)}`)"
        )
    detail = ""
    if item.data.md5.endswith(".dir") and item.missing:
        shown = ", ".join(m[:10] for m in item.missing[:3])
        detail = (
            f" ({len(item.missing)} of its objects: {shown}"
            f"{', ...' if len(item.missing) > 3 else ''})"
        )
    return (
        f"data: {item.data.path} {item.data.md5} is in neither the DVC cache nor "
        f"{remote_phrase(item.remote)}{detail}"
    )


def remote_phrase(remote: str | None) -> str:
    return f'the DVC remote "{remote}"' if remote else "any DVC remote (none is configured)"


def command_for(
    record: RunRecord,
    *,
    command: str | None = None,
    env_manager: str | None = None,
    chain: dvc_pipeline.StageChain | None = None,
) -> tuple[list[str], str, str | None]:
    """What to run, where that command comes from, and why it cannot run (if it cannot).

    ``command`` is the user's own command line (``--command``), which replaces the recorded
    one; ``env_manager`` reruns an `mlflow run` in another environment manager; ``chain`` is
    the DVC stages the recorded command is at its commit, rerun with their upstream stages
    (rerunning a stage's script alone would use the last run's upstream outputs)."""
    if command is not None:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return [], "--command", f"command: --command is not a valid command line ({exc})"
        if not argv:
            return [], "--command", "command: --command is empty"
        return argv, "--command", None
    if chain is not None:
        return chain.rerun(), "dvc.yaml", None
    if record.command is None:
        return [], "record", "command: the record has no command to rerun"
    argv = list(record.command.argv)
    if record.command.arguments_unknown:
        return argv, "record", _arguments_unknown(record, argv)
    if dvc_pipeline.is_pipeline_command(argv):
        rerun = dvc_pipeline.forced_rerun(argv, [s.name for s in record.stages])
        if rerun is None:
            return (
                argv,
                "dvc.yaml",
                f"command: `{' '.join(argv)}` cannot be rerun yet (only `dvc exp run` without "
                "arguments is); rerun it yourself in a worktree",
            )
        return rerun, "dvc.yaml", None
    if record.project is not None:
        # Every parameter MLflow passed (given or defaulted), the entry point and the
        # environment manager, observed or imported alike: not the defaults of today. A step a
        # multi-step runner started (`mlflow.projects.run`) is its own entry point, whatever
        # command started the runner.
        return _project_rerun(record.project, env_manager)
    if mlflow_project.is_mlflow_run(argv):
        return mlflow_project.rerun_as_recorded(argv, env_manager=env_manager), "MLproject", None
    return argv, "record", None


def _project_rerun(
    project: MlflowProject, env_manager: str | None
) -> tuple[list[str], str, str | None]:
    argv = mlflow_project.rerun_argv(project, env_manager=env_manager)
    hidden = sorted(k for k, v in project.parameters.items() if v == REDACTED)
    if hidden:
        return (
            argv,
            "MLproject",
            f"command: the record hides the value of parameter {', '.join(hidden)} (it looked "
            "like a secret); give the full `mlflow run` command line with --command",
        )
    return argv, "MLproject", None


def _environment_problem(
    project: MlflowProject,
    env_manager: str | None,
    tree: git_content.ListedTree,
    environ: Mapping[str, str],
) -> str | None:
    """Why `mlflow run` cannot build the environment it would build, checked before it runs
    (it would fail half-way, after downloading what it can)."""
    if not mlflow_project.is_local(project.uri):
        return None
    manager = env_manager or project.env_manager
    if manager is None:
        declared = _declared_project(tree, project.uri)
        manager = mlflow_project.chosen_env_manager(declared) if declared else None
    search = environ.get("PATH", os.defpath)
    missing = mlflow_project.missing_environment_tools(manager, search)
    need = f"needs {' and '.join(missing)}, not found here" if missing else None
    pyenv = shutil.which("pyenv", path=search)
    if need is None and manager == "virtualenv" and pyenv:
        version = mlflow_project.python_env_version(tree.text, project.uri)
        absent = mlflow_project.pyenv_python_missing(version, pyenv) if version else None
        if absent:
            need = f"needs Python {absent}, which pyenv has not installed (it would download it)"
    if need is None:
        return None
    return (
        f"command: `mlflow run` would build a {manager} environment, which {need}; rerun in "
        "the current environment with --env-manager local"
    )


def _declared_project(
    tree: git_content.ListedTree, directory: str
) -> mlflow_project.Project | None:
    text = tree.text(posixpath.normpath(posixpath.join(directory, mlflow_project.MLPROJECT)))
    try:
        return mlflow_project.parse(text) if text is not None else None
    except mlflow_project.ProjectError:
        return None


def _arguments_unknown(record: RunRecord, argv: list[str]) -> str:
    params = record.run.params if record.run else {}
    named = ", ".join(f"{k}={v}" for k, v in sorted(params.items())[:6])
    more = ", ..." if len(params) > 6 else ""
    could = f" (it logged {named}{more}, which it may have taken from them)" if params else ""
    return (
        f"command: MLflow kept the script, `{' '.join(argv)}`, but not the arguments it was "
        f"given{could}; lineage will not guess them: give the full command line with "
        f"--command '{' '.join(argv)} ...'"
    )


def link_types(
    configured: Sequence[str], environ: Mapping[str, str]
) -> tuple[tuple[str, ...], str | None]:
    """The repository's DVC link types, minus links that would not protect the cache."""
    types = [t for t in configured if t in dvc_link.LINK_TYPES]
    note = None
    if not dvc_link.links_protect_cache() and environ.get(LINK_AS_ROOT) != "1":
        unsafe = [t for t in types if t in ("hardlink", "symlink")]
        if unsafe:
            types = [t for t in types if t not in unsafe]
            note = (
                f"not using {'/'.join(unsafe)}: running as root, read-only links would not stop "
                f"the rerun from writing into the DVC cache (set {LINK_AS_ROOT}=1 to link anyway)"
            )
    if not types or types[-1] != "copy":
        types.append("copy")
    return tuple(dict.fromkeys(types)), note


def _interpreter(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The Python a rerun would use: argv's own, else `python` on PATH (DVC stage commands)."""
    search = environ.get("PATH", os.defpath)
    if argv and os.path.basename(argv[0]).startswith("python"):
        return shutil.which(argv[0], path=search)
    return shutil.which("python", path=search) or shutil.which("python3", path=search)


class _EnvironmentProbe:
    """The environment of the Python a rerun would use, probed in a thread while the plan
    goes on (the thread mostly waits for the child interpreter)."""

    def __init__(self, python: str, environ: Mapping[str, str]) -> None:
        import threading

        self.python = python
        self._found: Environment | None = None
        self._thread = threading.Thread(target=self._probe, args=(environ,), daemon=True)
        self._thread.start()

    def _probe(self, environ: Mapping[str, str]) -> None:
        self._found = environment.capture_interpreter(self.python, environ=environ)

    def result(self) -> Environment | None:
        self._thread.join()
        return self._found

    @classmethod
    def start(
        cls, ctx: Context, record: RunRecord, argv: Sequence[str]
    ) -> _EnvironmentProbe | None:
        python = _interpreter_to_probe(ctx, record, argv)
        return cls(python, ctx.environ) if python else None


def _interpreter_to_probe(ctx: Context, record: RunRecord, argv: Sequence[str]) -> str | None:
    # Only a record made by a Python interpreter (lineage's MLflow plugin inside the command)
    # has a package list worth comparing; probing costs a Python start (~0.2 s).
    ref = record.environment
    return _interpreter(argv, ctx.environ) if ref is not None and ref.source == "child" else None


def _environment_diff(
    ctx: Context, record: RunRecord, argv: Sequence[str], early: _EnvironmentProbe | None = None
) -> EnvironmentDiff:
    ref = record.environment
    python = _interpreter_to_probe(ctx, record, argv)
    if early is not None and early.python == python:
        now = early.result()
    else:  # the command that will run is another Python's (a stage chain, --command)
        now = environment.capture_interpreter(python, environ=ctx.environ) if python else None
    now_python = now.python if now else None
    then_doc = ctx.index.record(ref.packages_record) if ref else None
    if ref is None or then_doc is None or now is None:
        return EnvironmentDiff(ref.python if ref else None, now_python, known=False)
    then: dict[str, str] = then_doc.get("packages") or {}
    changed = tuple(
        (name, then[name], now.packages[name])
        for name in sorted(then)
        if name in now.packages and now.packages[name] != then[name]
    )
    missing = tuple((name, then[name]) for name in sorted(then) if name not in now.packages)
    added = tuple((name, now.packages[name]) for name in sorted(now.packages) if name not in then)
    return EnvironmentDiff(ref.python, now_python, changed, missing, added)
