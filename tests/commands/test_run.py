"""`lineage run`: real git, DVC and MLflow (SQLite) in child processes, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lineage.environment import ALLOWED_VARIABLES
from tests.conftest import sh
from tests.helpers import (
    GRID,
    NESTED,
    TRAIN,
    commit_all,
    lineage,
    lineage_json,
    repo_state,
    write,
)


@pytest.fixture
def project(dvc_repo: Path, mlflow_uri: str) -> Path:
    """dvc_repo + lineage init + a committed training script."""
    write(dvc_repo, "train.py", TRAIN)
    lineage(dvc_repo, "init")
    commit_all(dvc_repo, "Add training script and lineage config")
    return dvc_repo


def records(repo: Path) -> list[dict]:
    return [e for e in lineage_json(repo, "log")]


def show(repo: Path, ref: str) -> dict:
    return lineage_json(repo, "show", ref)


def test_clean_run_records_commit_data_params_metrics_and_environment(project: Path) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    raw_md5 = sh("git", "show", "HEAD:data/raw.csv.dvc", cwd=project).stdout.split("md5: ")[1][:32]

    proc = lineage(project, "run", "--", "python", "train.py", "4")

    assert "trained 4" in proc.stdout  # the child's stdout passes through
    assert "lineage: recorded 1 run(s)" in proc.stderr
    [entry] = records(project)
    assert entry["commit"] == head and entry["dirty"] is False and entry["snapshot"] is None
    assert entry["status"] == "FINISHED"
    assert entry["metric"] == {"name": "score", "value": 0.4123456789}
    record = show(project, entry["run"])["record"]
    assert record["evidence"] == "observed" and record["schema"] == 1
    assert record["code"]["commit"] == head and record["code"]["branch"] == "main"
    assert record["run"]["params"] == {"depth": "4"}
    assert record["run"]["experiment_name"] == "exp"
    assert record["inputs"] == [
        {
            "path": "data/raw.csv",
            "md5": raw_md5,
            "size": 24,
            "nfiles": None,
            "pointer": "data/raw.csv.dvc",
            "stage": None,
            "state": "match",
            "pointer_md5": None,
        }
    ]
    assert record["command"]["argv"] == ["python", "train.py", "4"]
    assert record["command"]["cwd"] == "." and record["command"]["exit_code"] == 0
    env = record["environment"]
    assert env["source"] == "child" and env["python"].count(".") == 2
    assert env["packages_hash"].startswith("sha256:")
    assert set(env["variables"]) <= set(ALLOWED_VARIABLES)
    assert env["variables"]["MLFLOW_TRACKING_URI"] == os.environ["MLFLOW_TRACKING_URI"]
    # The package list is its own content-addressed record, shared by every run that used it.
    shown = show(project, entry["run"])
    packages = shown["environment"]["packages"]
    assert "mlflow" in packages and env["npackages"] == len(packages)
    assert shown["environment"]["packages_hash"] == env["packages_hash"]
    stored = sh(
        "git",
        "show",
        f"refs/lineage/records:{env['packages_record'][:2]}/{env['packages_record'][2:]}.json",
        cwd=project,
    ).stdout
    assert json.loads(stored) == shown["environment"]
    assert record["created"]["name"] == "Ada Lovelace"
    assert record["created"]["tool"].startswith("lineage ")


def test_run_tags_mlflow_run_with_lineage_facts(project: Path, mlflow_uri: str) -> None:
    lineage(project, "run", "--", "python", "train.py")
    [entry] = records(project)
    out = sh(
        "python",
        "-c",
        f"import mlflow, json; r = mlflow.MlflowClient().get_run({entry['run']!r});"
        "print(json.dumps({k: v for k, v in r.data.tags.items() if k.startswith('lineage.')}))",
        cwd=project,
    ).stdout
    tags = json.loads(out.strip().splitlines()[-1])
    assert tags["lineage.record"] == entry["record_id"]
    assert tags["lineage.commit"] == entry["commit"]
    assert tags["lineage.dirty"] == "false"
    assert json.loads(tags["lineage.data"]) == {
        "data/raw.csv": show(project, entry["run"])["record"]["inputs"][0]["md5"]
    }
    assert "lineage.session" in tags


def test_dirty_run_snapshots_exact_tree_without_touching_index_or_tree(project: Path) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    edited = TRAIN.replace("depth / 10", "depth / 100")
    write(project, "train.py", edited)
    write(project, "helper.py", "X = 1\n")  # untracked, in a directory with tracked files
    write(project, "scratch/notes.txt", "not code\n")  # untracked directory: not in snapshot
    sh("git", "add", "helper.py", cwd=project)
    before = repo_state(project)

    lineage(project, "run", "--", "python", "train.py")

    assert repo_state(project) == before
    [entry] = records(project)
    record = show(project, entry["run"])["record"]
    code = record["code"]
    assert code["commit"] == head and code["dirty"] is True
    snap = code["snapshot"]
    assert sh("git", "show", f"{snap}:train.py", cwd=project).stdout == edited
    assert sh("git", "show", f"{snap}:helper.py", cwd=project).stdout == "X = 1\n"
    assert sh("git", "rev-parse", f"{snap}^", cwd=project).stdout.strip() == head
    assert (
        sh(
            "git", "cat-file", "-e", f"{snap}:scratch/notes.txt", cwd=project, check=False
        ).returncode
        != 0
    )
    assert code["changed"] == ["helper.py", "train.py"]
    # The snapshot survives gc: it is reachable from lineage's ref.
    sh("git", "reflog", "expire", "--expire=now", "--all", cwd=project)
    sh("git", "gc", "-q", "--prune=now", cwd=project)
    assert sh("git", "cat-file", "-t", snap, cwd=project).stdout.strip() == "commit"
    assert entry["dirty"] is True and entry["snapshot"] == snap


def test_modified_data_not_yet_dvc_added_records_actual_hash_flagged(project: Path) -> None:
    pointer_md5 = sh("git", "show", "HEAD:data/raw.csv.dvc", cwd=project).stdout.split("md5: ")[1][
        :32
    ]
    (project / "data" / "raw.csv").write_text("id,value\n1,11\n")
    proc = lineage(project, "run", "--", "python", "train.py")
    assert "data/raw.csv is modified compared with data/raw.csv.dvc" in proc.stderr
    [entry] = records(project)
    [data] = show(project, entry["run"])["record"]["inputs"]
    sh("dvc", "add", "-q", "data/raw.csv", cwd=project)
    dvc_md5 = (project / "data" / "raw.csv.dvc").read_text().split("md5: ")[1][:32]
    assert data["state"] == "modified"
    assert data["md5"] == dvc_md5 != pointer_md5
    assert data["pointer_md5"] == pointer_md5


def test_two_runs_register_two_model_versions(project: Path) -> None:
    env = {**os.environ, "MODEL": "churn"}
    lineage(project, "run", "--", "python", "train.py", "3", env=env)
    lineage(project, "run", "--", "python", "train.py", "5", env=env)
    log = records(project)
    assert [e["models"] for e in log] == [["churn/2"], ["churn/1"]]
    v1 = show(project, "churn/1")
    v2 = show(project, "models:/churn/2")
    assert v1["node"] == {"kind": "model", "id": "churn/1"}
    assert v1["record"]["run"]["params"] == {"depth": "3"}
    assert v2["record"]["run"]["params"] == {"depth": "5"}
    assert v2["neighbours"] == [
        {
            "direction": "upstream",
            "rel": "produced",
            "kind": "run",
            "id": log[0]["run"],
            "path": None,
            "evidence": "observed",
            "record_id": log[0]["record_id"],
        }
    ]


def test_alias_is_resolved_live_from_the_registry(project: Path) -> None:
    env = {**os.environ, "MODEL": "churn"}
    lineage(project, "run", "--", "python", "train.py", "3", env=env)
    lineage(project, "run", "--", "python", "train.py", "5", env=env)
    set_alias = (
        "import mlflow; mlflow.MlflowClient().set_registered_model_alias('churn', 'champion', '%s')"
    )
    sh("python", "-c", set_alias % "1", cwd=project)
    assert show(project, "churn@champion")["node"]["id"] == "churn/1"
    sh("python", "-c", set_alias % "2", cwd=project)
    shown = show(project, "models:/churn@champion")
    assert shown["node"] == {
        "kind": "model",
        "id": "churn/2",
        "aliases": {"champion": 2},
        "resolved_from": "churn@champion",
    }
    text = lineage(project, "show", "churn@champion").stdout
    assert text.startswith("model churn/2   (churn@champion)\n")
    assert "params    depth=5" in text and "metrics   score=0.5123456789" in text


def test_grid_search_records_one_record_per_run(project: Path) -> None:
    write(project, "grid.py", GRID)
    commit_all(project, "grid")
    proc = lineage(project, "run", "--", "python", "grid.py")
    assert "recorded 6 run(s)" in proc.stderr
    log = records(project)
    assert len(log) == 6 and len({e["run"] for e in log}) == 6
    params = sorted(
        (
            show(project, e["run"])["record"]["run"]["params"]["depth"],
            show(project, e["run"])["record"]["run"]["params"]["n"],
        )
        for e in log
    )
    assert params == [(d, n) for d in ("2", "4", "6") for n in ("10", "20")]


def test_nested_runs_are_recorded_with_their_parent(project: Path) -> None:
    write(project, "nested.py", NESTED)
    commit_all(project, "nested")
    lineage(project, "run", "--", "python", "nested.py")
    log = records(project)
    runs = {e["run"]: show(project, e["run"])["record"]["run"] for e in log}
    [parent] = [r for r in runs.values() if r["name"] == "parent"]
    children = [r for r in runs.values() if r["parent_run_id"] == parent["run_id"]]
    assert sorted(r["name"] for r in children) == ["fold-0", "fold-1"]
    neighbours = show(project, parent["run_id"])["neighbours"]
    assert sorted(n["id"] for n in neighbours if n["rel"] == "parent") == sorted(
        r["run_id"] for r in children
    )


def test_command_without_mlflow_run_is_still_recorded(project: Path) -> None:
    proc = lineage(project, "run", "--", "python", "-c", "print('no mlflow here')")
    assert "no mlflow here" in proc.stdout
    [entry] = records(project)
    assert entry["run"].startswith("local-") and entry["status"] == "SUCCEEDED"
    record = show(project, entry["run"])["record"]
    assert record["run"] is None and record["command"]["argv"][:2] == ["python", "-c"]


def test_a_command_that_never_reaches_mlflow_does_not_import_it(project: Path) -> None:
    # `import mlflow` costs a second of CPU; `lineage run` starts it only once the child has
    # reached MLflow (the plugin's marker) or run for a while. The while is set to an hour here
    # (with the default half second, this one-second child would have it imported).
    script = (
        "import sys\n"
        "from lineage.session import MlflowPreloader\n"
        "MlflowPreloader.GRACE_S = 3600.0\n"
        "from lineage.cli import main\n"
        "sys.argv = ['lineage', 'run', '--', 'sleep', '1']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "print('exit', code, 'mlflow imported', 'mlflow' in sys.modules)\n"
    )
    proc = sh("python", "-c", script, cwd=project)
    assert proc.stdout.splitlines()[-1] == "exit 0 mlflow imported False"
    [entry] = records(project)
    assert entry["status"] == "SUCCEEDED"


def test_the_command_starts_before_lineage_loads_pygit2(project: Path) -> None:
    # pygit2 costs ~40 ms to import; before the command only git's CLI is asked (the records
    # ref is checked with `git cat-file -t`), and pygit2 comes after, to append the record.
    # The child reads its parent's memory map, where pygit2's extension would be loaded.
    probe = (
        "import os\n"
        "maps = open(f'/proc/{os.getppid()}/maps').read()\n"
        "print('pygit2 loaded' if '_pygit2' in maps else 'pygit2 not loaded')\n"
    )
    lineage(project, "run", "--", "python", "-c", "pass")  # the ref now has a tip to check
    proc = lineage(project, "run", "--", "python", "-c", probe)
    assert proc.stdout.strip() == "pygit2 not loaded"
    assert [e["status"] for e in records(project)] == ["SUCCEEDED", "SUCCEEDED"]


def test_failed_child_exit_code_passes_through_and_is_recorded(project: Path) -> None:
    proc = lineage(project, "run", "--", "python", "-c", "import sys; sys.exit(7)", check=False)
    assert proc.returncode == 7
    [entry] = records(project)
    assert entry["status"] == "FAILED"
    assert show(project, entry["run"])["record"]["command"]["exit_code"] == 7


def test_killed_child_is_recorded_as_killed(project: Path, tmp_path: Path) -> None:
    started = tmp_path / "child-started"
    child = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(60)"
    proc = subprocess.Popen(
        ["lineage", "run", "--", "python", "-c", child],
        cwd=project,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # sent to lineage only; it forwards it to the child
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    [entry] = records(project)
    assert entry["status"] == "KILLED"


def test_command_not_found_is_one_line_and_records_nothing(project: Path) -> None:
    before = repo_state(project)
    proc = lineage(project, "run", "--", "no-such-trainer", "--fast", check=False)
    assert proc.returncode == 127
    assert proc.stderr == (
        "lineage: error: command 'no-such-trainer' was not found; check its spelling and your "
        "PATH (nothing was run or recorded)\n"
    )
    assert records(project) == [] and repo_state(project) == before


def test_unreachable_tracking_server_stops_before_running(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    env = {**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9/"}
    proc = lineage(project, "run", "--", "touch", str(marker), check=False, env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "lineage: error: the MLflow tracking store http://127.0.0.1:9/ cannot be reached"
    )
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert not marker.exists()
    assert records(project) == []


def test_credentials_in_argv_and_environment_never_reach_records_or_index(
    project: Path,
    tmp_path: Path,
) -> None:
    # User info in MLFLOW_TRACKING_URI needs a server: tests/adapters/test_mlflow_server.py
    # covers it.
    # Here: the command line and the environment, where secrets leak most often.
    env = {
        **os.environ,
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-aws",
        "MLFLOW_TRACKING_PASSWORD": "s3cr3t-pw",
    }
    lineage(
        project,
        "run",
        "--",
        "python",
        "train.py",
        "2",
        "--data=https://alice:s3cr3t-url@example.com/x.csv",
        check=False,
        env=env,
    )
    assert_secret_free(project, ("s3cr3t",))


def assert_secret_free(repo: Path, secrets: tuple[str, ...]) -> None:
    """No secret in any record blob, the index, or lineage's own files."""
    blobs = sh("git", "log", "-p", "--format=%B", "refs/lineage/records", cwd=repo).stdout
    objects = sh("git", "ls-tree", "-r", "refs/lineage/records", cwd=repo).stdout.split()
    contents = blobs + "".join(
        sh("git", "cat-file", "-p", o, cwd=repo).stdout for o in objects if len(o) == 40
    )
    index = (repo / ".git" / "lineage" / "index.sqlite").read_bytes().decode("latin-1")
    assert contents.count('"argv"') >= 1
    for secret in secrets:
        assert secret not in contents
        assert secret not in index


def test_concurrent_runs_all_land(project: Path) -> None:
    procs = [
        subprocess.Popen(
            ["lineage", "run", "--", "python", "-c", f"print({n})"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    log = records(project)
    assert len(log) == 8
    argvs = sorted(show(project, e["run"])["record"]["command"]["argv"][2] for e in log)
    assert argvs == [f"print({n})" for n in range(8)]
    assert sh("git", "fsck", "--no-dangling", cwd=project).returncode == 0


def test_run_before_init_says_what_to_do(dvc_repo: Path) -> None:
    proc = lineage(dvc_repo, "run", "--", "true", check=False)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"lineage: error: lineage is not set up in {dvc_repo}; run `lineage init` first\n"
    )


def test_run_without_command_is_a_usage_error(project: Path) -> None:
    proc = lineage(project, "run", check=False)
    assert proc.returncode == 2 and "Missing argument" in proc.stderr


def test_dvc_pipeline_inputs_come_from_the_lock_it_leaves(project: Path) -> None:
    write(
        project,
        "prepare.py",
        (
            "import pathlib\nrows = pathlib.Path('data/raw.csv').read_text().splitlines()\n"
            "pathlib.Path('data/prepared').mkdir(exist_ok=True)\n"
            "pathlib.Path('data/prepared/train.csv').write_text('\\n'.join(rows[:3]))\n"
            "pathlib.Path('data/prepared/test.csv').write_text('\\n'.join(rows[:1] + rows[3:]))\n"
        ),
    )
    write(
        project,
        "dvc.yaml",
        (
            "stages:\n"
            "  prepare:\n    cmd: python prepare.py\n    deps: [prepare.py, data/raw.csv]\n"
            "    outs: [data/prepared]\n"
            "  train:\n    cmd: python train.py 6\n    deps: [train.py, data/prepared]\n"
            "    outs: [model.txt]\n"
        ),
    )
    write(project, "train.py", TRAIN + "open('model.txt', 'w').write('m')\n")
    commit_all(project, "pipeline")
    lineage(project, "run", "--", "dvc", "repro", "-q")
    [entry] = records(project)
    record = show(project, entry["run"])["record"]
    lock = (project / "dvc.lock").read_text()
    assert [s["name"] for s in record["stages"]] == ["prepare", "train"]
    assert [(d["path"], d["stage"]) for d in record["inputs"]] == [("data/raw.csv", "prepare")]
    outputs = {d["path"]: d["md5"] for d in record["outputs"]}
    assert set(outputs) == {"data/prepared", "model.txt"}
    assert outputs["data/prepared"].endswith(".dir") and outputs["data/prepared"] in lock
    # The intermediate output is a data node between the two stages.
    data = show(project, outputs["data/prepared"])
    assert [(n["rel"], n["direction"]) for n in data["neighbours"]] == [("output", "upstream")]


def test_plain_command_in_a_pipeline_repo_reads_raw_and_prepared_data_only(project: Path) -> None:
    write(
        project,
        "dvc.yaml",
        (
            "stages:\n"
            "  prepare:\n"
            "    cmd: mkdir -p data/prepared && cp data/raw.csv data/prepared/train.csv\n"
            "    deps: [data/raw.csv]\n    outs: [data/prepared]\n"
            "  train:\n    cmd: cp data/prepared/train.csv model.txt\n"
            "    deps: [data/prepared]\n    outs: [model.txt]\n"
        ),
    )
    commit_all(project, "pipeline")
    sh("dvc", "repro", "-q", cwd=project)
    commit_all(project, "ran pipeline")
    lineage(project, "run", "--", "python", "train.py")
    [entry] = records(project)
    record = show(project, entry["run"])["record"]
    assert [(d["path"], d["state"]) for d in record["inputs"]] == [
        ("data/raw.csv", "match"),
        ("data/prepared", "match"),
    ]
    assert record["outputs"] == [] and record["stages"] == []


def test_run_before_first_commit_and_without_dvc(tmp_path: Path, mlflow_uri: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    write(repo, "train.py", TRAIN)
    lineage(repo, "init")
    lineage(repo, "run", "--", "python", "train.py")
    [entry] = lineage_json(repo, "log")
    record = lineage_json(repo, "show", entry["run"])["record"]
    assert record["code"]["commit"] is None and record["inputs"] == []
    snap = record["code"]["snapshot"]
    assert sh("git", "show", f"{snap}:train.py", cwd=repo).stdout == TRAIN
    assert record["code"]["changed"] == [".lineage/config.toml", "train.py"]
    assert sh("git", "status", "--porcelain", cwd=repo).stdout.splitlines() == [
        "?? .lineage/",
        "?? train.py",
    ]  # untouched: still nothing staged or committed
