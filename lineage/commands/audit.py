"""`lineage audit`: is the lineage of every production model complete, and are its inputs still
there?

Scope (default): every registered model version that holds an alias now, or the legacy
``Production`` stage, and every W&B model artifact version (lineage/wandb_models.py) that
holds an alias other than ``latest`` as lineage's records say. A project with no MLflow store
and recorded W&B models is audited on those alone. For each, five checks, each pass / warn /
fail with a reason:

* lineage: a record of the run that made it exists, and was observed (inferred: warn);
* code: the commit exists, the tree was clean (a dirty-tree run passes once a commit that holds
  its code was attached; never attached: fail; unknown: warn), and it is on a protected branch
  and on the Git remote (remote-tracking refs as last fetched);
* data: every input md5 is in the DVC remote (only in the local cache is not enough), unknown
  inputs warn;
* run: it still exists in the tracking store and FINISHED, with params, metrics (MLflow's, or
  those of the DVC stages it ran) and environment; a W&B run by its run file's exit record
  (W&B's server is not asked);
* reproduction: the newest `lineage reproduce` of it, its verdict and age: bit-identical,
  within tolerance (and ``reproduced``, written before those two) pass; unverified and none
  warn; differs and failed fail.

Everything is read at once: one registry listing, one batched runs query, one DVC remote query,
one ``git for-each-ref --contains`` per distinct commit.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from lineage import config, progress, wandb_models
from lineage.adapters import dvc, dvc_config, dvc_store, git, git_lfs, git_remote, mlflow_bulk
from lineage.compare import REPRODUCED_VERDICTS
from lineage.context import Context
from lineage.documents import short_run, wandb_status
from lineage.edges import node_key
from lineage.errors import LineageError
from lineage.formatting import short_hash
from lineage.index import Index
from lineage.model_version import ModelVersion
from lineage.records import BIT_IDENTICAL, UNVERIFIED, WITHIN_TOLERANCE
from lineage.refs import parse_model
from lineage.resolve import model_node
from lineage.run_values import run_values
from lineage.wandb_models import WandbModel, any_recorded, every_version

PASS, WARN, FAIL = "pass", "warn", "fail"
GIT_COMMIT_TAG = "mlflow.source.git.commit"  # MLflow's tag: HEAD when the run started
CHECKS = ("lineage", "code", "data", "run", "reproduction")
MARK = {PASS: "✓", WARN: "!", FAIL: "✗"}
_ORDER = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Check:
    name: str
    result: str
    reason: str


@dataclass
class Row:
    version: mlflow_bulk.RegisteredVersion | WandbModel
    run_key: str | None = None
    record_id: str | None = None
    record: dict[str, Any] | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def model(self) -> str:
        return str(self.version) if self.wandb else str(self.version.version)

    @property
    def wandb(self) -> bool:
        """A W&B model artifact version (else an MLflow registered version)."""
        return isinstance(self.version, WandbModel)

    @property
    def stage(self) -> str | None:
        return None if isinstance(self.version, WandbModel) else self.version.stage

    @property
    def name(self) -> str:
        v = self.version
        return v.name if isinstance(v, WandbModel) else v.version.name

    @property
    def number(self) -> int | str:
        """MLflow's version number; a W&B version's digest."""
        v = self.version
        return v.digest if isinstance(v, WandbModel) else v.version.version

    @property
    def registry(self) -> dict[str, Any]:
        """Who last changed it in the registry, and when (W&B's are on its server)."""
        v = self.version
        if isinstance(v, WandbModel):
            return {"tracker": "wandb", "project": v.project, "entity": v.entity}
        return {"user": v.user, "updated_ms": v.updated_ms}

    @property
    def result(self) -> str:
        return max((c.result for c in self.checks), key=_ORDER.__getitem__, default=PASS)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


@dataclass
class Audit:
    rows: list[Row]
    scope: str
    strict: bool = False

    @property
    def failed(self) -> list[Row]:
        bad = (FAIL, WARN) if self.strict else (FAIL,)
        return [r for r in self.rows if r.result in bad]

    @property
    def passed(self) -> bool:
        """Nothing failed; under --strict also something was in scope (an alias renamed, a
        registry emptied or a typo must not pass CI as "nothing to audit")."""
        return not self.failed and not (self.strict and not self.rows)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def strict_error(self) -> LineageError | None:
        """The error `--strict` ends with when nothing was in scope."""
        if self.rows or not self.strict:
            return None
        return LineageError(
            f"nothing to audit under --strict: no model version matches ({self.scope}); "
            "check the model names, aliases and stages, or the MLflow registry audited"
        )


def check_stores(ctx: Context, *, mlflow_refs: bool = False) -> bool:
    """True when the tracking store and registry exist and are MLflow's; False when they do
    not but W&B models are recorded (and no REF names an MLflow model): those are audited
    alone. Raise otherwise: auditing a store that is not there would pass a typo in
    MLFLOW_TRACKING_URI as "nothing to audit"."""
    _ = ctx.paths  # outside a checkout that is what to say first, whatever the stores are
    try:
        mlflow_bulk.require_stores(ctx.mlflow)
    except LineageError:
        if mlflow_refs or not any_recorded(ctx.index):
            raise
        return False
    return True


def audit(
    ctx: Context,
    *,
    refs: Sequence[str] = (),
    alias: str | None = None,
    stage: str | None = None,
    everything: bool = False,
    strict: bool = False,
    now: datetime | None = None,
) -> Audit:
    """Check the lineage of the model versions in scope: the ones REFS, ``alias``, ``stage``
    or ``everything`` name, else every version holding an alias or the Production stage."""
    index = ctx.index
    wandb_refs, mlflow_refs = _split_refs(index, refs)
    wandb_versions = _wandb_scope(index, wandb_refs, alias, stage, everything, bool(refs))
    versions: list[mlflow_bulk.RegisteredVersion] = []
    scope = ""
    if check_stores(ctx, mlflow_refs=bool(mlflow_refs)) and (mlflow_refs or not wandb_refs):
        versions, scope = _scope(ctx, mlflow_refs, alias, stage, everything)
    if wandb_refs or (not mlflow_refs and any_recorded(index)):  # W&B models recorded
        scope = _joined(scope, _wandb_scope_text(wandb_refs, alias, stage, everything))
    rows = [Row(v) for v in versions] + [Row(w) for w in wandb_versions]
    recorded = index.records_for_runs([r.version.run_id for r in rows if r.version.run_id])
    for row in rows:
        run_id = row.version.run_id
        if run_id and (found := recorded.get(run_id)):
            row.run_key = run_id
            row.record_id, row.record = found[0]
    moment = now or datetime.now(UTC)
    # The bar's clock starts before the run and remote queries: its rate counts them too.
    with progress.bar("auditing model versions", total=len(rows), unit="versions") as advance:
        live = _live_runs(
            ctx.mlflow.tracking, [r.run_key for r in rows if r.run_key and not r.wandb]
        )
        missing = _missing_data(ctx.paths.root, rows)
        lfs = _missing_lfs(ctx, rows)
        refs_of = _Containment(ctx.paths)
        for row in rows:
            advance()
            row.checks = _checks(ctx, row, refs_of, live, (missing, lfs), moment)
    return Audit(rows, scope, strict)


def _checks(
    ctx: Context,
    row: Row,
    refs_of: _Containment,
    live: Mapping[str, mlflow_bulk.HistoricRun],
    missing: tuple[dict[str, tuple[str, ...]] | None, _LfsCheck],
    now: datetime,
) -> list[Check]:
    index = ctx.index
    return [
        _lineage(row),
        _code(row, ctx.paths, index, refs_of, ctx.config, live),
        _data(row, *missing),
        _run(row, live),
        _reproduction(row, index, now),
    ]


# -- scope ---------------------------------------------------------------------------------


def _scope(
    ctx: Context,
    refs: Sequence[str],
    alias: str | None,
    stage: str | None,
    everything: bool,
) -> tuple[list[mlflow_bulk.RegisteredVersion], str]:
    wanted = [parse_model(ref) for ref in refs]
    exact: set[ModelVersion] = set()  # versions asked for by version or alias
    for ref in wanted:
        if ref.version is not None or ref.alias is not None:
            node = model_node(ctx, ref)
            assert node.model is not None
            exact.add(node.model)
    names = sorted({ref.name for ref in wanted})
    listed = mlflow_bulk.registered_versions(ctx.mlflow, names)
    if exact:
        bare = {ref.name for ref in wanted if ref.version is None and ref.alias is None}
        chosen = [v for v in listed if v.version in exact]
        chosen += [v for v in listed if v.version.name in bare and _in_production(v)]
        return _unique(chosen), ", ".join(refs)
    if everything:
        return listed, "every registered version" + (f" of {', '.join(refs)}" if refs else "")
    if alias:
        return [v for v in listed if alias in v.aliases], f"versions with alias @{alias}"
    if stage:
        return [v for v in listed if (v.stage or "").lower() == stage.lower()], f"stage {stage}"
    scope = "versions holding an alias or the Production stage"
    return [v for v in listed if _in_production(v)], scope


def _in_production(v: mlflow_bulk.RegisteredVersion) -> bool:
    return bool(v.aliases) or (v.stage or "").lower() == "production"


def _unique(versions: list[mlflow_bulk.RegisteredVersion]) -> list[mlflow_bulk.RegisteredVersion]:
    seen: dict[ModelVersion, mlflow_bulk.RegisteredVersion] = {}
    for v in versions:
        seen.setdefault(v.version, v)
    return sorted(seen.values(), key=lambda v: v.version.sort_key)


def _split_refs(index: Index, refs: Sequence[str]) -> tuple[list[WandbModel | str], list[str]]:
    """The REFs that name recorded W&B models (a version, or a bare name: its versions in
    scope), and the rest, which name MLflow's."""
    wandb: list[WandbModel | str] = []
    mlflow: list[str] = []
    for ref in refs:
        found = wandb_models.resolve(index, ref) if ":" in ref else None
        if found is not None:
            wandb.append(found)
        elif ":" not in ref and "/" not in ref and wandb_models.versions(index, ref):
            wandb.append(ref)
        else:
            mlflow.append(ref)
    return wandb, mlflow


def _wandb_scope(
    index: Index,
    refs: Sequence[WandbModel | str],
    alias: str | None,
    stage: str | None,
    everything: bool,
    named: bool,
) -> list[WandbModel]:
    """The W&B model versions in scope: those REFs name (a bare name: its versions holding an
    alias other than ``latest``), else by the same options as MLflow's; W&B has no stages."""
    if named:
        exact = [r for r in refs if isinstance(r, WandbModel)]
        for name in (r for r in refs if isinstance(r, str)):
            exact += [m for m in wandb_models.versions(index, name) if _wandb_held(m)]
        return list({m.key: m for m in exact}.values())
    if stage:
        return []
    found = every_version(index)
    if everything:
        return found
    if alias:
        return [m for m in found if alias in m.aliases]
    return [m for m in found if _wandb_held(m)]


def _wandb_held(m: WandbModel) -> bool:
    """Held by a name a person gave (``best``, ``production``), not only W&B's ``latest``."""
    return any(a != wandb_models.LATEST for a in m.aliases)


def _wandb_scope_text(
    refs: Sequence[WandbModel | str], alias: str | None, stage: str | None, everything: bool
) -> str:
    if refs:
        return "W&B " + ", ".join(str(r) for r in refs)
    if stage:
        return ""
    if everything:
        return "every recorded W&B model version"
    if alias:
        return f"W&B model versions with alias :{alias}"
    return "W&B model versions holding an alias other than latest"


def _joined(first: str, second: str) -> str:
    return "; ".join(part for part in (first, second) if part)


# -- gathering -----------------------------------------------------------------------------


def _live_runs(uri: str, run_ids: Sequence[str]) -> dict[str, mlflow_bulk.HistoricRun]:
    """Run id -> the run (status, tags), for the runs the tracking store still has."""
    if not run_ids:
        return {}
    return {h.run.run_id: h for h in mlflow_bulk.runs(uri, run_ids=run_ids)}


def _missing_data(root: Path, rows: Sequence[Row]) -> dict[str, tuple[str, ...]] | None:
    """md5 -> missing members, for inputs the DVC remote lacks; None without a DVC remote."""
    md5s = sorted(
        {
            d["md5"]
            for r in rows
            if r.record
            for d in r.record.get("inputs") or ()
            if d.get("md5") and not git_lfs.is_lfs_hash(d["md5"])
        }
    )
    if not md5s or not dvc.is_dvc_repo(root):
        return {}
    if not dvc_config.cache_config(root).default_remote:
        return None
    return dvc_store.missing_from_remote(root, md5s)


class _Containment:
    """Which branches and remote-tracking branches contain a commit (one git call each)."""

    def __init__(self, paths: git.RepoPaths) -> None:
        self.paths = paths
        self._cache: dict[str, set[str]] = {}

    def __call__(self, commit: str) -> set[str]:
        if commit not in self._cache:
            out = git_remote.refs_containing(self.paths, commit)
            self._cache[commit] = set(out)
        return self._cache[commit]


# -- checks --------------------------------------------------------------------------------


def _lineage(row: Row) -> Check:
    tracker = "W&B" if row.wandb else "MLflow"
    if row.version.run_id is None and row.wandb:
        return Check("lineage", FAIL, "no record of the run that logged it: nothing to trace")
    if row.version.run_id is None:
        return Check("lineage", FAIL, "registered from a path, not from a run: nothing to trace")
    if row.record is None:
        return Check(
            "lineage",
            FAIL,
            f"no record of run {short_run(row.version.run_id)}; record training with `lineage "
            f"run`, or take in {tracker}'s history with `lineage import {tracker.lower()}`",
        )
    if row.record.get("evidence") != "observed":
        return Check("lineage", WARN, f"only inferred (imported from {tracker}), not observed")
    return Check(
        "lineage", PASS, f"observed (record {row.record_id[:12] if row.record_id else ''})"
    )


def _code(
    row: Row,
    paths: git.RepoPaths,
    index: Index,
    containing: _Containment,
    cfg: config.Config,
    live: Mapping[str, mlflow_bulk.HistoricRun],
) -> Check:
    if row.record is None:
        return Check("code", FAIL, "no record")
    code = row.record.get("code") or {}
    commit: str | None = code.get("commit")
    if commit is None:
        return Check("code", FAIL, _no_commit(row, live.get(row.run_key or "")))
    if not git.has_commit(paths, commit):
        return Check("code", FAIL, f"commit {commit[:10]} is not in this repository")
    problems: list[str] = []  # each fails the check; every one is named, not only the first
    warnings: list[str] = []
    if code.get("dirty") is True:
        attached = _attached_commit(index, row.run_key or "", code.get("snapshot"))
        if attached is None:
            snap = (code.get("snapshot") or "")[:10]
            problems.append(
                f"trained on a dirty tree whose code (snapshot {snap}) was never committed"
            )
        else:
            commit = attached
    elif code.get("dirty") is None:
        warnings.append("dirtiness unknown (MLflow records no dirty flag)")
    refs = containing(commit)
    branches = [b for b in cfg.protected_branches if f"refs/heads/{b}" in refs]
    if not branches:
        on = sorted(r.removeprefix("refs/heads/") for r in refs if r.startswith("refs/heads/"))
        where = f"only on {', '.join(on)}" if on else "on no branch"
        protected = "/".join(cfg.protected_branches)
        problems.append(f"commit {commit[:10]} is not on {protected} ({where})")
    remote = cfg.audit_remote
    tracked = git_remote.remote_refs(paths, remote)
    if not any(r.startswith(f"refs/remotes/{remote}/") for r in tracked):
        warnings.append(f"no Git remote {remote!r} to check the commit on")
    elif not any(r.startswith(f"refs/remotes/{remote}/") for r in refs):
        problems.append(f"commit {commit[:10]} is not on {remote} (as last fetched): push it")
    if problems or warnings:
        return Check("code", FAIL if problems else WARN, "; ".join([*problems, *warnings]))
    return Check("code", PASS, f"clean commit {commit[:10]} on {branches[0]} and {remote}")


def _no_commit(row: Row, run: mlflow_bulk.HistoricRun | None) -> str:
    """Why a record has no commit: MLflow named none, or named one this clone lacks."""
    tagged = (run.tags.get(GIT_COMMIT_TAG, "") if run else "").strip()
    if tagged:
        return (
            f"no commit recorded: MLflow names commit {tagged[:10]}, which is not in this "
            "repository; `git fetch` it, then run `lineage import mlflow` again"
        )
    if row.record is not None and row.record.get("evidence") == "observed":
        return "no commit recorded: the run was made before the repository's first commit"
    if row.wandb:
        return "no commit recorded (W&B's run file names none this repository has)"
    return "no commit recorded (MLflow had no git commit tag)"


def _attached_commit(index: Index, run_key: str, snapshot: str | None) -> str | None:
    """A commit recorded as holding the code of a dirty-tree run (a post-commit attachment)."""
    run = node_key("run", run_key)
    for edge in index.edges_touching(run):
        if edge.rel == "code" and edge.dst == run:
            commit = edge.src.partition(":")[2]
            if commit != snapshot:
                return commit
    return None


class _LfsCheck(NamedTuple):
    remote: str  # the Git remote whose LFS store is checked (audit's remote)
    missing: set[str] | None  # oids it lacks; None: it could not be checked, ``why`` says
    why: str = ""


def _missing_lfs(ctx: Context, rows: Sequence[Row]) -> _LfsCheck:
    """The Git LFS oids the audit remote's LFS store lacks, of every input recorded."""
    from lineage.adapters.git_lfs_http import LfsServerError

    remote = ctx.config.audit_remote
    sizes = {
        git_lfs.oid_of(d["md5"]): d.get("size") or 0
        for r in rows
        if r.record
        for d in r.record.get("inputs") or ()
        if git_lfs.is_lfs_hash(d.get("md5") or "")
    }
    if not sizes:
        return _LfsCheck(remote, set())
    try:
        return _LfsCheck(
            remote, set(git_lfs.missing_on_remote(ctx.paths, remote, sorted(sizes), sizes))
        )
    except git_lfs.UncheckableRemoteError:
        why = (
            f"the LFS store of {remote!r} is reached over SSH, which lineage does not check: "
            f"LFS inputs not checked (`git lfs push --object-id {remote} OID` sends any missing)"
        )
        return _LfsCheck(remote, None, why)
    except LfsServerError as exc:
        return _LfsCheck(remote, None, f"{exc.problem}: LFS inputs not checked; {exc.step}")


def _lfs_data(row: Row, lfs: _LfsCheck) -> tuple[Check | None, int]:
    """A failing or warning check for the run's Git LFS inputs, and how many it has."""
    inputs = [
        d for d in (row.record or {}).get("inputs") or () if git_lfs.is_lfs_hash(d.get("md5") or "")
    ]
    store = f"the LFS store of {lfs.remote!r}"
    if inputs and lfs.missing is None:
        return Check("data", WARN, lfs.why), 0
    gone = [d for d in inputs if lfs.missing and git_lfs.oid_of(d["md5"]) in lfs.missing]
    if gone:
        listed = ", ".join(f"{d['path']} {short_hash(d['md5'])}" for d in gone[:3])
        more = f" and {len(gone) - 3} more" if len(gone) > 3 else ""
        return Check(
            "data", FAIL, f"not in {store}: {listed}{more} (`git lfs push --object-id` them)"
        ), 0
    return None, len(inputs)


def _data(row: Row, missing: dict[str, tuple[str, ...]] | None, lfs: _LfsCheck) -> Check:
    if row.record is None:
        return Check("data", FAIL, "no record")
    lfs_check, lfs_count = _lfs_data(row, lfs)
    if lfs_check is not None and lfs_check.result == FAIL:
        return lfs_check
    inputs = [
        d
        for d in row.record.get("inputs") or ()
        if d.get("md5") and not git_lfs.is_lfs_hash(d["md5"])
    ]
    unknown = list(row.record.get("unknown_inputs") or ())
    if missing is None and inputs:
        return Check("data", WARN, "no DVC remote configured: inputs cannot be checked")
    gone = [d for d in inputs if missing and d["md5"] in missing]
    if gone:
        listed = ", ".join(f"{d['path']} {d['md5'][:10]}" for d in gone[:3])
        more = f" and {len(gone) - 3} more" if len(gone) > 3 else ""
        return Check("data", FAIL, f"not in the DVC remote: {listed}{more} (`dvc push` them)")
    if unknown:
        reasons = row.record.get("unknown_reasons") or {}
        why = [f"{p} ({reasons[p]})" if p in reasons else p for p in unknown]
        return Check("data", WARN, f"unknown input(s): {', '.join(why)}")
    if lfs_check is not None:
        return lfs_check
    in_lfs = f"{lfs_count} Git LFS input(s) in the LFS store of {lfs.remote!r}"
    if not inputs:
        return Check("data", PASS, in_lfs if lfs_count else "no DVC inputs recorded")
    in_dvc = f"{len(inputs)} input(s) in the DVC remote"
    return Check("data", PASS, f"{in_dvc}; {in_lfs}" if lfs_count else in_dvc)


def _run(row: Row, live: Mapping[str, mlflow_bulk.HistoricRun]) -> Check:
    if row.record is None or row.run_key is None:
        return Check("run", FAIL, "no record")
    where = ""
    if row.wandb:  # its run file's exit record: W&B's server is not asked
        status = wandb_status(row.record.get("wandb") or {})
        where = " (by its W&B run file)"
    elif row.run_key not in live:
        return Check("run", FAIL, f"run {row.run_key[:12]} is no longer in the tracking store")
    else:
        status = live[row.run_key].run.status
    if status != "FINISHED":
        return Check("run", FAIL, f"run status is {status}{where}, not FINISHED")
    values = run_values(row.record)
    lacking = [
        what
        for what, present in (
            ("params", values.params),
            ("metrics", values.metrics),
            ("environment", row.record.get("environment")),
        )
        if not present
    ]
    if lacking:
        return Check("run", WARN, f"FINISHED{where}, but no {', '.join(lacking)} recorded")
    return Check("run", PASS, f"FINISHED{where}, with params, metrics and environment")


def _reproduction(row: Row, index: Index, now: datetime) -> Check:
    if row.run_key is None:
        return Check("reproduction", FAIL, "no record")
    found = index.reproductions(row.run_key)
    if not found:
        hint = f"lineage reproduce {shlex.quote(row.model)}"
        return Check("reproduction", WARN, f"never reproduced: run `{hint}`")
    newest = found[0]
    age = _age(newest.created, now)
    if newest.verdict in REPRODUCED_VERDICTS:
        how = {BIT_IDENTICAL: " (bit-identical)", WITHIN_TOLERANCE: " (within tolerance)"}
        return Check("reproduction", PASS, f"reproduced {age}{how.get(newest.verdict, '')}")
    if newest.verdict == UNVERIFIED:
        return Check(
            "reproduction",
            WARN,
            f"the newest reproduction ({age}) is unverified: the rerun succeeded, but nothing "
            "could be compared",
        )
    return Check("reproduction", FAIL, f"the newest reproduction ({age}) says {newest.verdict}")


def _age(created: str, now: datetime) -> str:
    try:
        then = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created
    days = (now - then).days
    return "today" if days < 1 else f"{days} day(s) ago"
