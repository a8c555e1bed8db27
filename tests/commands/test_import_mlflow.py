"""`lineage import mlflow` and `lineage audit` on a history made WITHOUT lineage: plain git,
`dvc repro`, MLflow logging and registration (the training script registers), as a team has it
on the day it adopts lineage. Built once per module (per xdist worker):

    C1  code, params depth 3, raw v1 (.dvc)       R1 churn/1  @legacy      no dvc.lock yet
    C2  dvc.lock of R1
    C3  params depth 5                             R2 churn/2  @champion    lock consistent
    C4  dvc.lock of R2
    C5  raw v2 (.dvc)                              R3 churn/3  @challenger  lock STALE here
    C6  dvc.lock of R3
        (train.py edited, not committed)           R4 churn/4  @candidate   dirty tree
    C7  branch `experiment`, depth 7 (not merged)  R5 churn/5  @experiment  unmerged branch
    C8  raw v3 (.dvc), never `dvc push`ed          R6 churn/6  @shadow      data gone
    C9  dvc.lock of R6; C10 raw v4; then `dvc gc -w` (raw v1 stays only in the remote)
    C11 `lineage init`; `lineage run -- dvc repro` R7 churn/7  @production  observed, reproduced

main is pushed to a bare `origin`; `experiment` is not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sh
from tests.helpers import commit_all, write
from tests.scenarios import hermetic_env

PREPARE = """\
import pathlib
rows = pathlib.Path("data/raw.csv").read_text().splitlines()
out = pathlib.Path("data/prepared")
out.mkdir(exist_ok=True)
(out / "train.csv").write_text("\\n".join(rows[: len(rows) // 2]) + "\\n")
(out / "test.csv").write_text("\\n".join(rows[len(rows) // 2 :]) + "\\n")
"""

TRAIN = """\
import pathlib, yaml, mlflow
params = yaml.safe_load(open("params.yaml"))["train"]
rows = pathlib.Path("data/prepared/train.csv").read_text().splitlines()
score = len(rows) * params["depth"] / 100
pathlib.Path("model.txt").write_text(f"depth={params['depth']} rows={len(rows)}\\n")
mlflow.set_experiment("churn")
with mlflow.start_run() as run:
    mlflow.log_params(params)
    mlflow.log_metric("score", score)
    client = mlflow.MlflowClient()
    try:
        client.create_registered_model("churn")
    except Exception:
        pass
    client.create_model_version("churn", source=f"runs:/{run.info.run_id}/model",
                                run_id=run.info.run_id)
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, data/raw.csv]
    params: [prepare.split]
    outs: [data/prepared]
  train:
    cmd: python train.py
    deps: [train.py, data/prepared]
    params: [train.depth]
    outs: [model.txt]
"""

ALIASES = {
    1: "legacy",
    2: "champion",
    3: "challenger",
    4: "candidate",
    5: "experiment",
    6: "shadow",
    7: "production",
}


def _raw(rows: int, seed: int) -> str:
    return "id,value\n" + "".join(f"{i},{(i * seed) % 89}\n" for i in range(rows))


@dataclass
class History:
    repo: Path
    env: dict[str, str]
    raw: dict[str, str] = field(default_factory=dict)  # v1.. -> md5
    prepared: dict[str, str] = field(default_factory=dict)  # churn/N -> md5 of what it read
    commits: dict[str, str] = field(default_factory=dict)  # churn/N -> commit MLflow tagged

    def lineage(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return sh("lineage", *args, cwd=self.repo, env=self.env, check=check)

    def sh(self, *args: str) -> str:
        return sh(*args, cwd=self.repo, env=self.env).stdout


def _lock_md5(repo: Path, path: str) -> str:
    import yaml

    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return next(o["md5"] for o in lock["stages"]["prepare"]["outs"] if o["path"] == path)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    base = tmp_path_factory.mktemp("history")
    env = hermetic_env(base)
    repo = base / "project"
    repo.mkdir()
    h = History(repo, env)

    def run(*args: str) -> str:
        return sh(*args, cwd=repo, env=env).stdout

    def head() -> str:
        return run("git", "rev-parse", "HEAD").strip()

    def raw(version: str, rows: int, seed: int) -> None:
        write(repo, "data/raw.csv", _raw(rows, seed))
        run("dvc", "add", "-q", "data/raw.csv")
        h.raw[version] = (repo / "data/raw.csv.dvc").read_text().split("md5: ")[1][:32]

    def train(model: str) -> None:
        h.commits[model] = head()
        run("dvc", "repro", "-q")
        h.prepared[model] = _lock_md5(repo, "data/prepared")

    run("git", "init", "-q")
    run("git", "init", "-q", "--bare", str(base / "origin.git"))
    run("git", "remote", "add", "origin", str(base / "origin.git"))
    run("dvc", "init", "-q")
    run("dvc", "remote", "add", "-d", "storage", str(base / "dvc-remote"))
    write(repo, ".gitignore", "mlruns/\n")
    write(repo, "prepare.py", PREPARE)
    write(repo, "train.py", TRAIN)
    write(repo, "dvc.yaml", PIPELINE)
    write(repo, "params.yaml", "prepare:\n  split: 0.5\ntrain:\n  depth: 3\n")
    raw("v1", 40, 7)
    commit_all(repo, "C1 pipeline, params, raw v1")
    train("churn/1")
    commit_all(repo, "C2 lock of R1")
    run("dvc", "push", "-q")
    write(repo, "params.yaml", "prepare:\n  split: 0.5\ntrain:\n  depth: 5\n")
    commit_all(repo, "C3 depth 5")
    train("churn/2")
    commit_all(repo, "C4 lock of R2")
    run("dvc", "push", "-q")
    raw("v2", 60, 11)
    commit_all(repo, "C5 raw v2")
    train("churn/3")
    commit_all(repo, "C6 lock of R3")
    run("dvc", "push", "-q")
    write(repo, "train.py", TRAIN.replace("/ 100", "/ 99"))  # an edit never committed
    train("churn/4")
    run("git", "checkout", "--", "train.py", "dvc.lock")
    run("git", "checkout", "-q", "-b", "experiment")
    write(repo, "params.yaml", "prepare:\n  split: 0.5\ntrain:\n  depth: 7\n")
    commit_all(repo, "C7 depth 7 on a branch")
    train("churn/5")
    run("git", "checkout", "-q", "-f", "main")
    run("dvc", "checkout", "-q", "--force")
    raw("v3", 30, 13)
    commit_all(repo, "C8 raw v3 (never pushed)")
    train("churn/6")
    commit_all(repo, "C9 lock of R6")
    raw("v4", 20, 17)
    sh("lineage", "init", cwd=repo, env=env)
    commit_all(repo, "C10 raw v4, lineage init")
    sh("lineage", "run", "--", "dvc", "repro", "-q", cwd=repo, env=env)
    commit_all(repo, "C11 lock of R7")
    run("dvc", "push", "-q")
    run("dvc", "gc", "-w", "-f", "-q")
    run("git", "push", "-q", "origin", "main")
    set_aliases = "import mlflow\nc = mlflow.MlflowClient()\n" + "".join(
        f"c.set_registered_model_alias('churn', '{alias}', '{v}')\n" for v, alias in ALIASES.items()
    )
    sh(sys.executable, "-c", set_aliases, cwd=repo, env=env)
    sh("lineage", "reproduce", "churn/7", cwd=repo, env=env)
    return h


def imported(h: History) -> dict[str, dict[str, Any]]:
    """churn/N -> the record lineage holds for its run."""
    out = {}
    for n in range(1, 8):
        shown = json.loads(h.lineage("show", f"churn/{n}", "--json", check=True).stdout)
        out[f"churn/{n}"] = shown["record"]
    return out


def test_import_gets_each_input_right_or_unknown_never_wrong(history: History) -> None:
    h = history
    proc = h.lineage("import", "mlflow", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["runs_seen"], result["written"], result["observed"]) == (7, 6, 1)

    records = imported(h)
    expected = {
        # churn/N: (raw md5, prepared md5 or None when it must be unknown)
        "churn/1": (h.raw["v1"], None),  # no dvc.lock at C1
        "churn/2": (h.raw["v1"], h.prepared["churn/2"]),  # C3's lock is consistent
        "churn/3": (h.raw["v2"], None),  # C5's lock still names raw v1: stale
        "churn/4": (h.raw["v2"], h.prepared["churn/4"]),
        "churn/5": (h.raw["v2"], h.prepared["churn/5"]),
        "churn/6": (h.raw["v3"], None),  # C8's lock names raw v2
    }
    for model, (raw, prepared) in expected.items():
        record = records[model]
        assert record["evidence"] == "inferred", model
        assert record["code"]["commit"] == h.commits[model], model
        assert record["code"]["dirty"] is None, model  # MLflow records no dirty flag
        inputs = {d["path"]: d["md5"] for d in record["inputs"]}
        if prepared is None:
            assert inputs == {"data/raw.csv": raw}, model
            assert record["unknown_inputs"] == ["data/prepared"], model
        else:
            assert inputs == {"data/raw.csv": raw, "data/prepared": prepared}, model
            assert "unknown_inputs" not in record, model
        assert record["models"] == [{"name": "churn", "version": int(model[-1])}]
        assert record["command"]["argv"] == ["python", "train.py"]
        assert record["run"]["status"] == "FINISHED" and record["run"]["metrics"]["score"] > 0
    # Where the lock was stale, the hash it names is not the one the run read.
    assert h.prepared["churn/2"] != h.prepared["churn/3"]
    assert records["churn/7"]["evidence"] == "observed"


def test_second_import_adds_nothing(history: History) -> None:
    h = history
    h.lineage("import", "mlflow", check=True)
    before = h.sh("git", "rev-parse", "refs/lineage/records")
    proc = h.lineage("import", "mlflow", "--experiment", "churn", "--json", check=True)
    assert json.loads(proc.stdout)["written"] == 0
    assert h.sh("git", "rev-parse", "refs/lineage/records") == before


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
    assert "is not on main/master (only on experiment)" in reasons["churn/5"]["code"]["reason"]
    assert reasons["churn/6"]["data"]["result"] == "fail"
    assert f"data/raw.csv {h.raw['v3'][:10]}" in reasons["churn/6"]["data"]["reason"]
    # raw v1 is only in the remote now: that is enough.
    assert reasons["churn/1"]["data"] == {
        "name": "data",
        "result": "warn",
        "reason": "unknown input(s): data/prepared",
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
    assert reasons["churn/7"]["reproduction"]["reason"] == "reproduced today"
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


def test_import_of_2000_runs_from_a_real_server_is_idempotent(
    git_repo: Path, tmp_path: Path
) -> None:
    from tests.test_mlflow_server import serve

    root = Path(__file__).resolve().parent.parent
    db, facts = tmp_path / "seed.db", tmp_path / "facts.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LINEAGE_"))}
    seed = root / "bench" / "mlflow_store.py"  # 200 runs through MlflowClient, then SQL copies
    sh(sys.executable, seed, db, tmp_path / "art", "2000", facts, cwd=tmp_path, env=env)
    with serve(f"sqlite:///{db}", tmp_path) as uri:
        sh("lineage", "init", cwd=git_repo)
        importing = ("lineage", "import", "mlflow", "--experiment", "churn", "--json")
        run_env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
        first = sh(*importing, cwd=git_repo, env=run_env)
        second = sh(*importing, cwd=git_repo, env=run_env)
    assert json.loads(first.stdout)["written"] == 2000
    again = json.loads(second.stdout)
    assert (again["written"], again["unchanged"], again["runs_seen"]) == (0, 2000, 2000)
    logged = json.loads(sh("lineage", "log", "--json", cwd=git_repo).stdout)
    assert len(logged) == 2000 and {e["evidence"] for e in logged} == {"inferred"}
