"""`lineage log`: recorded runs, newest first, as text and JSON."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lineage.adapters import git
from lineage.adapters.store import Store
from lineage.commands.log import log
from lineage.context import Context
from lineage.records import (
    Code,
    MlflowRun,
    ModelVersion,
    Provenance,
    Registration,
    RunRecord,
    encode,
)
from tests import helpers as h
from tests.conftest import sh
from tests.layouts import get_started
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


def test_log_shows_a_dvc_metric_of_a_pipeline_run_without_mlflow(tmp_path: Path) -> None:
    project = get_started.build(tmp_path)
    project.lineage("run", "--", "dvc", "repro", "-q")

    [entry] = project.json("log")
    # No [metrics] main: the first by label (MLflow's would come first; there are none).
    assert entry["metric"] == {
        "name": "data/features/test-stats.toml:feature.mean",
        "value": 55.666666666666664,
    }

    config = project.repo / ".lineage" / "config.toml"
    text = config.read_text().replace('main = ""', 'main = "eval/metrics.json:avg_prec"')
    config.write_text(text)
    [entry] = project.json("log")
    assert entry["metric"] == {"name": "eval/metrics.json:avg_prec", "value": 0.25}
    fields = project.lineage("log").stdout.split()
    head = project.sh("git", "rev-parse", "HEAD").stdout.strip()
    assert fields[2:] == [
        entry["run"][:18],
        "SUCCEEDED",
        head[:10],
        "eval/metrics.json:avg_prec=0.25",
    ]


def _run(n: int) -> RunRecord:
    return RunRecord(
        evidence="observed",
        session=f"s{n}",
        code=Code(commit="c" * 40, dirty=False),
        created=Provenance(at="2026-01-01T00:00:00.000Z", name="A", email="a@x", tool="t"),
        run=MlflowRun(f"{n:032x}", "sqlite:///x", "1", "e", None, "FINISHED", n, n + 1),
        models=(ModelVersion("churn", n),) if n % 100 == 0 else (),
    )


def test_a_long_log_comes_a_page_at_a_time_and_says_the_same(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,500 runs, three pages: the first lines need one read of git, not the whole store,
    and every page gets what the whole list got (later registrations, newest first)."""
    later = [
        Registration(
            "observed",
            Provenance(at="2026-01-02T00:00:00.000Z", name="A", email="a@x", tool="t"),
            f"{n:032x}",
            ModelVersion("late", n),
            "2026-01-02T00:00:00.000Z",
            "sqlite:///x",
        )
        for n in (2490, 1200, 5)  # a run on each page
    ]
    Store(git.discover(git_repo)).append(
        [encode(_run(n)) for n in range(1, 2501)] + [encode(r) for r in later]
    )

    entries = h.lineage_json(git_repo, "log")
    assert [e["run"] for e in entries] == [f"{n:032x}" for n in range(2500, 0, -1)]
    models = {int(e["run"], 16): e["models"] for e in entries if e["models"]}
    assert models[2490] == ["late/2490"] and models[5] == ["late/5"]
    assert models[1200] == ["churn/1200", "late/1200"] and models[2500] == ["churn/2500"]
    text = h.lineage(git_repo, "log").stdout.splitlines()
    assert len(text) == 2500 and text[-1].split()[2] == f"{1:032x}"[:12]

    trace = git_repo.parent / "git-trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    with Context(git_repo, dict(os.environ)) as ctx:
        shown = log(ctx).entries
        assert next(shown).run_key == f"{2500:032x}"
        reads = [line for line in trace.read_text().splitlines() if "cat-file --batch" in line]
        assert len(reads) == 1  # one page of bodies, not the 2,500
        assert len(list(shown)) == 2499


def test_a_log_cut_short_by_its_reader_exits_141_and_says_nothing(git_repo: Path) -> None:
    """`lineage log | head`: more than a pipe holds (64 KB), read a little of, then closed.
    Like git: 141 (what a shell shows for SIGPIPE), no error line, no "Exception ignored" at
    exit; not 1, lineage's code for an error it explains."""
    Store(git.discover(git_repo)).append([encode(_run(n)) for n in range(1, 1501)])
    h.lineage(git_repo, "log", "-n", "1")  # the index built: the log starts writing at once
    for form, starts in (([], b"1970-01-01"), (["--json"], b"[{")):
        with subprocess.Popen(
            ["lineage", "log", *form],
            cwd=git_repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as log:
            assert log.stdout is not None and log.stderr is not None
            first = log.stdout.read(100)
            log.stdout.close()
            errors = log.stderr.read()
            assert log.wait(timeout=60) == 141, form
        assert errors == b"", form
        assert first.startswith(starts), form
