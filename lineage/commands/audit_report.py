"""What `lineage audit` shows: a table, JSON, Markdown for a pull request, and JUnit XML for CI,
all read from the same rows."""

from __future__ import annotations

from typing import Any

from lineage.commands.audit import CHECKS, FAIL, MARK, PASS, WARN, Audit, Row


def _aliases(row: Row) -> str:
    mark = ":" if row.wandb else "@"  # W&B spells an alias name:alias
    names = [f"{mark}{a}" for a in row.version.aliases]
    if row.stage:
        names.append(row.stage)
    return " ".join(names) or "-"


def render_text(a: Audit) -> str:
    if not a.rows:
        hint = "" if a.strict else " (`--strict` fails when nothing matches)"
        return f"nothing to audit: no model version matches ({a.scope}){hint}\n"
    header = ["model version", "aliases", *CHECKS]
    table = [[r.model, _aliases(r), *(MARK[r.check(c).result] for c in CHECKS)] for r in a.rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    for r in a.rows:
        problems = [c for c in r.checks if c.result != PASS]
        if problems:
            lines.append("")
            lines.append(f"{r.model} ({_aliases(r)}):")
            lines += [f"  {MARK[c.result]} {c.name:<13}{c.reason}" for c in problems]
    lines += ["", _summary(a)]
    return "\n".join(lines) + "\n"


def _summary(a: Audit) -> str:
    counts = {k: sum(1 for r in a.rows if r.result == k) for k in (PASS, WARN, FAIL)}
    verdict = "passed" if a.passed else "FAILED"
    strict = " (--strict: warnings fail)" if a.strict else ""
    return (
        f"audit {verdict}{strict}: {len(a.rows)} model version(s) ({a.scope}): "
        f"{counts[PASS]} passed, {counts[WARN]} with warnings, {counts[FAIL]} failed"
    )


def to_json(a: Audit) -> dict[str, Any]:
    return {
        "scope": a.scope,
        "strict": a.strict,
        "passed": a.passed,
        "versions": [
            {
                "model": r.model,
                "name": r.name,
                "version": r.number,
                "aliases": list(r.version.aliases),
                "stage": r.stage,
                "run": r.version.run_id,
                "record": r.record_id,
                "result": r.result,
                "checks": [
                    {"name": c.name, "result": c.result, "reason": c.reason} for c in r.checks
                ],
                "registry": r.registry,
            }
            for r in a.rows
        ],
    }


def render_markdown(a: Audit) -> str:
    lines = [f"### lineage audit: {'✅ passed' if a.passed else '❌ failed'}", ""]
    if not a.rows:
        return "\n".join([*lines, f"No model version matches ({a.scope}).", ""])
    lines.append("| model version | aliases | " + " | ".join(CHECKS) + " |")
    lines.append("|---" * (2 + len(CHECKS)) + "|")
    for r in a.rows:
        marks = " | ".join(MARK[r.check(c).result] for c in CHECKS)
        lines.append(f"| `{r.model}` | {_aliases(r)} | {marks} |")
    details = [
        f"- `{r.model}` {MARK[c.result]} **{c.name}**: {c.reason}"
        for r in a.rows
        for c in r.checks
        if c.result != PASS
    ]
    if details:
        lines += ["", *details]
    lines += ["", _summary(a), ""]
    return "\n".join(lines)


def render_junit(a: Audit) -> str:
    """JUnit XML: one test case per model version; failures exactly the failed ones."""
    from xml.etree import ElementTree as ET

    failed = {id(r) for r in a.failed}
    suite = ET.Element(
        "testsuite",
        name="lineage audit",
        tests=str(len(a.rows)),
        failures=str(len(failed)),
        errors="0",
        skipped="0",
    )
    for r in a.rows:
        case = ET.SubElement(suite, "testcase", classname=r.name, name=r.model)
        bad = [c for c in r.checks if c.result == FAIL or (a.strict and c.result == WARN)]
        if id(r) in failed:
            failure = ET.SubElement(
                case, "failure", message="; ".join(f"{c.name}: {c.reason}" for c in bad)
            )
            failure.text = "\n".join(f"{MARK[c.result]} {c.name}: {c.reason}" for c in r.checks)
        notes = [c for c in r.checks if c.result == WARN and c not in bad]
        if notes:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(f"! {c.name}: {c.reason}" for c in notes)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
