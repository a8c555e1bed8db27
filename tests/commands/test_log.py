"""`lineage log`: recorded runs, newest first, as text and JSON."""

from __future__ import annotations

from pathlib import Path

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
