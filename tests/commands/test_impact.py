"""`lineage impact`: every run and model version made from some data, commit or run, over a
real trained project (tests/scenarios.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import lineage
from tests.scenarios import Trained


def impact(trained: Trained, ref: str, *args: str) -> Any:
    out = lineage(trained.repo, "impact", ref, "--json", *args, env=trained.env).stdout
    return json.loads(out)


def models(doc: Any) -> list[tuple[str, list[str] | None]]:
    return [(m["id"], m["aliases"]) for m in doc["models"]]


def runs(doc: Any) -> list[str]:
    return [r["run"] for r in doc["runs"]]


def test_one_data_version_lists_exactly_what_was_made_from_it(trained: Trained) -> None:
    r = trained.runs
    doc = impact(trained, trained.raw["v1"])
    assert doc["sources"] == [{"id": f"data:{trained.raw['v1']}", "kind": "data"}]
    # The side branch's fraud model and everything trained on v2 are not in it.
    assert models(doc) == [("model:churn/2", ["champion"]), ("model:churn/1", [])]
    assert doc["models"][0]["runs"] == [r["R2"]]
    assert runs(doc) == [r["R2"], r["R1"]]  # newest first, as `lineage log` has them
    assert set(doc["runs"][0]) == {
        "id",
        "record_id",
        "run",
        "started",
        "status",
        "commit",
        "dirty",
        "snapshot",
        "metric",
        "models",
        "evidence",
        "reproduces",
    }


def test_a_recorded_path_means_every_version_of_it(trained: Trained) -> None:
    r, raw = trained.runs, trained.raw
    doc = impact(trained, "data/raw.csv")
    assert {s["id"] for s in doc["sources"]} == {f"data:{raw[v]}" for v in ("v1", "v2", "v3")}
    assert models(doc) == [  # aliased first, then by name, newest version first
        ("model:churn/4", ["staging"]),
        ("model:churn/2", ["champion"]),
        ("model:fraud/1", ["champion"]),
        ("model:churn/3", []),
        ("model:churn/1", []),
    ]
    assert runs(doc) == [r["R4"], r["R3"], r["R5"], r["R2"], r["R1"]]

    text = lineage(trained.repo, "-C", "data", "impact", "raw.csv", env=trained.env).stdout
    lines = text.splitlines()
    assert lines[:4] == [
        "raw.csv (3 recorded versions): 5 model versions and 5 runs depend on it",
        "",
        "model versions",
        f"  churn/4  @staging   run {r['R4'][:12]}",
    ]
    assert lines[9:11] == ["runs", f"  {lineage_log_line(trained, r['R4'])}"]


def test_every_command_taking_a_ref_takes_a_bare_data_path(trained: Trained) -> None:
    v2 = trained.raw["v2"]  # the latest version of data/raw.csv
    env = trained.env
    shown = json.loads(lineage(trained.repo, "show", "data/raw.csv", "--json", env=env).stdout)
    assert shown["node"]["id"] == v2 and len(shown["node"]["versions"]) == 3
    proc = lineage(
        trained.repo, "graph", "./data/raw.csv", "--format", "dot", "--no-aliases", env=env
    )
    assert proc.stdout.startswith("digraph lineage {") and f"data:{v2}" in proc.stdout
    assert proc.stderr.startswith(
        f"lineage: data/raw.csv: the latest of the 3 versions recorded, {v2[:10]};"
    )
    for verb, args in (("diff", ["data/raw.csv", "churn/1"]), ("reproduce", ["data/raw.csv"])):
        proc = lineage(trained.repo, verb, *args, check=False, env=env)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr == (
            f"lineage: error: data/raw.csv is data (data/raw.csv@{v2[:10]}); {verb} takes a "
            "model version (name/3, name@alias, models:/...) or a run id: `lineage impact "
            "data/raw.csv` lists the runs and model versions made from it\n"
        )


def test_a_path_no_run_read_or_wrote_is_one_line_naming_the_recorded_ones(
    trained: Trained,
) -> None:
    proc = lineage(trained.repo, "impact", "data/prepared/train.csv", check=False, env=trained.env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        "lineage: error: 'data/prepared/train.csv' is inside data/prepared, a DVC directory "
        "lineage records as one piece of data; give data/prepared (or data/prepared@MD5)\n"
    )
    proc = lineage(trained.repo, "impact", "data/test.csv", check=False, env=trained.env)
    assert proc.returncode == 1 and proc.stderr == (
        "lineage: error: no recorded run read or wrote 'data/test.csv', and it names no commit "
        "or model; give a recorded one: data/prepared, data/raw.csv, model.txt\n"
    )


def lineage_log_line(trained: Trained, run: str) -> str:
    log = lineage(trained.repo, "log", env=trained.env).stdout.splitlines()
    return next(line for line in log if run[:12] in line)


def test_commits_and_runs_reach_through_the_data_they_made(trained: Trained) -> None:
    r = trained.runs
    # R3 (dvc repro at "More data") prepared data that R4 trained on: both count.
    doc = impact(trained, trained.commits["More data"][:10])
    assert runs(doc) == [r["R4"], r["R3"]]
    assert models(doc) == [("model:churn/4", ["staging"]), ("model:churn/3", [])]
    doc = impact(trained, r["R3"], "--no-aliases")
    assert runs(doc) == [r["R4"]]  # not R3 itself
    assert [m["id"] for m in doc["models"]] == ["model:churn/4", "model:churn/3"]
    doc = impact(trained, "side")  # a branch: its tip commit
    assert runs(doc) == [r["R5"]] and models(doc) == [("model:fraud/1", ["champion"])]


def test_nothing_downstream_says_so_and_exits_0(trained: Trained) -> None:
    proc = lineage(trained.repo, "impact", "churn/1", "--no-aliases", env=trained.env)
    assert proc.stdout == "nothing depends on churn/1\n" and proc.stderr == ""
    doc = impact(trained, "churn/1", "--no-aliases")
    assert doc == {
        "ref": "churn/1",
        "sources": [{"id": "model:churn/1", "kind": "model"}],
        "models": [],
        "runs": [],
    }


def test_an_unreachable_registry_is_a_warning_not_an_error(trained: Trained) -> None:
    env = {**trained.env, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}  # nothing listens there
    proc = lineage(trained.repo, "impact", trained.raw["v1"], env=env)
    # One warning for one cause: what the answer may lack (later registrations, aliases).
    assert proc.stderr == (
        "lineage: warning: the model registry http://127.0.0.1:9 could not be read (the MLflow "
        "tracking store http://127.0.0.1:9 cannot be reached (connection refused); start the "
        "server or fix MLFLOW_TRACKING_URI); versions registered after training may be missing "
        "from this answer; model aliases are left out too\n"
    )
    assert "  churn/2  (aliases unknown)  run" in proc.stdout
    doc = json.loads(lineage(trained.repo, "impact", trained.raw["v1"], "--json", env=env).stdout)
    assert models(doc) == [("model:churn/2", None), ("model:churn/1", None)]
