"""`lineage diff A B`: two model versions or runs side by side.

Code (the commits that ran, and `git diff --stat` between them, dirty-tree snapshots included),
data per path (same or changed md5; for DVC directories, the files added, removed and modified
between the two `.dir` manifests), params, metrics with their delta, environment (distributions
that differ) and command. Everything comes from the records, the index, git and the local DVC
cache; nothing is run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lineage.adapters import dvc_store, git
from lineage.index import Index
from lineage.records import ModelVersion
from lineage.resolve import resolve, run_of


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


def diff(*, a: str, b: str, index: Index, paths: git.RepoPaths, environ: Mapping[str, str]) -> Diff:
    left, right = (_side(ref, index, paths, environ) for ref in (a, b))
    stat = None
    if left.code and right.code:
        stat = "" if left.code == right.code else git.diff_stat(paths, left.code, right.code)
    return Diff(
        a=left,
        b=right,
        code_stat=stat,
        data=_data(paths, left.record, right.record),
        params=_values(left.run.get("params") or {}, right.run.get("params") or {}),
        metrics=_values(left.run.get("metrics") or {}, right.run.get("metrics") or {}),
        environment=_environment(index, left.record, right.record),
        command=(_argv(left.record), _argv(right.record)),
    )


def _side(ref: str, index: Index, paths: git.RepoPaths, environ: Mapping[str, str]) -> Side:
    node = resolve(ref, index=index, paths=paths, environ=environ)
    run_key, model = run_of(ref, node, index, verb="diff")
    record_id, record = index.records_for_run(run_key)[0]
    return Side(ref, run_key, record_id, record, model)


def _argv(record: dict[str, Any]) -> list[str]:
    return list((record.get("command") or {}).get("argv") or [])


def _data(paths: git.RepoPaths, a: dict[str, Any], b: dict[str, Any]) -> list[DataDiff]:
    def by_path(record: dict[str, Any]) -> dict[str, str]:
        return {d["path"]: d["md5"] for d in record.get("inputs") or ()}

    left, right = by_path(a), by_path(b)
    cache_dir = dvc_store.cache_config(paths.root).cache_dir if (left or right) else None
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


def _dir_diff(cache_dir: Any, path: str, md5_a: str, md5_b: str) -> DataDiff:
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
        numeric = isinstance(x, int | float) and isinstance(y, int | float)
        delta = float(y) - float(x) if numeric and x != y else None  # type: ignore[arg-type]
        out.append(ValueDiff(name, x, y, delta))
    return out


def _environment(index: Index, a: dict[str, Any], b: dict[str, Any]) -> list[ValueDiff]:
    env_a, env_b = a.get("environment") or {}, b.get("environment") or {}
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


# -- presenting ----------------------------------------------------------------------------


def _short(md5: str | None) -> str:
    if md5 is None:
        return "-"
    return md5[:12] + (".dir" if md5.endswith(".dir") else "")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return repr(value) if isinstance(value, float) else str(value)


def _label(side: Side) -> str:
    model = f"{side.model}  " if side.model and str(side.model) != side.ref else ""
    run = side.run.get("name") or ""
    return f"{side.ref}  {model}run {side.run_key[:12]} {run}".rstrip()


def render_text(d: Diff) -> str:
    lines = [f"A  {_label(d.a)}", f"B  {_label(d.b)}", ""]
    code_a, code_b = ((s.code or "none")[:10] for s in (d.a, d.b))
    if d.a.code == d.b.code:
        lines.append(f"code      same ({code_a})")
    else:
        lines.append(f"code      {code_a} -> {code_b}")
        if d.code_stat is None:
            lines.append("          (a commit is missing here: `git fetch` or `lineage pull`)")
        else:
            lines += [f"            {line.strip()}" for line in d.code_stat.splitlines()]
    width = max((len(x.path) for x in d.data), default=0)
    lines += _section("data", [_data_line(x, width) for x in d.data], "no DVC inputs recorded")
    changed = [v for v in d.params if v.status != "same"]
    lines += _section(
        "params",
        [_value_line(v, _width(changed)) for v in changed],
        f"same ({len(d.params)})" if d.params else "none recorded",
    )
    lines += _section(
        "metrics", [_value_line(v, _width(d.metrics)) for v in d.metrics], "none recorded"
    )
    env = [v for v in d.environment if v.status != "same"]
    python = d.environment[0].a if d.environment else None
    lines += _section("env", [_value_line(v, _width(env)) for v in env], f"same (Python {python})")
    argv_a, argv_b = (" ".join(c) for c in d.command)
    if argv_a == argv_b:
        lines.append(f"command   same: {argv_a}")
    else:
        lines += [f"command   A: {argv_a}", f"          B: {argv_b}"]
    return "\n".join(lines) + "\n"


def _section(title: str, rows: list[str], empty: str) -> list[str]:
    if not rows:
        return [f"{title:<10}{empty}"]
    return [f"{title if n == 0 else '':<10}{row}" for n, row in enumerate(rows)]


def _width(values: list[ValueDiff]) -> int:
    return max((len(v.name) for v in values), default=0)


def _data_line(x: DataDiff, width: int) -> str:
    path = x.path.ljust(width)
    if x.status == "same":
        return f"{path}  same ({_short(x.a)})"
    if x.status != "changed":
        return f"{path}  {x.status} ({_short(x.a or x.b)})"
    files = ""
    if x.added is not None:
        files = f"  (+{x.added} added, -{x.removed} removed, ~{x.modified} modified files)"
    elif x.note:
        files = f"  ({x.note})"
    return f"{path}  {_short(x.a)} -> {_short(x.b)}{files}"


def _value_line(v: ValueDiff, width: int) -> str:
    name = v.name.ljust(width)
    if v.status in ("added", "removed"):
        return f"{name}  {v.status}: {_fmt(v.a if v.b is None else v.b)}"
    delta = f"  ({v.delta:+.6g})" if v.delta is not None else ""
    arrow = f"{_fmt(v.a)} -> {_fmt(v.b)}" if v.status == "changed" else f"{_fmt(v.a)} (same)"
    return f"{name}  {arrow}{delta}"


def to_json(d: Diff) -> dict[str, Any]:
    def side(s: Side) -> dict[str, Any]:
        return {
            "ref": s.ref,
            "model": str(s.model) if s.model else None,
            "run": s.run_key,
            "record": s.record_id,
            "code": s.code,
        }

    def value(v: ValueDiff) -> dict[str, Any]:
        return {"name": v.name, "a": v.a, "b": v.b, "delta": v.delta, "status": v.status}

    return {
        "a": side(d.a),
        "b": side(d.b),
        "code": {"same": d.a.code == d.b.code, "stat": d.code_stat},
        "data": [
            {
                "path": x.path,
                "a": x.a,
                "b": x.b,
                "status": x.status,
                "files": None
                if x.added is None
                else {"added": x.added, "removed": x.removed, "modified": x.modified},
                "note": x.note,
            }
            for x in d.data
        ],
        "params": [value(v) for v in d.params],
        "metrics": [value(v) for v in d.metrics],
        "environment": [value(v) for v in d.environment],
        "command": {"a": d.command[0], "b": d.command[1]},
    }
