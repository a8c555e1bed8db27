"""The CLI as a user meets it: errors, exit codes, cheap --help, generated reference."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from lineage import clidoc
from tests.conftest import sh
from tests.helpers import TRAIN, commit_all, lineage, lineage_json, write

HEAVY = ("mlflow", "dvc", "networkx")


def imported_modules(cwd: Path, *args: str) -> set[str]:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['lineage', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('lineage', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    return {m.split(".")[0] for m in proc.stderr.splitlines()}


def test_help_never_imports_heavy_modules(tmp_path: Path) -> None:
    mods = imported_modules(tmp_path, "--help")
    assert "click" in mods and not mods & set(HEAVY)


def test_cli_reference_is_generated_from_help() -> None:
    doc = Path(__file__).parent.parent / "docs" / "cli.md"
    assert doc.read_text() == clidoc.render(), "regenerate: python -m lineage.clidoc > docs/cli.md"


def test_outside_a_git_repository(tmp_path: Path) -> None:
    proc = lineage(tmp_path, "log", check=False)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"lineage: error: {tmp_path} is not inside a Git repository; run "
        "`git init` there first, or cd into your project\n"
    )


def test_init_is_idempotent_and_works_before_first_commit_and_without_dvc(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    first = lineage(tmp_path, "init").stdout
    assert first.startswith(f"Initialised lineage in {tmp_path} (wrote .lineage/config.toml")
    assert "no commits yet" in first and "no DVC project here" in first
    config = (tmp_path / ".lineage" / "config.toml").read_text()
    second = lineage(tmp_path, "init").stdout
    assert "already set up" in second
    assert (tmp_path / ".lineage" / "config.toml").read_text() == config
    assert sh("git", "status", "--porcelain", cwd=tmp_path).stdout == "?? .lineage/\n"


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


@pytest.fixture
def recorded(dvc_repo: Path, mlflow_uri: str) -> Path:
    write(dvc_repo, "train.py", TRAIN)
    lineage(dvc_repo, "init")
    commit_all(dvc_repo, "train")
    import os

    env = {**os.environ, "MODEL": "churn"}
    lineage(dvc_repo, "run", "--", "python", "train.py", "3", env=env)
    lineage(dvc_repo, "run", "--", "python", "train.py", "5", env=env)
    return dvc_repo


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("churn/7", "model 'churn' has no recorded version 7; recorded versions: 1, 2"),
        (
            "models:/churn",
            "malformed model URI 'models:/churn'; use models:/NAME/VERSION or models:/NAME@ALIAS",
        ),
        (
            "churn",
            "'churn' names a model; give a version or an alias: churn/1, churn/2 or churn@ALIAS",
        ),
        (
            "ffff0000",
            "nothing recorded matches 'ffff0000': no run, commit, data md5 or record starts "
            "with it; `lineage log` lists recorded runs",
        ),
        ("data/raw.csv@0000", None),
    ],
)
def test_bad_refs_get_one_line_errors(recorded: Path, ref: str, message: str | None) -> None:
    proc = lineage(recorded, "show", ref, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("lineage: error: ")
    if message:
        assert proc.stderr == f"lineage: error: {message}\n"
    else:
        assert proc.stderr.startswith(
            "lineage: error: data/raw.csv has no recorded version starting '0000'; "
            "recorded versions: "
        )


def test_unknown_alias_and_unknown_model_come_from_the_registry(recorded: Path) -> None:
    proc = lineage(recorded, "show", "churn@nope", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith(
        "lineage: error: model 'churn' has no alias 'nope'"
    )
    proc = lineage(recorded, "show", "chrun/1", check=False)
    assert proc.returncode == 1 and "no registered model named 'chrun'" in proc.stderr
    assert "churn" in proc.stderr


def test_show_of_commit_data_and_path_at_md5(recorded: Path) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=recorded).stdout.strip()
    commit = lineage_json(recorded, "show", head[:8])
    assert commit["node"]["kind"] == "commit" and commit["node"]["subject"] == "train"
    assert [n["rel"] for n in commit["neighbours"]] == ["code", "code"]
    md5 = lineage_json(recorded, "log")[0]
    data_md5 = lineage_json(recorded, "show", md5["run"])["record"]["inputs"][0]["md5"]
    by_md5 = lineage_json(recorded, "show", data_md5)
    by_path = lineage_json(recorded, "show", f"data/raw.csv@{data_md5[:6]}")
    assert by_md5["node"]["id"] == by_path["node"]["id"] == data_md5
    assert len(by_md5["neighbours"]) == 2
    text = lineage(recorded, "show", f"data/raw.csv@{data_md5[:6]}").stdout
    assert text.startswith(f"data {data_md5}   at data/raw.csv\n")


def test_log_text_lists_runs_newest_first(recorded: Path) -> None:
    lines = lineage(recorded, "log").stdout.splitlines()
    head = sh("git", "rev-parse", "HEAD", cwd=recorded).stdout.strip()
    runs = [e["run"] for e in lineage_json(recorded, "log")]
    assert len(lines) == 2
    for line, run, metric, model in zip(
        lines, runs, ("0.5123", "0.3123"), ("churn/2", "churn/1"), strict=True
    ):
        fields = line.split()
        assert fields[2:] == [run[:12], "FINISHED", head[:10], f"score={metric}", model]
    assert len(lineage(recorded, "log", "-n", "1").stdout.splitlines()) == 1


def test_a_run_id_as_log_prints_it_resolves_like_a_short_sha(recorded: Path) -> None:
    lineage(recorded, "run", "--", "true")
    [line] = lineage(recorded, "log", "-n", "1").stdout.splitlines()
    printed = line.split()[2]
    full = lineage_json(recorded, "log")[0]["run"]
    assert printed.startswith("local-") and full.startswith(printed) and printed != full
    assert lineage_json(recorded, "show", printed)["node"]["id"] == full
    assert lineage_json(recorded, "show", printed.upper())["node"]["id"] == full

    unknown = "local-0000" if not full.startswith("local-0000") else "local-ffff"
    proc = lineage(recorded, "show", unknown, check=False)
    assert proc.returncode == 1 and proc.stderr == (
        f"lineage: error: no recorded run starts with '{unknown}'; "
        "`lineage log` lists recorded runs\n"
    )


def test_json_is_one_line_in_a_pipe_and_indented_on_a_terminal(recorded: Path) -> None:
    piped = lineage(recorded, "log", "--json").stdout
    assert piped.count("\n") == 1 and len(json.loads(piped)) == 2

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            ["lineage", "log", "--json"], cwd=recorded, stdout=follower, stderr=subprocess.PIPE
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    assert proc.returncode == 0
    assert shown.startswith("[\n  {\n") and json.loads(shown) == json.loads(piped)


def test_index_deleted_and_rebuilt_gives_identical_answers(recorded: Path) -> None:
    run = lineage_json(recorded, "log")[0]["run"]
    before = [lineage(recorded, "show", ref, "--json").stdout for ref in (run, "churn/1")]
    log_before = lineage(recorded, "log", "--json").stdout
    (recorded / ".git" / "lineage" / "index.sqlite").unlink()
    after = [lineage(recorded, "show", ref, "--json").stdout for ref in (run, "churn/1")]
    assert after == before and lineage(recorded, "log", "--json").stdout == log_before


def test_corrupted_record_is_reported_and_skipped(recorded: Path) -> None:
    # Put a blob whose content does not hash to its name into the store, as a bad merge might.
    bad = "ab" + "0" * 62
    blob = sh(
        "git", "hash-object", "-w", "--stdin", cwd=recorded, input='{"schema":1}'
    ).stdout.strip()
    tip = sh("git", "rev-parse", "refs/lineage/records", cwd=recorded).stdout.strip()
    sh("git", "read-tree", "--index-output=.git/tmp-index", tip, cwd=recorded)
    env = {**__import__("os").environ, "GIT_INDEX_FILE": ".git/tmp-index"}
    sh(
        "git",
        "update-index",
        "--add",
        "--cacheinfo",
        f"100644,{blob},ab/{bad[2:]}.json",
        cwd=recorded,
        env=env,
    )
    tree = sh("git", "write-tree", cwd=recorded, env=env).stdout.strip()
    commit = sh("git", "commit-tree", tree, "-p", tip, "-m", "bad", cwd=recorded).stdout.strip()
    sh("git", "update-ref", "refs/lineage/records", commit, cwd=recorded)
    proc = lineage(recorded, "log")
    assert len(proc.stdout.splitlines()) == 2  # the good records still answer
    assert proc.stderr == (
        f"lineage: warning: record {bad[:12]} in refs/lineage/records is corrupted (its content "
        "does not match its name) and was skipped; fetch a good copy from a clone that has it\n"
    )


def test_log_and_show_of_run_commit_data_never_import_heavy_modules(recorded: Path) -> None:
    entry = lineage_json(recorded, "log")[0]
    record = lineage_json(recorded, "show", entry["run"])["record"]
    for args in (
        ["log"],
        ["show", entry["run"]],
        ["show", entry["commit"]],
        ["show", record["inputs"][0]["md5"]],
        ["show", "churn/2"],
    ):
        mods = imported_modules(recorded, *args)
        assert "lineage" in mods and not mods & set(HEAVY), (args, mods & set(HEAVY))


def test_json_output_is_valid_and_paths_are_repository_relative(recorded: Path) -> None:
    out = lineage(recorded, "-C", "data", "show", "churn/2", "--json").stdout
    doc = json.loads(out)
    assert doc["record"]["command"]["cwd"] == "."
    assert str(recorded) not in out


def test_run_path_imports_no_heavy_module_before_the_child_starts(tmp_path: Path) -> None:
    # Everything `lineage run` needs before spawning the child is imported with its module;
    # mlflow is imported in a thread only once the child is running.
    code = (
        "import sys, lineage.cli, lineage.commands.run, lineage.adapters.dvc\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'dvc', 'networkx'}))"
    )
    out = sh(sys.executable, "-c", code, cwd=tmp_path).stdout
    assert out == "[]\n"
