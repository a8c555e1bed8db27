"""`lineage export openlineage --file` and `lineage export prov` over the large store: wall time
and peak memory of each, one fresh process per sample.

No goal: issue 15 names none for exports, and no other tool turns these records into OpenLineage
events or PROV to compare with. What the table shows is what an export of a store this size
costs, and whether its memory grows with the store: the OpenLineage export reads and sends a
page of a thousand runs at a time; the PROV export builds one document in the ``prov`` library.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import fixtures
from fixtures import LINEAGE, Workspace
from report import Section
from timing import BenchError, Summary

Log = Callable[[str], None]


def _measured(argv: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak resident memory (bytes) and stderr of one fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(argv)}` exited {proc.returncode}:\n{errors[-2000:]}")
    return wall, usage.ru_maxrss * 1024, errors  # Linux reports kilobytes


def sections(ws: Workspace, rs: fixtures.RecordsStore, *, repeats: int, log: Log) -> list[Section]:
    env = ws.env()
    out = ws.scratch / "exports"
    out.mkdir(parents=True, exist_ok=True)
    events, prov = out / "events.jsonl", out / "lineage.provn"
    cases = {
        "openlineage": (
            "`lineage export openlineage --file events.jsonl`",
            [LINEAGE, "export", "openlineage", "--file", str(events)],
            events,
        ),
        "prov": (
            "`lineage export prov --format provn -o lineage.provn`",
            [LINEAGE, "export", "prov", "--format", "provn", "-o", str(prov)],
            prov,
        ),
    }
    rounds = max(1, repeats // 3)  # a sample of 100,000 runs takes about a minute
    walls: dict[str, list[float]] = {key: [] for key in cases}
    peaks: dict[str, int] = dict.fromkeys(cases, 0)
    said = ""
    for n in range(rounds):
        for key, (_, argv, _) in cases.items():  # alternated, as every comparison here
            wall, peak, said = _measured(argv, cwd=rs.repo, env=env)
            walls[key].append(wall)
            peaks[key] = max(peaks[key], peak)
            log(f"{key} round {n + 1}/{rounds}: {wall:.1f} s, {peak / 1e6:,.0f} MB")
    found = re.search(r"wrote (\d+) runs", said)  # export prov: "wrote 5 runs (14 entities, ...)"
    runs = int(found.group(1)) if found else rs.n
    rows = []
    for key, (label, _, written) in cases.items():
        s = Summary.of(walls[key])
        rows.append(
            [
                label,
                f"{s.median:,.1f}",
                f"{s.median / runs * 1e6:,.0f}",
                f"{peaks[key] / 1e6:,.0f}",
                f"{written.stat().st_size / 1e6:,.0f}",
                str(s.n),
            ]
        )
    return [
        Section(
            title="Exports of the large store",
            intro=(
                f"Each export of the store of goal (b) ({rs.n:,} records of {runs:,} runs, index "
                "up to "
                "date), in a fresh process, the two alternated; peak memory is the process's "
                "largest resident set (`wait4`). No goal and no reference: no other tool "
                "exports these records, and issue 15 sets no goal for exports."
            ),
            header=[
                "What",
                "median s",
                "µs per run",
                "peak memory, MB",
                "written, MB",
                "n",
            ],
            rows=rows,
            notes=[
                "The OpenLineage export reads a page of 1,000 runs from the index, with their "
                "parents, registrations and reproductions, and writes its events before reading "
                "the next; most of its time is openlineage-python's serialisation (attrs "
                "`asdict`, then dropping nulls), ~0.25 ms an event.",
                "The PROV export reads every record and builds one `prov` document before "
                "serialising it, so its memory grows with the store.",
            ],
        )
    ]
