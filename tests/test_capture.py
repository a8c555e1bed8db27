"""lineage/capture.py: what `lineage run` finds before the command runs. Here: the stores that
MLflow (its default `./mlflow.db` and `./mlruns`) and W&B (`wandb/`) write into the project are
never code, so they neither make a run dirty nor enter its snapshot, and `lineage audit` does not
fail the model for them. Real git, real MLflow in the child, with MLFLOW_TRACKING_URI unset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.conftest import sh
from tests.helpers import commit_all, lineage, lineage_json, write

# Logs to MLflow's default stores: ./mlflow.db (no MLFLOW_TRACKING_URI) and, for the artifact,
# ./mlruns; then leaves W&B's offline layout (`wandb` itself is not installed here); registers
# `churn` when MODEL is set.
TRAIN = """\
import os, sys, mlflow
mlflow.set_experiment("stores")
with mlflow.start_run() as run:
    mlflow.log_param("depth", sys.argv[1])
    mlflow.log_metric("score", int(sys.argv[1]) / 10)
    mlflow.log_text("weights", "model.txt")
    if os.environ.get("MODEL"):
        client = mlflow.MlflowClient()
        try:
            client.create_registered_model("churn")
        except Exception:
            pass
        client.create_model_version("churn", source=f"runs:/{run.info.run_id}/model.txt",
                                    run_id=run.info.run_id)
os.makedirs("wandb/offline-run-20260101_000000-abc/files", exist_ok=True)
open("wandb/offline-run-20260101_000000-abc/files/output.log", "a").write("trained\\n")
open("wandb/debug.log", "a").write("run\\n")
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with nothing gitignored, lineage set up, MLflow left to its own default."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # MLflow's default: ./mlflow.db where it runs
    repo = tmp_path / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    write(repo, "train.py", TRAIN)
    write(repo, "src/train.py", TRAIN)  # the same script, run from a subdirectory
    write(repo, "src/wandb/settings", "[default]\n")  # W&B's settings file, committed
    lineage(repo, "init", "--no-gitignore")
    commit_all(repo, "Training scripts")
    return repo


def lineage_lines(stderr: str) -> list[str]:
    """lineage's own lines on stderr (MLflow logs there too)."""
    return [line for line in stderr.splitlines() if line.startswith("lineage:")]


def untracked(repo: Path) -> list[str]:
    out = sh("git", "status", "--porcelain", "--untracked-files=all", cwd=repo).stdout
    return sorted(line[3:] for line in out.splitlines() if line.startswith("?? "))


def test_the_second_run_is_clean_though_mlflow_wrote_its_store_in_the_repo(
    project: Path,
) -> None:
    lineage(project, "run", "--", "python", "train.py", "3")
    stores = untracked(project)
    assert "mlflow.db" in stores and any(p.startswith("mlruns/") for p in stores)
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()

    second = lineage(project, "run", "--", "python", "train.py", "4")

    [entry, _] = lineage_json(project, "log")
    assert lineage_lines(second.stderr) == [
        f"lineage: recorded 1 run(s) [{entry['run'][:12]}] at {head[:10]}"
    ]
    assert (entry["commit"], entry["dirty"], entry["snapshot"]) == (head, False, None)
    code = lineage_json(project, "show", entry["run"])["record"]["code"]
    assert code["changed"] == [] and code["snapshot"] is None


def test_a_code_change_gets_a_snapshot_without_the_stores(project: Path) -> None:
    src = project / "src"
    lineage(src, "run", "--", "python", "train.py", "3")  # stores land in src/, beside code
    edited = TRAIN.replace("int(sys.argv[1]) / 10", "int(sys.argv[1]) / 100")
    write(project, "src/train.py", edited)
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()

    proc = lineage(src, "run", "--", "python", "train.py", "4")

    entry = lineage_json(project, "log")[0]
    snapshot = entry["snapshot"]
    assert lineage_lines(proc.stderr)[0] == (
        f"lineage: working tree is dirty (1 paths); recorded snapshot {snapshot[:10]} of the "
        "exact tree"
    )
    changed = sh("git", "diff-tree", "-r", "--name-only", head, snapshot, cwd=project).stdout
    assert changed == "src/train.py\n"
    files = sh("git", "ls-tree", "-r", "--name-only", snapshot, cwd=project).stdout.split()
    assert files == [".lineage/config.toml", "src/train.py", "src/wandb/settings", "train.py"]
    assert sh("git", "show", f"{snapshot}:src/train.py", cwd=project).stdout == edited
    assert lineage_json(project, "show", entry["run"])["record"]["code"]["changed"] == [
        "src/train.py"
    ]
    assert (src / "mlflow.db").is_file() and (src / "wandb" / "debug.log").is_file()


def test_a_committed_store_that_changed_is_left_out_and_named(project: Path) -> None:
    lineage(project, "run", "--", "python", "train.py", "3")
    commit_all(project, "Commit the stores too (odd, but the user's choice)")
    committed = sh("git", "rev-parse", "HEAD:mlflow.db", cwd=project).stdout
    lineage(project, "run", "--", "python", "train.py", "4")  # changes the committed stores

    proc = lineage(project, "run", "--", "python", "train.py", "5")

    entry = lineage_json(project, "log")[0]
    assert (entry["dirty"], entry["snapshot"]) == (False, None)
    assert lineage_lines(proc.stderr)[0] == (
        "lineage: left out of the code: mlflow.db, wandb/debug.log, "
        "wandb/offline-run-20260101_000000-abc/files/output.log (tracked in Git, but a tool's "
        "store, not code); `git rm --cached` them and run `lineage init --gitignore` to stop "
        "tracking them"
    )
    write(project, "train.py", TRAIN + "# tuned\n")
    lineage(project, "run", "--", "python", "train.py", "6")
    snapshot = lineage_json(project, "log")[0]["snapshot"]
    assert sh("git", "rev-parse", f"{snapshot}:mlflow.db", cwd=project).stdout == committed


def test_audit_does_not_fail_the_model_for_a_dirty_tree(project: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", origin, cwd=tmp_path)
    sh("git", "remote", "add", "origin", origin, cwd=project)
    sh("git", "push", "-q", "origin", "main", cwd=project)
    for depth in ("3", "4"):
        lineage(
            project, "run", "--", "python", "train.py", depth, env={**os.environ, "MODEL": "churn"}
        )
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()

    proc = lineage(project, "audit", "churn/2", "--json", check=False)

    [version] = json.loads(proc.stdout)["versions"]
    checks = {c["name"]: c for c in version["checks"]}
    assert checks["code"] == {
        "name": "code",
        "result": "pass",
        "reason": f"clean commit {head[:10]} on main and origin",
    }
    assert version["result"] != "fail" and proc.returncode == 0


def test_a_stage_script_run_by_hand_reads_its_stage_deps_only(tmp_path: Path) -> None:
    # iterative/example-get-started's layout: `python src/train.py` is the train stage's own
    # command, so the run read that stage's deps (the train features) and the data its chain
    # starts from, not the test features, the prepared splits or the model.
    from tests.layouts import get_started

    project = get_started.build(tmp_path)
    project.sh("dvc", "repro", "-q")
    project.commit("Run the pipeline")
    assert json.loads(project.sh("dvc", "status", "--json").stdout) == {}  # as dvc.lock says

    project.lineage("run", "--", "python", "src/train.py")
    record = project.record(project.newest_run())
    lock_text = (project.repo / "dvc.lock").read_text()
    outs = yaml.safe_load(lock_text)["stages"]["featurize@train"]["outs"]
    features = next(o["md5"] for o in outs if o["path"] == "data/features/train.tsv")
    raw = yaml.safe_load((project.repo / "data/data.tsv.dvc").read_text())["outs"][0]["md5"]
    assert [(d["path"], d["md5"]) for d in record["inputs"]] == [
        ("data/data.tsv", raw),  # where its chain starts: prepare -> featurize -> train
        ("data/features/train.tsv", features),
    ]

    project.lineage("run", "--", "python", "-c", "print('not a stage')")
    other = project.record(project.newest_run())
    assert "data/features/test.tsv" in [d["path"] for d in other["inputs"]]
