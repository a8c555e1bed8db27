"""bench/run.py --smoke: every part of the benchmark runs to its report, on tiny inputs.

The benchmark is not a test (tests never assert timings, and nothing here does), but a part
that no longer runs goes unnoticed until someone wants its numbers: three parts broke that way
(reproduce, history and team), each found sessions later. This runs them all, as the full
benchmark would, against the real tools it times (git, DVC, MLflow's client and server,
PostgreSQL for the team part), and checks that each wrote its sections."""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.team.conftest import postgres_bin, unavailable

ROOT = Path(__file__).resolve().parent.parent


def _parts() -> tuple[str, ...]:
    """bench/run.py's PARTS, read from its source: importing the benchmark's modules (named
    fixtures, report, sync, ...) into the test process could shadow others."""
    tree = ast.parse((ROOT / "bench" / "run.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PARTS" for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("bench/run.py has no PARTS")


ALL_BUT_TEAM = tuple(p for p in _parts() if p != "team")


@pytest.fixture
def work() -> Iterator[Path]:
    """The benchmark's work directory. Not under pytest's tmp dir, which is root's alone: the
    team part runs PostgreSQL as its own user, in the work directory's cache."""
    path = Path(tempfile.mkdtemp(prefix="lineage-bench-smoke-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def smoke(work: Path, parts: tuple[str, ...]) -> tuple[str, str]:
    """The report and the log of ``bench/run.py --smoke --only PARTS``."""
    out = work / "report.md"
    argv = [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--work", str(work)]
    argv += ["--only", ",".join(parts), "--out", str(out)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=1500)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its servers too
        stdout, stderr = proc.communicate()
        pytest.fail(f"the smoke benchmark ran past 25 minutes:\n{stderr[-3000:]}")
    assert proc.returncode == 0, f"bench/run.py --smoke failed:\n{stderr[-5000:]}"
    assert "Traceback" not in stderr
    return out.read_text(encoding="utf-8"), stdout


@pytest.mark.timeout(1800)
def test_every_part_of_the_benchmark_runs_to_its_report(work: Path) -> None:
    before = (ROOT / "docs" / "benchmarks.md").read_bytes()
    report, tables = smoke(work, ALL_BUT_TEAM)
    written = set(re.findall(r"<!-- bench part: (\w+) -->", report))
    assert written == set(ALL_BUT_TEAM)
    assert "smoke mode" in report
    # Every section has its table and a verdict where it has a goal, as a full run's would.
    assert tables.count("== ") >= len(ALL_BUT_TEAM)
    assert "Summary:" in report
    assert (ROOT / "docs" / "benchmarks.md").read_bytes() == before  # never the real report


@pytest.mark.timeout(900)
def test_the_team_part_runs_against_postgresql(work: Path) -> None:
    if postgres_bin() is None:
        unavailable("PostgreSQL's server is not installed (no initdb); run scripts/test.sh")
    elsewhere = set(Path(tempfile.gettempdir()).glob("lineage-bench-pg-*"))
    report, _ = smoke(work, ("team",))
    assert re.findall(r"<!-- bench part: (\w+) -->", report) == ["team"]
    assert "PostgreSQL" in report
    # Its cluster lived in the work directory, deleted with it: nothing left in the temp dir.
    assert set(Path(tempfile.gettempdir()).glob("lineage-bench-pg-*")) == elsewhere
