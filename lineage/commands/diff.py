"""`lineage diff A B`: two model versions or runs side by side.

Code (the commits that ran, and `git diff --stat` between them, dirty-tree snapshots included),
data per path (same or changed md5; for DVC directories, the files added, removed and modified
between the two `.dir` manifests), params and metrics from every source the records hold (MLflow
and the DVC stages, labelled by ``lineage/run_values.py``) with their delta, environment
(distributions that differ) and command. Everything comes from the records, the index, git and
the local DVC cache; nothing is run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineage.adapters import dvc_config, dvc_store, git_content
from lineage.adapters.tool_stores import ToolStores
from lineage.context import Context
from lineage.index import Index
from lineage.model_version import ModelVersion
from lineage.resolve import resolve, run_of
from lineage.run_values import run_values


@dataclass(frozen=True)
class Side:
    ref: str
    run_key: str
    record_id: str
    record: dict[str, Any]
    model: ModelVersion | None

    @property
    def code(self) -> str | None:
        code = self.record.get("code") or {}
        ran: str | None = code.get("snapshot") or code.get("commit")
        return ran

    @property
    def run(self) -> dict[str, Any]:
        return self.record.get("run") or {}


@dataclass(frozen=True)
class DataDiff:
    path: str
    a: str | None  # md5 in A (None: A did not read this path)
    b: str | None
    added: int | None = None  # for two .dir versions whose manifests are in the cache
    removed: int | None = None
    modified: int | None = None
    note: str | None = None

    @property
    def status(self) -> str:
        if self.a is None:
            return "only in B"
        if self.b is None:
            return "only in A"
        return "same" if self.a == self.b else "changed"


@dataclass(frozen=True)
class ValueDiff:
    name: str
    a: Any
    b: Any
    delta: float | None = None

    @property
    def status(self) -> str:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        return "same" if self.a == self.b else "changed"


@dataclass
class Diff:
    a: Side
    b: Side
    code_stat: str | None  # git diff --stat; None when a commit is missing
    data: list[DataDiff] = field(default_factory=list)
    params: list[ValueDiff] = field(default_factory=list)
    metrics: list[ValueDiff] = field(default_factory=list)
    environment: list[ValueDiff] = field(default_factory=list)  # python + changed distributions
    command: tuple[list[str], list[str]] = ([], [])


def diff(ctx: Context, *, a: str, b: str) -> Diff:
    """Model versions or runs A and B side by side."""
    index = ctx.index
    left, right = (_side(ctx, ref) for ref in (a, b))
    values_a, values_b = run_values(left.record), run_values(right.record)
    stat = None
    if left.code and right.code:
        stat = (
            ""
            if left.code == right.code
            else git_content.diff_stat(
                ctx.paths, left.code, right.code, ToolStores.of(ctx.paths.root, ctx.mlflow)
            )
        )
    return Diff(
        a=left,
        b=right,
        code_stat=stat,
        data=_data(ctx.paths.root, left.record, right.record),
        params=_values(values_a.params, values_b.params),
        metrics=_values(values_a.metrics, values_b.metrics),
        environment=_environment(index, left.record, right.record),
        command=(_argv(left.record), _argv(right.record)),
    )


def _side(ctx: Context, ref: str) -> Side:
    node = resolve(ctx, ref)
    run_key, model = run_of(ref, node, ctx.index, verb="diff")
    record_id, record = ctx.index.records_for_run(run_key)[0]
    return Side(ref, run_key, record_id, record, model)


def _argv(record: dict[str, Any]) -> list[str]:
    return list((record.get("command") or {}).get("argv") or [])


def _data(root: Path, a: dict[str, Any], b: dict[str, Any]) -> list[DataDiff]:
    def by_path(record: dict[str, Any]) -> dict[str, str]:
        return {d["path"]: d["md5"] for d in record.get("inputs") or ()}

    left, right = by_path(a), by_path(b)
    cache_dir = dvc_config.cache_config(root).cache_dir if (left or right) else None
    out = []
    for path in sorted(set(left) | set(right)):
        md5_a, md5_b = left.get(path), right.get(path)
        if (
            cache_dir is not None
            and md5_a
            and md5_b
            and md5_a != md5_b
            and md5_a.endswith(".dir")
            and md5_b.endswith(".dir")
        ):
            out.append(_dir_diff(cache_dir, path, md5_a, md5_b))
        else:
            out.append(DataDiff(path, md5_a, md5_b))
    return out


def _dir_diff(cache_dir: Path, path: str, md5_a: str, md5_b: str) -> DataDiff:
    manifests = [dvc_store.read_manifest(cache_dir, m) for m in (md5_a, md5_b)]
    if manifests[0] is None or manifests[1] is None:
        return DataDiff(
            path, md5_a, md5_b, note="file counts need both .dir manifests: run `dvc fetch`"
        )
    files_a, files_b = dict(manifests[0]), dict(manifests[1])
    return DataDiff(
        path,
        md5_a,
        md5_b,
        added=len(files_b.keys() - files_a.keys()),
        removed=len(files_a.keys() - files_b.keys()),
        modified=sum(1 for f in files_a.keys() & files_b.keys() if files_a[f] != files_b[f]),
    )


def _values(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ValueDiff]:
    out = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name), b.get(name)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y))
        delta = float(y) - float(x) if numeric and x != y else None  # type: ignore[arg-type]
        out.append(ValueDiff(name, x, y, delta))
    return out


def _environment(index: Index, a: dict[str, Any], b: dict[str, Any]) -> list[ValueDiff]:
    env_a, env_b = a.get("environment") or {}, b.get("environment") or {}
    if not env_a and not env_b:  # both imported: nothing to compare, nothing "added"
        return []
    out = [ValueDiff("python", env_a.get("python"), env_b.get("python"))]
    if env_a.get("packages_hash") == env_b.get("packages_hash"):
        return out
    packages = []
    for env in (env_a, env_b):
        doc = index.record(env["packages_record"]) if env.get("packages_record") else None
        packages.append((doc or {}).get("packages"))
    if packages[0] is None or packages[1] is None:
        return out
    out += [v for v in _values(packages[0], packages[1]) if v.status != "same"]
    return out
