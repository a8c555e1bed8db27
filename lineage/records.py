"""The record format: frozen dataclasses, canonical JSON, content-hash names.

A record is an immutable JSON document (``"schema": 1``) describing one observed fact, such as
"this MLflow run used this code and read this data". It is serialised canonically (sorted keys,
no insignificant white space, UTF-8) and named by the SHA-256 of those bytes, so the same fact
written twice is the same record, and two stores merge by set union. See docs/records.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lineage.documents import WANDB_PREFIX
from lineage.errors import CorruptRecordError, UnsafePathError
from lineage.model_version import ModelVersion as ModelVersion  # stored as {name, version}
from lineage.redact import Redaction as Redaction  # stored as {at, name, variable}

SCHEMA = 1
OBSERVED = "observed"
INFERRED = "inferred"

# Where a data input's hash came from, and how it compares with the workspace.
STATE_MATCH = "match"  # the workspace holds exactly what the pointer says
STATE_MODIFIED = "modified"  # the workspace differs; md5 is what is actually there
STATE_MISSING = "missing"  # the pointer names data the workspace does not have
STATE_UNKNOWN = "unknown"  # nobody checked (inferred records)


def repo_path(path: str) -> str:
    """Validate a repository-relative POSIX path; refuse anything that escapes the repository."""
    if not path or path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise UnsafePathError(path)
    norm = posixpath.normpath(path)
    if norm == ".." or norm.startswith("../"):
        raise UnsafePathError(path)
    return norm


@dataclass(frozen=True)
class Provenance:
    """Who wrote a record, when, and with which version of lineage."""

    at: str  # ISO 8601 UTC, millisecond precision
    name: str
    email: str
    tool: str


@dataclass(frozen=True)
class Code:
    """The code a run used: the base commit, and a snapshot commit when the tree was dirty."""

    commit: str | None  # HEAD when the run started (None before the first commit)
    dirty: bool | None  # None: unknown (inferred records)
    snapshot: str | None = None  # commit of the exact dirty working tree, parent = commit
    branch: str | None = None
    changed: tuple[str, ...] = ()  # paths that differed from the base commit

    @property
    def ran(self) -> str | None:
        """The commit whose tree is exactly the code that ran."""
        return self.snapshot or self.commit


@dataclass(frozen=True)
class Data:
    """One data object on an edge: DVC md5 (``.dir`` suffix for directories) at a path."""

    path: str
    md5: str
    size: int | None = None
    nfiles: int | None = None
    pointer: str | None = None  # the .dvc file or dvc.lock that names it
    stage: str | None = None  # DVC stage that declared it, for dvc.lock entries
    state: str = STATE_MATCH
    pointer_md5: str | None = None  # what the pointer says, when state != match

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", repo_path(self.path))
        if self.pointer is not None:
            object.__setattr__(self, "pointer", repo_path(self.pointer))


@dataclass(frozen=True)
class Stage:
    """A DVC pipeline stage the command executed: its hashes and params from ``dvc.lock``, and
    the values of its metrics files."""

    name: str
    cmd: str
    deps: tuple[Data, ...] = ()
    outs: tuple[Data, ...] = ()
    # The params the stage read, as dvc.lock records them: params file -> key -> value.
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Its metrics files as read right after the command, flattened as `dvc metrics show` does:
    # file -> dotted key -> value (non-finite numbers as "NaN" etc., like MlflowRun.metrics).
    metrics: dict[str, dict[str, float | str]] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowRun:
    """An MLflow run as read back from its tracking store after it ended."""

    run_id: str
    tracking_uri: str  # credentials stripped
    experiment_id: str
    experiment_name: str | None
    name: str | None
    status: str  # MLflow's: FINISHED, FAILED, KILLED, RUNNING
    start_ms: int | None
    end_ms: int | None
    parent_run_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float | str] = field(default_factory=dict)  # non-finite as "NaN" etc.


@dataclass(frozen=True)
class WandbFile:
    """One file of a W&B artifact: its path inside the artifact and its md5 (hex), which is
    DVC's md5 of the same bytes (W&B writes it as base64)."""

    path: str
    md5: str
    size: int | None = None


@dataclass(frozen=True)
class WandbArtifact:
    """An artifact a W&B run logged (an output) or used (an input)."""

    name: str
    type: str
    digest: str | None  # W&B's digest of the whole manifest; None for a used artifact
    aliases: tuple[str, ...] = ()
    files: tuple[WandbFile, ...] = ()
    used: bool = False


@dataclass(frozen=True)
class WandbRun:
    """A Weights & Biases run as its local run directory records it (``wandb/run-*``,
    ``wandb/offline-run-*``): read without a W&B server (lineage/adapters/wandb_runs.py)."""

    run_id: str
    project: str
    entity: str | None
    name: str | None
    group: str | None
    job_type: str | None
    tags: tuple[str, ...]
    sweep_id: str | None
    offline: bool
    directory: str  # the run directory, repository-relative (its name alone when outside)
    git_commit: str | None  # the commit W&B read at init
    start_ms: int | None
    exit_code: int | None  # None: the run never finished (killed, or still running)
    runtime_s: float | None = None
    params: dict[str, str] = field(default_factory=dict)  # config, flattened as W&B shows it
    metrics: dict[str, float | str] = field(default_factory=dict)  # the final summary
    artifacts: tuple[WandbArtifact, ...] = ()
    program: str | None = None  # the script as W&B saw it, relative to where it ran
    args: tuple[str, ...] = ()  # its arguments, as W&B saved them

    @property
    def path(self) -> str:
        """The run path as W&B spells it: ``entity/project/runid`` (``project/runid`` offline,
        where the entity is not known)."""
        head = f"{self.entity}/" if self.entity else ""
        return f"{head}{self.project}/{self.run_id}"

    @property
    def key(self) -> str:
        """The run node's identity: ``wandb:<project>/<runid>`` (a run id is unique within a
        project; the entity is left out because an offline run does not know it)."""
        return wandb_key(self.project, self.run_id)


def wandb_key(project: str, run_id: str) -> str:
    return f"{WANDB_PREFIX}{project}/{run_id}"


@dataclass(frozen=True)
class MlflowProject:
    """An `mlflow run` of an MLflow Project: enough to run the same entry point again."""

    uri: str  # as given ("." for a project in the repository), credentials stripped
    entry_point: str
    parameters: dict[str, str]  # every parameter MLflow passed: given with -P, or defaulted
    version: str | None = None  # -v, as given
    env_manager: str | None = None  # --env-manager as given; None: MLflow chose from MLproject
    experiment_name: str | None = None
    experiment_id: str | None = None
    backend: str | None = None


@dataclass(frozen=True)
class Command:
    """The process lineage ran: argv, where, how it ended."""

    argv: tuple[str, ...]
    cwd: str  # repository-relative
    exit_code: int | None  # None: not known (imported)
    status: str  # succeeded, failed, killed, interrupted (SIGINT), lost (lineage was killed)
    started: str
    ended: str
    duration_s: float
    # Imported: MLflow keeps the script, not the arguments it was given, so argv may lack them.
    arguments_unknown: bool = False
    # The secret-looking values taken out of argv, so a rerun asks for them (lineage/redact.py).
    redacted: tuple[Redaction, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cwd", repo_path(self.cwd))


@dataclass(frozen=True)
class Environment:
    python: str
    implementation: str
    platform: str
    packages: dict[str, str] = field(default_factory=dict)  # distribution -> version
    packages_hash: str = ""  # sha256 over the sorted "name==version" lines
    variables: dict[str, str] = field(default_factory=dict)  # allow-listed only
    source: str = "child"  # child: the interpreter that ran the command; lineage: ours


@dataclass(frozen=True)
class EnvironmentRef:
    """What a run record says of its environment; the package list is a record of its own.

    Thousands of runs share one interpreter, and its ~200 packages are most of a record's
    bytes, so they are stored once, in an ``environment`` record named by its content hash.
    """

    python: str
    implementation: str
    platform: str
    packages_hash: str  # sha256 over the sorted "name==version" lines
    packages_record: str  # id of the environment record holding the package list
    npackages: int
    variables: dict[str, str] = field(default_factory=dict)  # allow-listed only
    source: str = "child"


def environment_document(env: Environment) -> dict[str, Any]:
    """The ``environment`` record: the interpreter and every installed distribution."""
    return {
        "schema": SCHEMA,
        "kind": "environment",
        "python": env.python,
        "implementation": env.implementation,
        "platform": env.platform,
        "packages": dict(sorted(env.packages.items())),
        "packages_hash": env.packages_hash,
    }


def split_environment(env: Environment) -> tuple[EnvironmentRef, tuple[str, bytes]]:
    """The run record's reference and the environment record (name, bytes) it points at."""
    blob = canonical_bytes(environment_document(env))
    name = record_id(blob)
    ref = EnvironmentRef(
        python=env.python,
        implementation=env.implementation,
        platform=env.platform,
        packages_hash=env.packages_hash,
        packages_record=name,
        npackages=len(env.packages),
        variables=dict(env.variables),
        source=env.source,
    )
    return ref, (name, blob)


@dataclass(frozen=True)
class RunRecord:
    """One execution: an MLflow run (or, if the command started none, the command itself)."""

    evidence: str
    session: str  # one id per `lineage run`, shared by every MLflow run it started
    code: Code
    created: Provenance
    run: MlflowRun | None = None
    command: Command | None = None
    inputs: tuple[Data, ...] = ()
    outputs: tuple[Data, ...] = ()
    stages: tuple[Stage, ...] = ()
    environment: EnvironmentRef | None = None
    models: tuple[ModelVersion, ...] = ()
    # Inferred records: paths the run read whose hash could not be trusted (never guessed).
    unknown_inputs: tuple[str, ...] = ()
    # Why each of ``unknown_inputs`` is unknown (path -> a sentence), where that is known.
    unknown_reasons: dict[str, str] = field(default_factory=dict)
    project: MlflowProject | None = None  # the command was `mlflow run` of an MLflow Project
    # A rerun made by `lineage reproduce`: the run key of the run it reproduces. Reruns are
    # shown under that run and kept out of upstream joins and impact counts.
    reproduces: str | None = None
    wandb: WandbRun | None = None  # a W&B run (then ``run`` is None: one record per run)
    kind: str = "run"
    schema: int = SCHEMA

    @property
    def run_key(self) -> str:
        """The run node's identity: the MLflow run id, ``wandb:<project>/<runid>`` for a W&B
        run, or ``local-<session>`` without either."""
        if self.run:
            return self.run.run_id
        return self.wandb.key if self.wandb else f"local-{self.session}"


# Verdicts of a reproduction.
BIT_IDENTICAL = "bit-identical"  # every compared value exact, every compared output the same bytes
WITHIN_TOLERANCE = "within-tolerance"  # reproduced, some value only within the tolerances
UNVERIFIED = "unverified"  # the rerun succeeded, but nothing could be compared
REPRODUCED = "reproduced"  # records before bit-identical/within-tolerance: either of them
DIFFERS = "differs"  # the rerun finished, but something differs
FAILED = "failed"  # the rerun did not finish: it exited non-zero or started no MLflow run


@dataclass(frozen=True)
class Check:
    """One compared value of a reproduction: a metric, a param or a DVC output's md5."""

    name: str
    original: float | str | None
    rerun: float | str | None
    # exact, within, differs, missing (not in the rerun), new (only in the rerun), ignored (not
    # judged: a metric outside --metric, an output left out by ignore_outputs or plots)
    status: str


@dataclass(frozen=True)
class ReproductionRecord:
    """One `lineage reproduce`: what was rebuilt from where, and whether it matched."""

    evidence: str
    created: Provenance
    original_run: str  # run key of the run that was reproduced
    original_record: str  # the record whose code, data and command were used
    code: str  # the commit checked out (the snapshot, for a dirty-tree run)
    command: tuple[str, ...]
    verdict: str
    rtol: float
    atol: float
    model: ModelVersion | None = None
    inputs: tuple[Data, ...] = ()  # what was restored, each verified against its md5
    rerun_run: str | None = None  # run key of the rerun, when it made one
    rerun_record: str | None = None
    exit_code: int | None = None
    metrics: tuple[Check, ...] = ()
    params: tuple[Check, ...] = ()
    outputs: tuple[Check, ...] = ()
    # Inputs whose version the original record did not know, restored as the checked-out
    # commit's DVC pointers name them (`reproduce --use-pointers`): an assumption, not a fact.
    from_pointers: tuple[str, ...] = ()
    # The secret-looking values taken out of ``command`` (lineage/redact.py).
    redacted: tuple[Redaction, ...] = ()
    kind: str = "reproduction"
    schema: int = SCHEMA


@dataclass(frozen=True)
class Attachment:
    """ "The code of run ``run`` is commit ``commit``": written by the post-commit hook when a
    commit's tree equals the snapshot of a run made on a dirty tree, once ``set_aside`` (DVC's
    bookkeeping and files the run itself wrote) is left out of the comparison."""

    evidence: str
    created: Provenance
    run: str  # run key
    snapshot: str  # the run's snapshot commit
    commit: str  # the commit that now holds the run's code
    set_aside: tuple[str, ...] = ()  # paths where the two trees differ, all of them bookkeeping
    kind: str = "attachment"
    schema: int = SCHEMA


@dataclass(frozen=True)
class Registration:
    """ "Model version ``model`` was registered from run ``run``", read from the model registry:
    for a version registered after the run's record was written (``mlflow.register_model``, the
    UI, a later ``log_model``). Written by the commands that show models (see
    ``lineage/registrations.py``)."""

    evidence: str
    created: Provenance
    run: str  # run key (an MLflow run id)
    model: ModelVersion
    registered: str  # when the registry says the version was created (ISO 8601 UTC)
    registry: str  # the registry it was read from, credentials stripped
    kind: str = "registration"
    schema: int = SCHEMA


# Fields added after records were first written, left out of the JSON while they hold their
# default, so that records written before them keep their bytes, and so their names.
_OMITTED_WHEN_DEFAULT: dict[str, Any] = {
    "unknown_inputs": [],
    "unknown_reasons": {},
    "project": None,
    "arguments_unknown": False,
    "from_pointers": [],
    "reproduces": None,
    "redacted": [],
    "wandb": None,
}


def _omit_defaults(document: dict[str, Any]) -> dict[str, Any]:
    for key, default in _OMITTED_WHEN_DEFAULT.items():
        if key in document and document[key] == default:
            del document[key]
    return document


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def to_dict(record: Any) -> dict[str, Any]:
    document: dict[str, Any] = _omit_defaults(_jsonable(asdict(record)))
    if isinstance(document.get("command"), dict):
        _omit_defaults(document["command"])
    for stage in document.get("stages", ()):
        for key in ("params", "metrics"):  # absent when empty, so older records keep their bytes
            if not stage[key]:
                del stage[key]
    return document


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """Sorted keys, no white space, UTF-8, no NaN: the same document always gives the same bytes.

    A lone surrogate (a byte of a non-UTF-8 argument or file name, as Python decodes it) is
    written as its JSON escape (``\\udcff``), which reads back as the same string, so such a
    command is recorded, and rerun with the same bytes, instead of failing after it ran."""
    return json.dumps(
        _jsonable(document),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8", "backslashreplace")


def same_fact(doc: dict[str, Any], record: RunRecord) -> bool:
    """``doc`` is ``record`` but for when it was written: an import has nothing new to say."""
    mine = to_dict(record)
    return {k: v for k, v in doc.items() if k != "created"} == {
        k: v for k, v in mine.items() if k != "created"
    }


_GIL_HELD_BELOW = 2048  # hashlib lets other threads run while it hashes this much or more


def record_id(blob: bytes) -> str:
    """The record's name: the sha256 of its bytes. Hashed in pieces hashlib hashes without
    letting go of the GIL: an index build checks a million ~2 KB records while other threads
    wait to run, and each time the GIL was let go, taking it back waited on them."""
    if len(blob) < _GIL_HELD_BELOW:
        return hashlib.sha256(blob).hexdigest()
    digest = hashlib.sha256()
    view = memoryview(blob)
    for start in range(0, len(blob), _GIL_HELD_BELOW - 1):
        digest.update(view[start : start + _GIL_HELD_BELOW - 1])
    return digest.hexdigest()


def encode(
    record: RunRecord | ReproductionRecord | Attachment | Registration,
) -> tuple[str, bytes]:
    """The record's content-hash name and its canonical bytes."""
    blob = canonical_bytes(to_dict(record))
    return record_id(blob), blob


def _loads(blob: bytes) -> Any:
    """The JSON document in ``blob``: msgspec reads a record in less than half json's time
    (~25 us against ~57), which a first index build of records pulled from elsewhere pays a
    million times; what msgspec refuses (a lone surrogate escape, NaN, malformed bytes) is read
    by json, which accepts the same documents lineage writes and words the error."""
    import msgspec

    try:
        return msgspec.json.decode(blob)
    except msgspec.DecodeError:
        return json.loads(blob.decode("utf-8"))


def decode(name: str, blob: bytes, *, trusted: bool = False) -> dict[str, Any]:
    """Parse and verify a stored record: the bytes must hash to their name, and the document
    must match the record schema, unless ``trusted`` (this clone wrote it: see
    ``Store.written_names``), which spares the cost of checking (docs/records.md)."""
    from lineage.record_schema import INVALID, printable, problem

    if record_id(blob) != name:
        raise CorruptRecordError(name, "its content does not match its name")
    try:
        document = _loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptRecordError(name, printable(f"{INVALID}: not JSON: {exc}")) from None
    except RecursionError:
        # json's C parser gives up past ~1,000 levels of nesting; no record has a tenth of it.
        raise CorruptRecordError(name, f"{INVALID}: nested too deeply to read") from None
    if not isinstance(document, dict) or "schema" not in document or "kind" not in document:
        raise CorruptRecordError(name, f"{INVALID}: it has no schema or kind")
    if document["schema"] != SCHEMA:
        found = printable(repr(document["schema"]))
        raise CorruptRecordError(
            name, f"{INVALID}: schema {found} is not 1 (a newer lineage may have written it)"
        )
    wrong = None if trusted else problem(document)
    if wrong is not None:
        raise CorruptRecordError(name, f"{INVALID}: {wrong}")
    return document


def _known(cls: Any, d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without the fields ``cls`` does not have: the schema lets a newer lineage add
    fields, and this one must still read the record (docs/records.md#the-schema)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def _data(d: dict[str, Any]) -> Data:
    return Data(**_known(Data, d))


def _command(d: dict[str, Any]) -> Command:
    redacted = tuple(Redaction(**_known(Redaction, r)) for r in d.get("redacted", ()))
    return Command(**{**_known(Command, d), "argv": tuple(d["argv"]), "redacted": redacted})


def run_record_from_dict(d: dict[str, Any]) -> RunRecord:
    """Rebuild the typed record from its JSON document (the inverse of ``to_dict``)."""
    run = d.get("run")
    command = d.get("command")
    env = d.get("environment")
    project = d.get("project")
    return RunRecord(
        evidence=d["evidence"],
        session=d["session"],
        code=Code(**{**_known(Code, d["code"]), "changed": tuple(d["code"].get("changed", ()))}),
        created=Provenance(**_known(Provenance, d["created"])),
        run=MlflowRun(**_known(MlflowRun, run)) if run else None,
        command=_command(command) if command else None,
        inputs=tuple(_data(x) for x in d.get("inputs", ())),
        outputs=tuple(_data(x) for x in d.get("outputs", ())),
        stages=tuple(
            Stage(
                name=s["name"],
                cmd=s["cmd"],
                deps=tuple(_data(x) for x in s.get("deps", ())),
                outs=tuple(_data(x) for x in s.get("outs", ())),
                params=s.get("params", {}),
                metrics=s.get("metrics", {}),
            )
            for s in d.get("stages", ())
        ),
        environment=EnvironmentRef(**_known(EnvironmentRef, env)) if env else None,
        models=tuple(ModelVersion(**_known(ModelVersion, m)) for m in d.get("models", ())),
        unknown_inputs=tuple(repo_path(p) for p in d.get("unknown_inputs", ())),
        unknown_reasons={repo_path(p): str(w) for p, w in d.get("unknown_reasons", {}).items()},
        project=MlflowProject(**_known(MlflowProject, project)) if project else None,
        reproduces=d.get("reproduces"),
        wandb=_wandb(d["wandb"]) if d.get("wandb") else None,
        kind=d.get("kind", "run"),
        schema=d.get("schema", SCHEMA),
    )


def _wandb(d: dict[str, Any]) -> WandbRun:
    artifacts = tuple(
        WandbArtifact(
            **{
                **_known(WandbArtifact, a),
                "aliases": tuple(a.get("aliases", ())),
                "files": tuple(WandbFile(**_known(WandbFile, f)) for f in a.get("files", ())),
            }
        )
        for a in d.get("artifacts", ())
    )
    return WandbRun(
        **{
            **_known(WandbRun, d),
            "tags": tuple(d.get("tags", ())),
            "args": tuple(d.get("args", ())),
            "artifacts": artifacts,
        }
    )
