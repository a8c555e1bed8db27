"""Tables for stdout and for docs/benchmarks.md, and the facts about the machine they came from."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from timing import Summary

PASS, MISS = "pass", "**MISS**"


@dataclass
class Section:
    title: str
    intro: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdicts(self) -> list[str]:
        return [cell for row in self.rows for cell in row if cell in (PASS, MISS)]


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def ratio(x: float) -> str:
    return f"{x:.3g}×"


def timing_cells(summary: Summary) -> list[str]:
    """median ms, min ms, n."""
    return [ms(summary.median), ms(summary.minimum), str(summary.n)]


def verdict(ok: bool) -> str:
    return PASS if ok else MISS


def _width(section: Section) -> list[int]:
    cells = [section.header, *section.rows]
    return [max(len(_plain(row[i])) for row in cells) for i in range(len(section.header))]


def _plain(cell: str) -> str:
    return cell.replace("**", "").replace("`", "")


def to_text(section: Section) -> str:
    widths = _width(section)
    lines = [f"== {section.title}", ""]
    for row in [section.header, *section.rows]:
        cells = [_plain(c) for c in row]
        lines.append(
            "  ".join(
                c.rjust(w) if i and _numeric(c) else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
    lines += [f"  note: {_plain(n)}" for n in section.notes]
    return "\n".join(lines) + "\n"


def _numeric(cell: str) -> bool:
    return (
        bool(cell)
        and cell.replace(",", "").replace(".", "").replace("×", "").replace("-", "").isdigit()
    )


def to_markdown(section: Section) -> str:
    out = [f"## {section.title}", "", section.intro, ""]
    out.append("| " + " | ".join(section.header) + " |")
    out.append(
        "|"
        + "|".join(
            "---:" if i and all(_numeric(_plain(r[i])) or not r[i] for r in section.rows) else "---"
            for i in range(len(section.header))
        )
        + "|"
    )
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in section.rows]
    if section.notes:
        out.append("")
        out += [f"- {note}" for note in section.notes]
    return "\n".join(out) + "\n"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def machine_facts() -> dict[str, str]:
    return {
        "date (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "nproc": _first_line(["nproc"]),
        "CPU": _cpu_model(),
        "memory": _memory(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "git": _first_line(["git", "--version"]).removeprefix("git version "),
        "mlflow": _version("mlflow"),
        "dvc": _version("dvc"),
        "pygit2": _version("pygit2"),
        "click": _version("click"),
        "SQLite": sqlite3.sqlite_version,
        "lineage": f"{_version('lineage')} (source {_source_digest()})",
    }


def _source_digest() -> str:
    """Which lineage code was measured: the working tree may be ahead of any commit."""
    root = Path(__file__).resolve().parent.parent / "lineage"
    files = sorted(root.rglob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    newest = max((p.stat().st_mtime for p in files), default=0)
    return (
        f"sha256 {digest.hexdigest()[:12]} of {len(files)} files, newest modified "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(newest))} UTC"
    )


def document(sections: list[Section], facts: dict[str, str], setup: dict[str, str]) -> str:
    out = [
        "# Benchmarks",
        "",
        "Generated by `python bench/run.py` (see [bench/README.md](../bench/README.md)); do not "
        "edit by hand. Every number is the wall time of a fresh process (cold-process numbers "
        "are the point), timed with `time.perf_counter` around `subprocess.run`; compared "
        "commands ran alternately in one session (A, B, A, B, …) so machine noise hits both. "
        "Goals are checked against medians.",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in {**facts, **setup}.items()],
        "",
        "Summary: "
        + ", ".join(
            f"{s.title.split(':')[0]} {'MISS' if MISS in s.verdicts else 'pass'}"
            for s in sections
            if s.verdicts
        )
        + ".",
        "",
    ]
    return "\n".join(out) + "\n" + "\n".join(to_markdown(s) for s in sections)
