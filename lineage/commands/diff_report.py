"""What `lineage diff` shows: two runs side by side as text, and the documented JSON."""

from __future__ import annotations

from typing import Any

from lineage.commands.diff import DataDiff, Diff, Side, ValueDiff
from lineage.documents import run_label
from lineage.formatting import short_hash, value_text


def _short(md5: str | None) -> str:
    if md5 is None:
        return "-"
    return short_hash(md5, 12) + (".dir" if md5.endswith(".dir") else "")


def _label(side: Side) -> str:
    model = f"{side.model}  " if side.model and str(side.model) != side.ref else ""
    run = side.run.get("name") or ""
    return f"{side.ref}  {model}run {run_label(side.run_key)} {run}".rstrip()


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
    lines += _environment_lines(d.environment)
    argv_a, argv_b = (" ".join(c) for c in d.command)
    if argv_a == argv_b:
        lines.append(f"command   same: {argv_a}")
    else:
        lines += [f"command   A: {argv_a}", f"          B: {argv_b}"]
    return "\n".join(lines) + "\n"


def _environment_lines(environment: list[ValueDiff]) -> list[str]:
    if not environment:
        return [f"{'env':<10}none recorded"]
    python = environment[0]
    if python.status in ("added", "removed"):  # one side was imported: it has no environment
        lacking, other = ("A", python.b) if python.status == "added" else ("B", python.a)
        return [f"{'env':<10}none recorded for {lacking}; the other ran Python {other}"]
    changed = [v for v in environment if v.status != "same"]
    rows = [_value_line(v, _width(changed)) for v in changed]
    return _section("env", rows, f"same (Python {python.a})")


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
        return f"{name}  {v.status}: {value_text(v.a if v.b is None else v.b)}"
    delta = f"  ({v.delta:+.6g})" if v.delta is not None else ""
    a, b = value_text(v.a), value_text(v.b)
    arrow = f"{a} -> {b}" if v.status == "changed" else f"{a} (same)"
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
