"""`lineage reproduce`: real git worktrees, real DVC (cache, local remote, gc), real MLflow.

One scenario is built per test module (per xdist worker): a project whose model versions were
trained under `lineage run` while HEAD and the data moved on:

    churn/1  data v1, scale 2        data only in the DVC remote (local cache gc'ed)
    churn/2  data v1, scale 3
    churn/3  data v2, scale 2        (the base code's result for the dirty run below)
    churn/4  data v2, scale 2, dirty tree: OFFSET edited but not committed
    churn/5  data v3, scale 4        data never pushed, then gc'ed: gone everywhere
    noisy    a run whose metric is random

HEAD ends on data v4. Every test checks the user's checkout is exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lineage.adapters.dvc_hash import StatCache
from tests.conftest import sh
from tests.helpers import commit_all, repo_state, write
from tests.layouts import get_started
from tests.scenarios import hermetic_env
from tests.terminal import in_terminal

TRAIN = """\
import os, sys, time
from pathlib import Path
import mlflow

OFFSET = 0.0
scale = float(sys.argv[1])
if os.environ.get("TRAIN_STARTED"):
    Path(os.environ["TRAIN_STARTED"]).write_text("started")
    time.sleep(float(os.environ.get("TRAIN_SLEEP", "0")))
if os.environ.get("TRAIN_FAIL") and os.environ.get("LINEAGE_REPRODUCES"):
    print("training blew up: out of memory (simulated)")
    sys.exit(3)
values = [float(line.split(",")[1]) for line in Path("data/raw.csv").read_text().splitlines()[1:]]
score = sum(values) * scale / 7 + OFFSET
mlflow.set_experiment("churn")
with mlflow.start_run() as run:
    mlflow.log_param("scale", scale)
    mlflow.log_metric("score", score)
    mlflow.log_metric("rows", len(values))
    client = mlflow.MlflowClient()
    try:
        client.create_registered_model("churn")
    except Exception:
        pass
    client.create_model_version("churn", source=f"runs:/{run.info.run_id}/model",
                                run_id=run.info.run_id)
print("score", score)
"""

NOISY = """\
import random, mlflow
mlflow.set_experiment("churn")
with mlflow.start_run():
    mlflow.log_metric("score", random.random())
    mlflow.log_metric("constant", 1.0)
"""


def _data(rows: int, seed: int) -> str:
    return "id,value\n" + "".join(f"{i},{(i * seed) % 97}\n" for i in range(rows))


@dataclass
class Scenario:
    repo: Path
    env: dict[str, str]
    runs: dict[str, str]  # churn/N or "noisy" -> run id
    md5: dict[str, str]  # data version -> md5
    scores: dict[str, float]

    def lineage(
        self, *args: str, check: bool = False, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return sh("lineage", *args, cwd=self.repo, env={**self.env, **extra}, check=check)

    def sh(self, *args: str) -> str:
        return sh(*args, cwd=self.repo, env=self.env).stdout

    def tip(self) -> str:
        return self.sh("git", "rev-parse", "refs/lineage/records").strip()

    def state(self) -> dict[str, str]:
        """repo_state plus the bytes of every file in the working tree (DVC data included)."""
        state = repo_state(self.repo)
        for path in sorted(self.repo.rglob("*")):
            rel = path.relative_to(self.repo).as_posix()
            if path.is_file() and not rel.startswith((".git/", ".dvc/cache/", ".dvc/tmp/")):
                state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        return state

    def mlflow_runs(self) -> int:
        code = (
            "import mlflow; c = mlflow.MlflowClient(); "
            "print(len(c.search_runs([e.experiment_id for e in c.search_experiments()])))"
        )
        return int(sh(sys.executable, "-c", code, cwd=self.repo, env=self.env).stdout.split()[-1])

    def worktrees(self) -> list[str]:
        return [
            line
            for line in self.sh("git", "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")
        ]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    base = tmp_path_factory.mktemp("reproduce")
    env = hermetic_env(base)
    repo = base / "project"
    repo.mkdir()
    scn = Scenario(repo, env, {}, {}, {})

    def run(*args: str) -> None:
        sh(*args, cwd=repo, env=env)

    def train(name: str, scale: str) -> None:
        out = scn.lineage("run", "--", "python", "train.py", scale, check=True)
        scn.runs[name] = json.loads(scn.lineage("log", "-n", "1", "--json", check=True).stdout)[0][
            "run"
        ]
        scn.scores[name] = float(out.stdout.split("score ")[1].split()[0])

    def new_data(version: str, rows: int, seed: int) -> None:
        write(repo, "data/raw.csv", _data(rows, seed))
        run("dvc", "add", "-q", "data/raw.csv")
        scn.md5[version] = (repo / "data/raw.csv.dvc").read_text().split("md5: ")[1][:32]
        commit_all(repo, f"Data {version}")

    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("dvc", "remote", "add", "-d", "storage", str(base / "dvc-remote"))
    write(repo, ".gitignore", "mlruns/\n")
    write(repo, "train.py", TRAIN)
    write(repo, "noisy.py", NOISY)
    scn.lineage("init", check=True)
    commit_all(repo, "Training code")
    new_data("v1", 40, 7)
    train("churn/1", "2")
    train("churn/2", "3")
    run("dvc", "push", "-q")
    new_data("v2", 50, 11)
    train("churn/3", "2")
    run("dvc", "push", "-q")
    write(repo, "train.py", TRAIN.replace("OFFSET = 0.0", "OFFSET = 0.5"))
    train("churn/4", "2")  # from the dirty tree
    run("git", "checkout", "--", "train.py")
    new_data("v3", 30, 13)
    train("churn/5", "4")  # its data is never pushed
    new_data("v4", 20, 17)
    run("dvc", "push", "-q")
    run("dvc", "gc", "-w", "-f", "-q")  # the cache keeps only data v4
    scn.lineage("run", "--", "python", "noisy.py", check=True)
    scn.runs["noisy"] = json.loads(scn.lineage("log", "-n", "1", "--json", check=True).stdout)[0][
        "run"
    ]
    return scn


def reproduce_json(scn: Scenario, *args: str, **extra: str) -> tuple[int, dict[str, Any], str]:
    proc = scn.lineage("reproduce", *args, "--json", **extra)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, proc.stderr


def test_v1_is_reproduced_exactly_from_the_remote_after_head_and_data_moved_on(
    scenario: Scenario, tmp_path: Path
) -> None:
    scn = scenario
    before = scn.state()
    report = tmp_path / "report.md"
    code, out, err = reproduce_json(scn, "churn/1", "--report", str(report))

    assert code == 0, err
    assert out["verdict"] == "bit-identical" and out["model"] == "churn/1"
    assert out["original"]["run"] == scn.runs["churn/1"]
    [data] = out["plan"]["inputs"]
    assert (data["path"], data["md5"]) == ("data/raw.csv", scn.md5["v1"])
    assert data["where"] == "remote" and data["remote"] == "storage"
    assert out["restored"] == [{"path": "data/raw.csv", "md5": scn.md5["v1"], "link": "copy"}]
    score = next(m for m in out["metrics"] if m["name"] == "score")
    assert score == {
        "name": "score",
        "original": scn.scores["churn/1"],
        "rerun": scn.scores["churn/1"],
        "status": "exact",
    }
    assert [p["status"] for p in out["params"]] == ["exact"]
    # One line after the fetch (on a terminal a bar shows while it runs: tests/test_progress.py).
    assert "lineage: fetched 1 object(s) (1 file(s)) from DVC remote storage\n" in err
    assert err.count("fetch") == 1 and "\r" not in err  # piped: no bar
    # The rerun is itself recorded, tagged as a reproduction, linked to the original.
    rerun = out["rerun"]["run"]
    shown = json.loads(scn.lineage("show", rerun, "--json", check=True).stdout)
    assert shown["record"]["code"]["commit"] == out["plan"]["checkout"]
    neighbours = {(n["rel"], n["id"]) for n in shown["neighbours"]}
    assert ("reproduced", scn.runs["churn/1"]) in neighbours
    assert "**Verdict: bit-identical**" in report.read_text()
    assert f"`{scn.md5['v1']}`" in report.read_text()
    assert scn.state() == before
    assert scn.worktrees() == [f"worktree {scn.repo}"]


def test_text_output_shows_the_plan_and_full_precision_metrics(scenario: Scenario) -> None:
    scn = scenario
    proc = scn.lineage("reproduce", "churn/2")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("Reproduce churn/2\n")
    assert "  data      data/raw.csv  " + scn.md5["v1"][:12] in out
    assert "  command   python train.py 3   (as recorded; in .)" in out
    score = next(line for line in out.splitlines() if line.startswith("  score "))
    assert score.split() == [
        "score",
        repr(scn.scores["churn/2"]),
        repr(scn.scores["churn/2"]),
        "exact",
    ]
    assert "Verdict: bit-identical — 2 metrics exact" in out


def test_dirty_tree_version_is_rebuilt_from_its_snapshot_not_its_base_commit(
    scenario: Scenario,
) -> None:
    scn = scenario
    before = scn.state()
    code, out, err = reproduce_json(scn, "churn/4")

    assert code == 0, err
    assert out["plan"]["snapshot"] is True
    shown = json.loads(scn.lineage("show", "churn/4", "--json", check=True).stdout)
    snapshot, base = shown["record"]["code"]["snapshot"], shown["record"]["code"]["commit"]
    assert out["plan"]["checkout"] == snapshot != base
    score = next(m for m in out["metrics"] if m["name"] == "score")
    assert score["status"] == "exact" and score["rerun"] == scn.scores["churn/4"]
    # churn/3 is the same data and params on the base commit: rerunning the base would have
    # given its score, which differs.
    assert scn.scores["churn/3"] != scn.scores["churn/4"]
    assert scn.state() == before


def test_alias_is_resolved_live_when_the_command_runs(scenario: Scenario) -> None:
    scn = scenario

    def set_alias(version: str) -> None:
        code = (
            "import mlflow; "
            f"mlflow.MlflowClient().set_registered_model_alias('churn', 'champion', '{version}')"
        )
        sh(sys.executable, "-c", code, cwd=scn.repo, env=scn.env)

    set_alias("2")
    code, out, err = reproduce_json(scn, "churn@champion", "--dry-run")
    assert code == 0, err
    assert out["model"] == "churn/2" and out["original"]["run"] == scn.runs["churn/2"]
    set_alias("3")
    code, out, err = reproduce_json(scn, "models:/churn@champion", "--dry-run")
    assert code == 0, err
    assert out["model"] == "churn/3" and out["original"]["run"] == scn.runs["churn/3"]
    assert out["plan"]["inputs"][0]["md5"] == scn.md5["v2"]


def test_data_gone_everywhere_stops_before_anything_runs_and_names_the_md5(
    scenario: Scenario,
) -> None:
    scn = scenario
    before, tip, runs = scn.state(), scn.tip(), scn.mlflow_runs()
    proc = scn.lineage("reproduce", "churn/5")

    assert proc.returncode == 1
    assert f"data: data/raw.csv {scn.md5['v3']} is in neither the DVC cache nor" in proc.stdout
    [error] = proc.stderr.strip().splitlines()
    assert error.startswith("lineage: error: cannot reproduce churn/5: data: data/raw.csv ")
    assert scn.md5["v3"] in error and error.endswith("nothing was run")
    assert "Traceback" not in proc.stderr
    assert (scn.tip(), scn.mlflow_runs()) == (tip, runs)
    assert scn.state() == before and len(scn.worktrees()) == 1


def test_dry_run_runs_nothing_and_writes_nothing(scenario: Scenario) -> None:
    scn = scenario
    before, tip, runs = scn.state(), scn.tip(), scn.mlflow_runs()
    proc = scn.lineage("reproduce", "churn/1", "--dry-run")

    assert proc.returncode == 0, proc.stderr
    # From the remote, or from the cache if an earlier test fetched it.
    assert f"  data      data/raw.csv  {scn.md5['v1'][:12]}" in proc.stdout
    assert proc.stdout.endswith("dry run: nothing was run or written\n")
    assert (scn.tip(), scn.mlflow_runs()) == (tip, runs)
    assert scn.state() == before and len(scn.worktrees()) == 1
    assert not list((scn.repo / ".git" / "lineage" / "worktrees").glob("*"))


def _ignoring_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("started", ["as usual", "with SIGINT ignored"])
def test_interrupted_reproduction_leaves_no_trace_in_the_checkout(
    scenario: Scenario, tmp_path: Path, started: str
) -> None:
    """Also when lineage was started with SIGINT ignored, as a shell without job control
    starts `cmd &`: the rerun must still stop when lineage forwards a SIGINT to it."""
    scn = scenario
    before, tip = scn.state(), scn.tip()
    marker = tmp_path / "started"
    proc = subprocess.Popen(
        ["lineage", "reproduce", "churn/2"],
        cwd=scn.repo,
        env={**scn.env, "TRAIN_STARTED": str(marker), "TRAIN_SLEEP": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignoring_sigint if started != "as usual" else None,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    # The child's own KeyboardInterrupt traceback passes through; lineage's answer is one line.
    assert err.strip().splitlines()[-1].startswith("lineage: error: interrupted: the rerun")
    assert "internal error" not in err
    assert scn.state() == before and len(scn.worktrees()) == 1
    # The killed rerun is recorded as a run, but no verdict was written.
    added = scn.sh("git", "log", "--format=%s", f"{tip}..refs/lineage/records")
    assert "reproduction" not in added


def test_nondeterministic_training_is_reported_as_differs(scenario: Scenario) -> None:
    scn = scenario
    proc = scn.lineage("reproduce", scn.runs["noisy"])

    assert proc.returncode == 4, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("  metric"))
    assert header.split() == ["metric", "original", "rerun", "status"]
    score = next(line for line in lines if line.startswith("  score "))
    assert score.endswith("DIFFERS")
    assert next(line for line in lines if line.startswith("  constant")).endswith("exact")
    assert lines[-1].startswith("Verdict: differs — 1 value(s) differ")
    # Judging only the stable metric is an explicit choice the user can make.
    code, out, _ = reproduce_json(scn, scn.runs["noisy"], "--metric", "constant")
    assert code == 0 and out["verdict"] == "bit-identical"
    assert {m["name"]: m["status"] for m in out["metrics"]} == {
        "constant": "exact",
        "score": "ignored",
    }


def test_failed_rerun_exits_5_with_the_tail_of_its_log(scenario: Scenario) -> None:
    scn = scenario
    before = scn.state()
    proc = scn.lineage("reproduce", "churn/2", TRAIN_FAIL="1")

    assert proc.returncode == 5, proc.stderr
    assert "the rerun exited 3; the last lines of its output:" in proc.stdout
    assert "  | training blew up: out of memory (simulated)" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("Verdict: failed — the rerun failed")
    assert scn.state() == before and len(scn.worktrees()) == 1


def test_record_from_another_clone_needs_yes_before_its_command_runs(
    scenario: Scenario, tmp_path: Path
) -> None:
    scn = scenario
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(scn.repo), str(clone), cwd=tmp_path, env=scn.env)
    sh(
        "git",
        "fetch",
        "-q",
        "origin",
        "refs/lineage/records:refs/lineage/records",
        cwd=clone,
        env=scn.env,
    )
    runs = scn.mlflow_runs()
    proc = sh("lineage", "reproduce", "churn/2", cwd=clone, env=scn.env, check=False)

    assert proc.returncode == 1
    assert "  command   python train.py 3   (as recorded; in .)" in proc.stdout
    [error] = proc.stderr.strip().splitlines()[-1:]
    assert "not running `python train.py 3` from a record this clone did not write" in error
    assert error.endswith("then rerun with --yes to run it")
    assert scn.mlflow_runs() == runs


def test_keep_leaves_the_worktree_and_says_where(scenario: Scenario) -> None:
    scn = scenario
    code, out, err = reproduce_json(scn, "churn/3", "--keep")
    assert code == 0, err
    kept = Path(out["worktree"])
    assert (kept / "data" / "raw.csv").read_text() == _data(50, 11)
    assert f"worktree {kept}" in scn.worktrees()
    sh("git", "worktree", "remove", "--force", str(kept), cwd=scn.repo, env=scn.env)


def test_reproduce_refuses_a_commit_or_data_ref(scenario: Scenario) -> None:
    proc = scenario.lineage("reproduce", "HEAD")
    assert proc.returncode == 1
    assert proc.stderr.startswith("lineage: error: HEAD is a commit; reproduce takes a model")


def test_record_with_a_path_outside_the_repository_is_refused(
    dvc_repo: Path, mlflow_uri: str
) -> None:
    from lineage.adapters import git
    from lineage.adapters.store import Store
    from lineage.records import canonical_bytes, record_id

    sh("lineage", "init", cwd=dvc_repo)
    head = sh("git", "rev-parse", "HEAD", cwd=dvc_repo).stdout.strip()
    doc = {
        "schema": 1,
        "kind": "run",
        "evidence": "observed",
        "session": "s1",
        "code": {"commit": head, "dirty": False},
        "created": {"at": "2026-01-01T00:00:00.000Z", "name": "x", "email": "x", "tool": "t"},
        "command": {
            "argv": ["python", "train.py"],
            "cwd": ".",
            "exit_code": 0,
            "status": "succeeded",
            "started": "2026-01-01T00:00:00.000Z",
            "ended": "2026-01-01T00:00:01.000Z",
            "duration_s": 1.0,
        },
        "inputs": [{"path": "../../etc/passwd", "md5": "0" * 32}],
    }
    blob = canonical_bytes(doc)
    Store(git.discover(dvc_repo)).append([(record_id(blob), blob)])
    proc = sh("lineage", "reproduce", "local-s1", cwd=dvc_repo, check=False)
    assert proc.returncode == 1
    assert "names the path '../../etc/passwd', which is outside the repository" in proc.stderr


WRITER = """\
import mlflow
from pathlib import Path
rows = len(Path("data/raw.csv").read_text().splitlines())
with open("data/raw.csv", "a") as f:  # a careless script that writes into its input
    f.write("99,99\\n")
with mlflow.start_run():
    mlflow.log_metric("rows", rows)
"""


def test_a_rerun_writing_into_its_input_cannot_corrupt_the_dvc_cache(
    dvc_repo: Path, mlflow_uri: str
) -> None:
    from lineage.adapters import dvc_config, dvc_store

    write(dvc_repo, "writer.py", WRITER)
    sh("dvc", "config", "cache.type", "hardlink,symlink,copy", cwd=dvc_repo)
    sh("lineage", "init", cwd=dvc_repo)
    commit_all(dvc_repo, "A script that appends to its input")
    sh("lineage", "run", "--", "python", "writer.py", cwd=dvc_repo)
    sh("dvc", "checkout", "-q", "--force", cwd=dvc_repo)  # undo what the original run did
    md5 = (dvc_repo / "data/raw.csv.dvc").read_text().split("md5: ")[1][:32]
    cached = dvc_store.object_path(dvc_config.cache_config(dvc_repo).cache_dir, md5)
    before = repo_state(dvc_repo), (dvc_repo / "data/raw.csv").read_bytes()

    run_id = json.loads(sh("lineage", "log", "--json", cwd=dvc_repo).stdout)[0]["run"]
    proc = sh("lineage", "reproduce", run_id, "--json", cwd=dvc_repo, check=False)

    out = json.loads(proc.stdout)
    if os.geteuid() == 0:
        # Root writes through read-only links, so the restore copied instead, and said why.
        assert proc.returncode == 0 and out["verdict"] == "bit-identical", proc.stderr
        assert out["plan"]["link_types"] == ["copy"]
        assert (
            "not using hardlink/symlink: running as root"
            in sh("lineage", "reproduce", run_id, "--dry-run", cwd=dvc_repo).stdout
        )
    else:
        # Linked read-only: the careless write fails instead of corrupting the cache.
        assert proc.returncode == 5 and out["verdict"] == "failed", proc.stderr
        assert out["restored"][0]["link"] == "hardlink"
        assert any("PermissionError" in line for line in out["log_tail"])
    assert hashlib.md5(cached.read_bytes()).hexdigest() == md5
    assert (repo_state(dvc_repo), (dvc_repo / "data/raw.csv").read_bytes()) == before


def test_a_pipeline_run_without_mlflow_is_reproduced_on_its_dvc_metrics(tmp_path: Path) -> None:
    project = get_started.build(tmp_path)
    project.lineage("run", "--", "dvc", "repro", "-q")
    run = project.newest_run()
    before = repo_state(project.repo)

    # The rerun's avg_prec is off by 1e-12, so eval/metrics.json's bytes differ too: within
    # --atol 1e-9 that is reproduced within tolerance, judged on the values DVC's metrics files
    # hold.
    proc = project.lineage(
        "reproduce", run, "--atol", "1e-9", "--json", check=False, EVAL_NOISE="1e-12"
    )

    out = json.loads(proc.stdout)
    assert (proc.returncode, out["verdict"]) == (6, "within-tolerance")
    statuses = {c["name"]: c["status"] for c in out["metrics"]}
    assert statuses.pop("eval/metrics.json:avg_prec") == "within"
    assert statuses == {
        "data/features/test-stats.toml:feature.mean": "exact",
        "data/features/test-stats.toml:rows": "exact",
        "data/features/train-stats.toml:feature.mean": "exact",
        "data/features/train-stats.toml:rows": "exact",
        "eval/metrics.json:counts.hits": "exact",
        "eval/metrics.json:counts.rows": "exact",
        "eval/metrics.json:roc_auc": "exact",
        "eval/summary.yaml:loss": "exact",
        "eval/summary.yaml:precision": "exact",
        "eval/summary.yaml:recall": "exact",
    }
    assert [c["name"] for c in out["params"] if c["status"] == "exact"] == [
        "evaluate.yaml:threshold",
        "params.yaml:featurize.max_features",
        "params.yaml:featurize.ngrams",
        "params.yaml:prepare.seed",
        "params.yaml:prepare.split",
        "params.yaml:train.min_split",
        "params.yaml:train.n_est",
        "params.yaml:train.seed",
    ]
    # Metrics files are judged by their values; every other output by its md5.
    assert {c["name"]: c["status"] for c in out["outputs"]} == {
        "data/features/test.tsv": "exact",
        "data/features/train.tsv": "exact",
        "data/prepared": "exact",
        "eval/plots/prc.json": "exact",
        "model.pkl": "exact",
    }

    # Without a tolerance, the same rerun differs, and says which value.
    proc = project.lineage("reproduce", run, check=False, EVAL_NOISE="1e-12")
    assert proc.returncode == 4
    assert "  eval/metrics.json:avg_prec  " in proc.stdout and "DIFFERS" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("Verdict: differs — 1 value(s) differ")
    assert repo_state(project.repo) == before


def test_a_run_with_no_metrics_and_no_outputs_is_unverified_exit_7_unless_allowed(
    git_repo: Path, mlflow_uri: str
) -> None:
    write(git_repo, "hello.py", "print('hello')\n")
    sh("lineage", "init", cwd=git_repo)
    commit_all(git_repo, "A script that produces nothing to compare")
    sh("lineage", "run", "--", "python", "hello.py", cwd=git_repo)
    run_id = json.loads(sh("lineage", "log", "--json", cwd=git_repo).stdout)[0]["run"]
    before = repo_state(git_repo)

    proc = sh("lineage", "reproduce", run_id, cwd=git_repo, check=False)

    assert proc.returncode == 7, proc.stderr
    lines = proc.stdout.splitlines()
    assert (
        "note: the original run recorded no metrics and no DVC outputs: the only evidence is "
        "that the command succeeded again"
    ) in lines
    assert lines[-1].startswith(
        "Verdict: unverified — the command succeeded again, but nothing could be compared "
        "(--allow-unverified accepts this) (reproduction record "
    )
    allowed = sh("lineage", "reproduce", run_id, "--allow-unverified", cwd=git_repo, check=False)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.splitlines()[-1].startswith(
        "Verdict: unverified — the command succeeded again, but nothing could be compared "
        "(reproduction record "
    )
    assert repo_state(git_repo) == before


# Counts the SIGINTs it receives. With SIGNALS set it cancels the process group `lineage` runs
# in, as a CI runner does (`kill -INT -PGID`), from inside the run: its own copy, if it is in
# that group, arrives before lineage could forward one, so a second one is seen, never merged
# with the first. Once one came (and any duplicate had time to arrive), it stops as Python
# does on Ctrl-C, inside its MLflow run.
SLOW = """\
import os, signal, time
from pathlib import Path
import mlflow

received = []
if os.environ.get("SIGNALS"):
    def on_int(signum, frame):
        received.append(signum)
        Path(os.environ["SIGNALS"]).write_text(str(len(received)))
    signal.signal(signal.SIGINT, on_int)
mlflow.set_experiment("slow")
with mlflow.start_run():
    mlflow.log_param("epochs", 3)
    if os.environ.get("SIGNALS"):
        os.killpg(os.getpgid(os.getppid()), signal.SIGINT)  # lineage's group
        while not received:
            time.sleep(0.05)
        time.sleep(1.0)
        raise KeyboardInterrupt
    mlflow.log_metric("score", 0.5)
"""


def _slow_project(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "slow"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\n")
    write(repo, "slow.py", SLOW)
    sh("lineage", "init", cwd=repo)
    commit_all(repo, "Slow training")
    sh("lineage", "run", "--", "python", "slow.py", cwd=repo)
    run = json.loads(sh("lineage", "log", "--json", cwd=repo).stdout)[0]["run"]
    return repo, str(run)


def _mlflow_status(repo: Path, run_id: str) -> str:
    code = f"import mlflow; print(mlflow.MlflowClient().get_run('{run_id}').info.status)"
    return sh(sys.executable, "-c", code, cwd=repo).stdout.split()[-1]


def test_a_group_sigint_reaches_the_rerun_once_and_is_recorded_as_interrupted(
    tmp_path: Path,
) -> None:
    repo, original = _slow_project(tmp_path)
    before = repo_state(repo)
    signals = tmp_path / "signals"
    # No terminal, a session of its own, as a CI runner starts it; its process group id is
    # its pid, which the training child cancels once it runs (see SLOW).
    proc = subprocess.Popen(
        ["lineage", "reproduce", original],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "SIGNALS": str(signals)},
    )
    _, err = proc.communicate(timeout=120)

    assert proc.returncode == 130, err
    assert signals.read_text() == "1"  # once: not again through lineage
    assert err.strip().splitlines()[-1].startswith("lineage: error: interrupted: the rerun")
    [rerun] = [
        e
        for e in json.loads(sh("lineage", "log", "--all", "--json", cwd=repo).stdout)
        if e["reproduces"] == original
    ]
    assert (rerun["status"], rerun["metric"]) == ("INTERRUPTED", None)
    assert _mlflow_status(repo, rerun["run"]) == "KILLED"
    shown = sh("lineage", "show", rerun["run"], cwd=repo).stdout
    assert f"{rerun['run']}  " in shown and "  KILLED  experiment slow" in shown
    assert "(in .; interrupted, exit 130, " in shown
    assert repo_state(repo) == before


# -- progress on a terminal ------------------------------------------------------------------


def test_on_a_terminal_fetching_shows_one_bar_then_one_line_and_json_shows_none(
    scenario: Scenario,
) -> None:
    scn = scenario
    env = {**scn.env, "LINEAGE_PROGRESS_DELAY": "0"}  # a bar even on work this short
    desc = "fetching from DVC remote storage"
    summary = "lineage: fetched 1 object(s) (1 file(s)) from DVC remote storage"

    scn.sh("dvc", "gc", "-w", "-f", "-q")  # churn/1's data is in the remote only
    shown = in_terminal(["lineage", "reproduce", "churn/1"], cwd=scn.repo, env=env)
    assert shown.code == 0, shown.raw
    drawn = shown.bars(desc)
    assert drawn and re.search(r" 1/1 \[[0-9:]+<[0-9:]+, +[0-9.e+]+ files/s\]$", drawn[-1])
    assert any(line.startswith("restoring inputs: ") for line in re.split(r"[\r\n]", shown.raw))
    assert [line for line in shown.screen if "lineage: fetch" in line] == [summary]  # erased
    assert "Checking cache" not in shown.raw and "\\r" not in shown.raw  # DVC's own bars

    scn.sh("dvc", "gc", "-w", "-f", "-q")
    as_json = in_terminal(["lineage", "reproduce", "churn/1", "--json"], cwd=scn.repo, env=env)
    assert as_json.code == 0, as_json.raw
    assert as_json.carriage_returns == 0 and summary in as_json.screen


# -- local state ------------------------------------------------------------------------------


def test_the_stat_cache_holds_what_the_repository_holds_however_many_reproductions(
    scenario: Scenario,
) -> None:
    scn = scenario
    db = scn.repo / ".git" / "lineage" / "statcache.sqlite"
    raw = scn.repo / "data" / "raw.csv"
    os.utime(raw, (1_700_000_000, 1_700_000_000))  # old enough to be remembered (not racy)
    with StatCache(db) as cache:
        cache.file_md5(scn.repo, "data/raw.csv")

    for args in (["churn/3"], ["churn/2"], ["churn/3", "--keep"], ["churn/3"]):
        code, out, err = reproduce_json(scn, *args)
        assert code == 0, err
        if out["worktree"]:  # kept, then removed by hand as the report says
            sh("git", "worktree", "remove", "--force", out["worktree"], cwd=scn.repo, env=scn.env)

    # Each worktree's input rows went with it, the kept one's too: the workspace's one file.
    with sqlite3.connect(db) as rows:
        assert [path for (path,) in rows.execute("SELECT path FROM md5")] == [str(raw)]
    with StatCache(db) as cache:
        cache.file_md5(scn.repo, "data/raw.csv")
        assert cache.hashed_files == 0  # still remembered: not read again
