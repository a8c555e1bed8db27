"""`lineage log`: recorded runs, newest first, as text and JSON."""

from __future__ import annotations

from tests.conftest import sh
from tests.scenarios import Recorded


def test_log_text_lists_runs_newest_first(recorded: Recorded) -> None:
    lines = recorded.lineage("log").stdout.splitlines()
    head = sh("git", "rev-parse", "HEAD", cwd=recorded.repo).stdout.strip()
    runs = [e["run"] for e in recorded.json("log")]
    assert len(lines) == 2
    for line, run, metric, model in zip(
        lines, runs, ("0.5123", "0.3123"), ("churn/2", "churn/1"), strict=True
    ):
        fields = line.split()
        assert fields[2:] == [run[:12], "FINISHED", head[:10], f"score={metric}", model]
    assert len(recorded.lineage("log", "-n", "1").stdout.splitlines()) == 1
