"""`lineage import mlflow` on a history made without lineage (tests/history.py): each input
right or unknown, never wrong; idempotent; and 2,000 runs through a real MLflow server."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from tests.conftest import sh
from tests.history import History
from tests.terminal import in_terminal


def imported(h: History) -> dict[str, dict[str, Any]]:
    """churn/N -> the record lineage holds for its run."""
    out = {}
    for n in range(1, 8):
        shown = json.loads(h.lineage("show", f"churn/{n}", "--json", check=True).stdout)
        out[f"churn/{n}"] = shown["record"]
    return out


def test_import_gets_each_input_right_or_unknown_never_wrong(
    history: History, tmp_path: Path
) -> None:
    h = history.untouched(tmp_path)  # the audit tests import into the shared one
    proc = h.lineage("import", "mlflow", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["runs_seen"], result["written"], result["observed"]) == (7, 6, 1)

    records = imported(h)
    # Each lock was committed one commit after its run, alone: that next commit's entries,
    # checked against the run's own commit, are the run's (the lock at the run's commit is the
    # previous run's: stale at C5 and C8, where raw changed).
    expected = {
        "churn/1": (h.raw["v1"], h.prepared["churn/1"]),  # no dvc.lock at C1; C2 has R1's
        "churn/2": (h.raw["v1"], h.prepared["churn/2"]),
        "churn/3": (h.raw["v2"], h.prepared["churn/3"]),  # C5's lock names raw v1; C6 has R3's
        "churn/4": (h.raw["v2"], h.prepared["churn/4"]),  # C6's lock is consistent
        "churn/5": (h.raw["v2"], h.prepared["churn/5"]),
        "churn/6": (h.raw["v3"], h.prepared["churn/6"]),  # C8's lock names raw v2; C9 has R6's
    }
    for model, (raw, prepared) in expected.items():
        record = records[model]
        assert record["evidence"] == "inferred", model
        assert record["code"]["commit"] == h.commits[model], model
        assert record["code"]["dirty"] is None, model  # MLflow records no dirty flag
        inputs = {d["path"]: d["md5"] for d in record["inputs"]}
        assert inputs == {"data/raw.csv": raw, "data/prepared": prepared}, model
        assert "unknown_inputs" not in record, model
        assert record["models"] == [{"name": "churn", "version": int(model[-1])}]
        assert record["command"]["argv"] == ["python", "train.py"]
        assert record["run"]["status"] == "FINISHED" and record["run"]["metrics"]["score"] > 0
    # Where the lock was stale, the hash it names is not the one the run read.
    assert h.prepared["churn/2"] != h.prepared["churn/3"] != h.prepared["churn/6"]
    assert records["churn/7"]["evidence"] == "observed"


def test_second_import_adds_nothing(history: History) -> None:
    h = history
    h.lineage("import", "mlflow", check=True)
    before = h.sh("git", "rev-parse", "refs/lineage/records")
    proc = h.lineage("import", "mlflow", "--experiment", "churn", "--json", check=True)
    assert json.loads(proc.stdout)["written"] == 0
    assert h.sh("git", "rev-parse", "refs/lineage/records") == before


def test_import_of_2000_runs_from_a_real_server_is_idempotent(
    git_repo: Path, tmp_path: Path
) -> None:
    from tests.adapters.test_mlflow_server import serve

    root = Path(__file__).resolve().parents[2]
    db, facts = tmp_path / "seed.db", tmp_path / "facts.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LINEAGE_"))}
    seed = root / "bench" / "mlflow_store.py"  # 200 runs through MlflowClient, then SQL copies
    sh(sys.executable, seed, db, tmp_path / "art", "2000", facts, cwd=tmp_path, env=env)
    with serve(f"sqlite:///{db}", tmp_path) as uri:
        sh("lineage", "init", cwd=git_repo)
        importing = ("lineage", "import", "mlflow", "--experiment", "churn", "--json")
        run_env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
        first = sh(*importing, cwd=git_repo, env=run_env)
        sh("lineage", "log", "-n", "1", cwd=git_repo)  # the index catches up with the import
        trace = tmp_path / "git-trace"
        second = sh(*importing, cwd=git_repo, env={**run_env, "GIT_TRACE": str(trace)})
    assert json.loads(first.stdout)["written"] == 2000
    again = json.loads(second.stdout)
    assert (again["written"], again["unchanged"], again["runs_seen"]) == (0, 2000, 2000)
    # The 2,000 runs' records are read a page of 1,000 at a time, not a git per run.
    reads = [line for line in trace.read_text().splitlines() if "git cat-file --batch" in line]
    assert len(reads) == 2, reads[:5]
    logged = json.loads(sh("lineage", "log", "--json", cwd=git_repo).stdout)
    assert len(logged) == 2000 and {e["evidence"] for e in logged} == {"inferred"}


def test_on_a_terminal_import_shows_a_bar_of_runs_read_then_its_one_line(
    history: History, tmp_path: Path
) -> None:
    h = history.untouched(tmp_path)
    env = {**h.env, "LINEAGE_PROGRESS_DELAY": "0"}  # a bar even on 7 runs
    shown = in_terminal(["lineage", "import", "mlflow"], cwd=h.repo, env=env)
    assert shown.code == 0, shown.raw
    drawn = shown.bars("reading MLflow runs")
    assert drawn and re.search(r" \d/7 \[[0-9:]+<[0-9:]+, +[0-9.e+]+ runs/s\]$", drawn[-1])
    summary = "imported 6 inferred record(s) from 7 MLflow run(s); 0 already imported, "
    assert [line for line in shown.screen if "MLflow run" in line] == [
        summary + "1 observed by lineage kept as they are"
    ]  # the bar erased, the summary once

    as_json = in_terminal(["lineage", "import", "mlflow", "--json"], cwd=h.repo, env=env)
    assert as_json.code == 0 and as_json.carriage_returns == 0, as_json.raw
    piped = h.lineage("import", "mlflow")
    assert piped.returncode == 0 and "\r" not in piped.stderr
