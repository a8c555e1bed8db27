"""What `lineage reproduce` shows: the plan, the comparison, JSON and a Markdown report.

Values are printed at full precision (``repr`` of a float is the shortest text that
round-trips), since exactness is the point of a reproduction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lineage.commands.reproduce import Result
from lineage.commands.reproduce_plan import EnvironmentDiff, InputPlan, Plan, remote_phrase
from lineage.compare import values_of
from lineage.edges import ARTIFACT_PATH_PREFIX
from lineage.formatting import human_size, short_hash
from lineage.formatting import value_text as fmt
from lineage.records import (
    DIFFERS,
    FAILED,
    UNVERIFIED,
    WITHIN_TOLERANCE,
    Check,
)


def _where(item: InputPlan) -> str:
    if item.where == "cache":
        return "DVC cache"
    if item.where == "remote":
        return f'DVC remote "{item.remote}" (will be fetched)'
    if item.where == "skipped":
        return "skipped: it was missing when the run was recorded"
    if item.where == "lfs-cache":
        return "Git LFS objects (.git/lfs/objects)"
    if item.where == "lfs-remote":
        return f'Git LFS store of "{item.remote}" (will be fetched)'
    if item.data.md5.startswith("sha256:"):
        return f'MISSING: not in .git/lfs/objects or the LFS store of "{item.remote}"'
    return "MISSING: " + ("not in the cache or " + remote_phrase(item.remote))


def render_plan(p: Plan) -> str:
    r = p.record
    lines = [
        f"Reproduce {p.ref}"
        + (
            f" ({p.node.resolved_from} -> {p.node.ident})"
            if p.node.resolved_from and p.node.kind == "model"
            else ""
        )
    ]
    run = r.run
    run_line = f"  run       {p.run_key}"
    if run:
        experiment = run.experiment_name or run.experiment_id
        run_line += f" {run.name or ''} (experiment {experiment}, {run.status})"
    lines.append(run_line + f", {r.evidence} record {p.record_id[:12]}")
    lines += [*_plan_code(p), *_plan_data(p.inputs)]
    if p.argv:
        source = {
            "record": "as recorded",
            "dvc.yaml": "stages from dvc.yaml at that commit, forced: no run-cache",
            "MLproject": "entry point from MLproject at that commit",
            "--command": "given with --command",
        }[p.command_source]
        lines.append(f"  command   {' '.join(p.shown_argv)}   ({source}; in {p.cwd})")
        if p.hidden:  # secrets the record hid: the rerun takes them from these variables
            given = ", ".join(f"{r.name} from ${r.variable}" for r in p.hidden)
            lines.append(f"  hidden    {given}")
    params = values_of(r).params  # MLflow's and the DVC stages', labelled
    if params:
        shown = ", ".join(f"{k}={fmt(v)}" for k, v in params.items())
        lines.append(f"  params    {shown if len(shown) <= 200 else shown[:197] + '...'}")
    lines.append("  env       " + _render_env(p.environment))
    lines.append(
        "  links     " + ", ".join(p.link_types) + (f"  ({p.link_note})" if p.link_note else "")
    )
    return "\n".join(lines) + "\n"


def _plan_code(p: Plan) -> list[str]:
    code = p.record.code
    lines = []
    if code.snapshot:
        lines.append(
            f"  code      snapshot {code.snapshot[:12]} of a dirty tree on "
            f"{(code.commit or 'no commit')[:12]} ({len(code.changed)} changed path(s))"
        )
    elif code.commit:
        subject = f' "{p.code_subject}"' if p.code_subject else ""
        dirt = "" if code.dirty is not None else " (dirtiness unknown)"
        lines.append(f"  code      commit {code.commit[:12]}{subject}{dirt}")
    if not p.code_present and p.checkout:
        lines.append("            MISSING from this repository")
    return lines


def _plan_data(inputs: Sequence[InputPlan]) -> list[str]:
    if not inputs:
        return ["  data      no DVC inputs recorded"]
    width = max(len(i.data.path) for i in inputs)
    lines = []
    for n, item in enumerate(inputs):
        d = item.data
        extra = f"{d.nfiles} files, " if d.nfiles else ""
        label = "  data      " if n == 0 else "            "
        lines.append(
            f"{label}{d.path.ljust(width)}  {short_hash(d.md5, 12)}"
            f"{'.dir' if d.md5.endswith('.dir') else ''}"
            f"  {extra}{human_size(d.size)}  {_where(item)}".rstrip()
        )
    return lines


def _render_env(e: EnvironmentDiff) -> str:
    if not e.known:
        return f"Python {e.python_then or '?'} recorded; package list not comparable"
    head = (
        f"Python {e.python_then} (same)"
        if e.python_then == e.python_now
        else f"Python {e.python_then} recorded, {e.python_now} now"
    )
    if e.same:
        return head + "; same distributions"
    parts = []
    if e.changed:
        listed = ", ".join(f"{n} {a} -> {b}" for n, a, b in e.changed[:5])
        parts.append(f"{len(e.changed)} changed ({listed}{', ...' if len(e.changed) > 5 else ''})")
    if e.missing:
        listed = ", ".join(f"{n} {v}" for n, v in e.missing[:5])
        parts.append(f"{len(e.missing)} missing ({listed}{', ...' if len(e.missing) > 5 else ''})")
    if e.added:
        parts.append(f"{len(e.added)} not in the record")
    return head + "; " + "; ".join(parts)


def _table(checks: Sequence[Check], title: str, left_out: Mapping[str, str]) -> list[str]:
    if not checks:
        return []
    rows = [(c.name, fmt(c.original), fmt(c.rerun), _status(c, left_out)) for c in checks]
    widths = [
        max(len(title), *(len(r[0]) for r in rows)),
        *(max(len(h), *(len(r[i]) for r in rows)) for i, h in ((1, "original"), (2, "rerun"))),
    ]
    out = [
        f"  {title.ljust(widths[0])}  {'original'.ljust(widths[1])}  "
        f"{'rerun'.ljust(widths[2])}  status"
    ]
    for name, a, b, status in rows:
        out.append(
            f"  {name.ljust(widths[0])}  {a.ljust(widths[1])}  {b.ljust(widths[2])}  {status}"
        )
    return out


def _status(c: Check, left_out: Mapping[str, str]) -> str:
    if c.status == "within":
        if isinstance(c.original, float | int) and isinstance(c.rerun, float | int):
            return f"within tolerance (|diff| {abs(c.rerun - c.original):.3g})"
        return "within tolerance (its numbers; bytes differ)"  # a plots file
    if c.status == "ignored":
        if c.name in left_out:
            return f"left out ({left_out[c.name]})"
        file = c.name.partition(":")[0]
        parent = next((p for p in left_out if file == p or file.startswith(p + "/")), None)
        if parent is not None:
            return f"left out (with {parent})"
    return {
        "exact": "exact",
        "differs": "DIFFERS",
        "missing": "MISSING in rerun",
        "new": "new in rerun",
        "ignored": "differs (not judged: not a --metric)",
    }.get(c.status, c.status)


def render_result(r: Result) -> str:
    lines: list[str] = []
    if r.rerun and r.rerun.run:
        lines.append(
            f"rerun     {r.rerun.run.run_id} "
            f"(experiment {r.rerun.run.experiment_name or r.rerun.run.experiment_id})"
        )
    left_out = dict(r.left_out)
    lines += _table(r.metrics, "metric", left_out)
    lines += _table([c for c in r.params if c.status != "exact"], "param", left_out)
    if r.params and all(c.status == "exact" for c in r.params):
        lines.append(f"  params: all {len(r.params)} identical")
    lines += _table(r.outputs, "output", left_out)
    if r.verdict == FAILED and r.rerun_exit not in (None, 0):
        lines.append(f"the rerun exited {r.rerun_exit}; the last lines of its output:")
        lines += [f"  | {line}" for line in r.tail[-15:]]
    for note in r.notes:
        lines.append(f"note: {note}")
    if r.registered:
        lines.append(
            "registered (tagged lineage.reproduces): " + ", ".join(str(m) for m in r.registered)
        )
    if r.kept and r.worktree:
        lines.append(
            f"worktree kept at {r.worktree} (remove it with `git worktree remove {r.worktree}`)"
        )
    lines.append(
        f"Verdict: {verdict_phrase(r)} — {_evidence(r)} "
        f"(reproduction record {(r.record_id or '')[:12]})"
    )
    return "\n".join(lines) + "\n"


def verdict_phrase(r: Result) -> str:
    """The verdict for a person: ``within-tolerance`` says which tolerance."""
    if r.verdict != WITHIN_TOLERANCE:
        return r.verdict
    stated = [
        f"{name} {value:g}"
        for name, value in (("rtol", r.policy.rtol), ("atol", r.policy.atol))
        if value
    ]
    return "reproduced within tolerance" + (f" ({', '.join(stated)})" if stated else "")


def _evidence(r: Result) -> str:
    if r.verdict == FAILED:
        return "the rerun failed" if r.rerun_exit else "the rerun made no MLflow run to compare"
    bad = sum(1 for c in (*r.metrics, *r.params, *r.outputs) if c.status in ("differs", "missing"))
    if r.verdict == DIFFERS:
        said = f"{bad} value(s) differ"
    elif r.verdict == UNVERIFIED:
        said = "the command succeeded again, but nothing could be compared"
        if r.exit_code:
            said += " (--allow-unverified accepts this)"
    else:
        said = _matched(r)
    if r.left_out:
        said += "; left out: " + ", ".join(f"{path} ({why})" for path, why in r.left_out)
    return said


def _matched(r: Result) -> str:
    """What matched, counted: metrics exact and within, outputs byte-identical, plots named."""
    parts = []
    exact = sum(1 for c in r.metrics if c.status == "exact")
    within = sum(1 for c in r.metrics if c.status == "within")
    if exact or within:
        parts.append(_count(exact, "metric", "metrics") + " exact")
    if within:
        parts.append(f"{within} within tolerance")
    identical = [c for c in r.outputs if c.status == "exact"]
    files = sum(1 for c in identical if c.name.startswith(ARTIFACT_PATH_PREFIX))
    if len(identical) > files:
        parts.append(
            _count(len(identical) - files, "DVC output", "DVC outputs") + " byte-identical"
        )
    if files:
        parts.append(_count(files, "W&B artifact file", "W&B artifact files") + " byte-identical")
    parts += [f"{c.name} within tolerance" for c in r.outputs if c.status == "within"]
    return ", ".join(parts)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def to_json(r: Result | None, p: Plan) -> dict[str, Any]:
    """The documented JSON: the plan, and (after a rerun) the comparison and verdict."""
    doc: dict[str, Any] = {
        "ref": p.ref,
        "model": str(p.model) if p.model else None,
        "original": {"run": p.run_key, "record": p.record_id, "evidence": p.record.evidence},
        "plan": _plan_json(p),
    }
    if r is not None:
        doc.update(_result_json(r))
    return doc


def _check_json(c: Check) -> dict[str, Any]:
    return {"name": c.name, "original": c.original, "rerun": c.rerun, "status": c.status}


def _plan_json(p: Plan) -> dict[str, Any]:
    return {
        "checkout": p.checkout,
        "snapshot": bool(p.record.code.snapshot),
        "inputs": [
            {
                "path": i.data.path,
                "md5": i.data.md5,
                "where": i.where,
                "remote": i.remote,
                "missing": list(i.missing),
            }
            for i in p.inputs
        ],
        "command": p.shown_argv,
        "hidden": [{"name": r.name, "variable": r.variable} for r in p.hidden],
        "command_source": p.command_source,
        "cwd": p.cwd,
        "link_types": list(p.link_types),
        "environment": {
            "python_recorded": p.environment.python_then,
            "python_now": p.environment.python_now,
            "changed": [list(c) for c in p.environment.changed],
            "missing": [list(c) for c in p.environment.missing],
            "added": len(p.environment.added),
        },
        "problems": p.problems,
        "warnings": p.warnings,
    }


def _result_json(r: Result) -> dict[str, Any]:
    return {
        "verdict": r.verdict,
        "exit_code": r.exit_code,
        "tolerance": {"rtol": r.policy.rtol, "atol": r.policy.atol},
        "left_out": [{"path": path, "why": why} for path, why in r.left_out],
        "record": r.record_id,
        "rerun": {
            "run": r.rerun.run_key if r.rerun else None,
            "record": r.rerun_record,
            "exit_code": r.rerun_exit,
        },
        "metrics": [_check_json(c) for c in r.metrics],
        "params": [_check_json(c) for c in r.params],
        "outputs": [_check_json(c) for c in r.outputs],
        "restored": [{"path": d.path, "md5": d.md5, "link": used} for d, used in r.restored],
        "worktree": str(r.worktree) if r.kept else None,
        "notes": r.notes,
        "log_tail": r.tail if r.verdict == FAILED else [],
    }


def render_markdown(r: Result) -> str:
    """A report to attach to a review: plan, comparison tables, verdict."""
    p = r.plan
    out = [f"# Reproduction of {p.ref}: **{verdict_phrase(r)}**", ""]
    out.append(f"- Original run: `{p.run_key}` (record `{p.record_id[:12]}`, {p.record.evidence})")
    if r.rerun:
        out.append(f"- Rerun: `{r.rerun.run_key}` (record `{(r.rerun_record or '')[:12]}`)")
    code = p.record.code
    if code.snapshot:
        out.append(
            f"- Code: snapshot `{code.snapshot[:12]}` of a dirty tree on "
            f"`{(code.commit or '')[:12]}`"
        )
    else:
        out.append(f"- Code: commit `{(code.commit or '')[:12]}`")
    out.append(f"- Command: `{' '.join(p.shown_argv)}`")
    out.append(f"- Environment: {_render_env(p.environment)}")
    out.append(
        f"- Tolerance: rtol {r.policy.rtol:g}, atol {r.policy.atol:g} "
        f"(reproduction record `{(r.record_id or '')[:12]}`)"
    )
    if p.inputs:
        out += ["", "| data | md5 | restored from |", "|---|---|---|"]
        for item in p.inputs:
            out.append(f"| `{item.data.path}` | `{item.data.md5}` | {_where(item)} |")
    left_out = dict(r.left_out)
    for title, checks in (("metric", r.metrics), ("param", r.params), ("output", r.outputs)):
        if checks:
            out += ["", f"| {title} | original | rerun | status |", "|---|---|---|---|"]
            out += [
                f"| `{c.name}` | `{fmt(c.original)}` | `{fmt(c.rerun)}` | {_status(c, left_out)} |"
                for c in checks
            ]
    if r.verdict == FAILED and r.tail:
        out += ["", f"The rerun exited {r.rerun_exit}. Last lines:", "", "```", *r.tail, "```"]
    out += ["", f"**Verdict: {verdict_phrase(r)}** — {_evidence(r)}.", ""]
    return "\n".join(out)
