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
    part: str = ""  # the bench/run.py part that produced it (see PARTS there)
    run_line: str = ""  # which run produced it: date, commit, mode, load average

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
    out = [f"## {section.title}", ""]
    if section.part:
        out += [PART_MARK.format(section.part), ""]
    if section.run_line:
        out += [f"*{section.run_line}*", ""]
    out += [section.intro, ""]
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


def commit(root: Path) -> str:
    """The checkout measured: its short commit id, ``+ changes`` when the tree differs."""
    head = _first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    try:
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "lineage", "bench"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        dirty = ""
    return f"{head} + changes" if dirty else head


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


PART_MARK = "<!-- bench part: {} -->"
# Which part wrote a section of a file from before sections carried PART_MARK, by its title.
LEGACY_TITLES = (
    ("Baselines", "baselines"),
    ("Goal (a)", "run"),
    ("Goal (b)", "queries"),
    ("Goal (c)", "imports"),
    ("Graph and impact", "graphs"),
    ("`lineage import mlflow`", "history"),
    ("Reproduce", "reproduce"),
    ("`lineage push`", "sync"),
    ("Hooks", "hooks"),
)


@dataclass(frozen=True)
class Written:
    """A section as it stands in an existing report: its part, title and markdown."""

    part: str
    title: str
    markdown: str

    @property
    def missed(self) -> bool:
        return MISS in self.markdown


def _part_of(title: str, body: str) -> str:
    prefix, _, rest = PART_MARK.partition("{}")
    for line in body.splitlines():
        if line.startswith(prefix) and line.endswith(rest):
            return line[len(prefix) : len(line) - len(rest)]
    return next((part for start, part in LEGACY_TITLES if title.startswith(start)), "")


def written_sections(text: str) -> list[Written]:
    """The sections of a report ``document`` wrote, in order (its header left out)."""
    chunks = ("\n" + text).split("\n## ")[1:]
    out = []
    for chunk in chunks:
        title, _, body = chunk.partition("\n")
        markdown = f"## {chunk.rstrip()}\n"
        out.append(Written(_part_of(title, body), title, markdown))
    return out


def merged_document(
    old_text: str,
    sections: list[Section],
    facts: dict[str, str],
    setup: dict[str, str],
    *,
    parts: tuple[str, ...],
    order: tuple[str, ...],
) -> str:
    """The report ``old_text`` with the sections of ``parts`` replaced by ``sections`` and
    every other section kept as it was, in ``order`` of parts (sections of no known part
    last). The header describes this run and says the file mixes runs when it does."""
    kept = [w for w in written_sections(old_text) if w.part not in parts]
    fresh = [Written(s.part, s.title, to_markdown(s)) for s in sections]
    rank = {part: i for i, part in enumerate(order)}
    ordered = sorted(kept + fresh, key=lambda w: rank.get(w.part, len(order)))
    if kept:
        setup = {
            **setup,
            "sections": f"mixed runs: this run replaced {', '.join(parts)}; every section "
            "says on its own line which run produced it",
        }
    return _header(facts, setup, [(w.title, w.missed) for w in ordered if _judged(w)]) + (
        "\n".join(w.markdown for w in ordered)
    )


def _judged(written: Written) -> bool:
    return MISS in written.markdown or f"| {PASS} |" in written.markdown


def document(sections: list[Section], facts: dict[str, str], setup: dict[str, str]) -> str:
    verdicts = [(s.title, MISS in s.verdicts) for s in sections if s.verdicts]
    return _header(facts, setup, verdicts) + "\n".join(to_markdown(s) for s in sections)


def _header(facts: dict[str, str], setup: dict[str, str], verdicts: list[tuple[str, bool]]) -> str:
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
            f"{title.split(':')[0]} {'MISS' if missed else 'pass'}" for title, missed in verdicts
        )
        + ".",
        "",
    ]
    return "\n".join(out) + "\n"
