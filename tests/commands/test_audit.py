"""`lineage audit` of the production models of a history made mostly without lineage
(tests/history.py): exactly the failing versions fail, each with its reason, in every format."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sh
from tests.helpers import commit_all
from tests.history import History
from tests.layouts import get_started
from tests.terminal import in_terminal


def audit_json(h: History, *args: str) -> tuple[int, dict[str, Any]]:
    proc = h.lineage("audit", *args, "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_audit_flags_exactly_the_failing_versions_with_their_reasons(history: History) -> None:
    h = history
    h.lineage("import", "mlflow", check=True)
    code, out = audit_json(h)

    assert code == 1
    rows = {v["model"]: v for v in out["versions"]}
    assert sorted(rows) == [f"churn/{n}" for n in range(1, 8)]
    assert {m for m, v in rows.items() if v["result"] == "fail"} == {"churn/5", "churn/6"}
    reasons = {m: {c["name"]: c for c in v["checks"]} for m, v in rows.items()}
    assert reasons["churn/5"]["code"]["result"] == "fail"
    # every reason the code fails for is named, not only the first
    code_reasons = reasons["churn/5"]["code"]["reason"].split("; ")
    assert len(code_reasons) == 3, code_reasons
    assert code_reasons[0].endswith("is not on main/master (only on experiment)")
    assert code_reasons[1].endswith("is not on origin (as last fetched): push it")
    assert code_reasons[2] == "dirtiness unknown (MLflow records no dirty flag)"
    assert reasons["churn/6"]["data"]["result"] == "fail"
    assert f"data/raw.csv {h.raw['v3'][:10]}" in reasons["churn/6"]["data"]["reason"]
    # raw v1 is only in the remote now: that is enough.
    assert reasons["churn/1"]["data"] == {
        "name": "data",
        "result": "pass",
        "reason": "2 input(s) in the DVC remote",
    }
    assert reasons["churn/2"]["data"]["result"] == "pass"
    for model in ("churn/1", "churn/2", "churn/3", "churn/4"):
        assert reasons[model]["lineage"]["result"] == "warn"  # inferred
        assert (
            reasons[model]["code"]["reason"] == "dirtiness unknown (MLflow records no dirty flag)"
        )
        assert reasons[model]["reproduction"]["result"] == "warn"
        assert rows[model]["result"] == "warn"
    assert rows["churn/7"]["result"] == "pass"
    assert reasons["churn/7"]["reproduction"]["reason"] == "reproduced today (bit-identical)"
    # --strict fails on warnings as well.
    code, out = audit_json(h, "--strict")
    assert code == 1 and not out["passed"]
    assert h.lineage("audit", "churn@production").returncode == 0


def test_audit_output_formats_agree(history: History, tmp_path: Path) -> None:
    h = history
    h.lineage("import", "mlflow", check=True)
    junit = tmp_path / "audit.xml"
    _, out = audit_json(h)
    text = h.lineage("audit", "--junit", str(junit)).stdout
    markdown = h.lineage("audit", "--markdown").stdout

    failing = {v["model"] for v in out["versions"] if v["result"] == "fail"}
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "7" and suite.get("failures") == str(len(failing))
    failed_cases = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert failed_cases == failing
    for v in out["versions"]:
        marks = {"pass": "✓", "warn": "!", "fail": "✗"}
        expected = [marks[c["result"]] for c in v["checks"]]
        line = next(ln for ln in text.splitlines() if ln.startswith(v["model"] + " "))
        assert line.split()[-5:] == expected
        [row] = [ln for ln in markdown.splitlines() if ln.startswith(f"| `{v['model']}` |")]
        assert [c.strip() for c in row.strip("|").split("|")][-5:] == expected
    assert text.splitlines()[-1].startswith("audit FAILED: 7 model version(s)")


def test_a_model_from_a_pipeline_has_the_params_and_metrics_of_its_dvc_stages(
    tmp_path: Path,
) -> None:
    # The training stage's MLflow run logs no params or metrics: dvc.lock and the pipeline's
    # metrics files hold them.
    project = get_started.build(tmp_path)
    project.lineage("run", "--", "dvc", "repro", "-q", MODEL="churn")

    proc = project.lineage("audit", "churn/1", "--json", check=False)

    [version] = json.loads(proc.stdout)["versions"]
    checks = {c["name"]: c for c in version["checks"]}
    assert checks["run"] == {
        "name": "run",
        "result": "pass",
        "reason": "FINISHED, with params, metrics and environment",
    }


MISSING_COMMIT = "deadbeef" * 5
TAGGED_RUN = f"""\
import mlflow, sys
client = mlflow.MlflowClient()
exp = client.create_experiment("churn", artifact_location=sys.argv[1])
tags = {{"mlflow.source.git.commit": "{MISSING_COMMIT}"}} if sys.argv[2] == "tagged" else {{}}
run = client.create_run(exp, tags=tags)
client.set_terminated(run.info.run_id)
client.create_registered_model("churn")
client.create_model_version("churn", source="runs:/" + run.info.run_id + "/m",
                            run_id=run.info.run_id)
client.set_registered_model_alias("churn", "production", "1")
"""


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        (
            "tagged",
            f"no commit recorded: MLflow names commit {MISSING_COMMIT[:10]}, which is not in "
            "this repository; `git fetch` it, then run `lineage import mlflow` again",
        ),
        ("untagged", "no commit recorded (MLflow had no git commit tag)"),
    ],
)
def test_the_code_check_tells_a_missing_commit_from_a_missing_tag(
    git_repo: Path, mlflow_uri: str, tmp_path: Path, tag: str, reason: str
) -> None:
    sh("lineage", "init", cwd=git_repo)
    commit_all(git_repo, "Set up lineage")
    sh(sys.executable, "-c", TAGGED_RUN, str(tmp_path / "artifacts"), tag, cwd=tmp_path)
    sh("lineage", "import", "mlflow", cwd=git_repo)

    proc = sh("lineage", "audit", "--json", cwd=git_repo, check=False)

    [version] = json.loads(proc.stdout)["versions"]
    checks = {c["name"]: c for c in version["checks"]}
    assert checks["code"] == {"name": "code", "result": "fail", "reason": reason}
    assert proc.returncode == 1


def test_on_a_terminal_audit_shows_a_bar_of_versions_then_the_same_report(
    history: History, tmp_path: Path
) -> None:
    h = history.untouched(tmp_path)
    h = replace(h, env={**h.env, "LINEAGE_PROGRESS_DELAY": "0"})  # a bar even on a few versions
    piped = h.lineage("audit")
    assert "\r" not in piped.stdout + piped.stderr

    shown = in_terminal(["lineage", "audit"], cwd=h.repo, env=h.env)
    assert shown.code == piped.returncode
    drawn = shown.bars("auditing model versions")
    assert drawn and re.search(r" \d+/\d+ \[[0-9:]+<[0-9:]+, +[0-9.e+]+ versions/s\]$", drawn[-1])
    piped_lines = (piped.stderr + piped.stdout).splitlines()
    assert [line for line in shown.screen if line] == [line for line in piped_lines if line]

    as_json = in_terminal(["lineage", "audit", "--json"], cwd=h.repo, env=h.env)
    assert as_json.code == piped.returncode and as_json.carriage_returns == 0
