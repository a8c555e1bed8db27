"""The CLI as a user meets it: errors, exit codes, cheap --help, generated reference."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from lineage import clidoc
from tests.conftest import sh
from tests.helpers import lineage
from tests.scenarios import Recorded

# tqdm: only once a progress bar shows; wandb (and its protobuf, google): only to read W&B runs
HEAVY = ("mlflow", "dvc", "networkx", "tqdm", "wandb", "google")


def imported_modules(cwd: Path, *args: str, env: dict[str, str] | None = None) -> set[str]:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['lineage', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('lineage', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
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


def test_json_is_one_line_in_a_pipe_and_indented_on_a_terminal(recorded: Recorded) -> None:
    piped = recorded.lineage("log", "--json").stdout
    assert piped.count("\n") == 1 and len(json.loads(piped)) == 2

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            ["lineage", "log", "--json"],
            cwd=recorded.repo,
            env=recorded.env,
            stdout=follower,
            stderr=subprocess.PIPE,
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
    # Printed item by item as the runs are read, yet the text json.dumps gives the whole list.
    whole = json.dumps(json.loads(piped), indent=2, sort_keys=True, ensure_ascii=False)
    assert shown == whole + "\n"
    assert piped == json.dumps(json.loads(piped), sort_keys=True, ensure_ascii=False) + "\n"


def test_log_and_show_of_run_commit_data_never_import_heavy_modules(recorded: Recorded) -> None:
    entry = recorded.json("log")[0]
    record = recorded.json("show", entry["run"])["record"]
    for args in (
        ["log"],
        ["show", entry["run"]],
        ["show", entry["commit"]],
        ["show", record["inputs"][0]["md5"]],
        ["show", "churn/2"],
    ):
        mods = imported_modules(recorded.repo, *args, env=recorded.env)
        assert "lineage" in mods and not mods & set(HEAVY), (args, mods & set(HEAVY))


def test_run_path_imports_no_heavy_module_before_the_child_starts(tmp_path: Path) -> None:
    # Everything `lineage run` needs before spawning the child is imported with its module;
    # mlflow is imported in a thread only once the child is running.
    code = (
        "import sys, lineage.cli, lineage.commands.run, lineage.adapters.dvc\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'mlflow', 'dvc', 'networkx', 'wandb', 'google'}))"
    )
    out = sh(sys.executable, "-c", code, cwd=tmp_path).stdout
    assert out == "[]\n"


def test_help_and_version_into_a_closed_pipe_exit_141_and_say_nothing(tmp_path: Path) -> None:
    """`lineage --help | true`: the reader is gone before lineage writes (the pipe's read end is
    closed before the interpreter has started). --help and --version are printed while click
    parses, before any command runs; they end as a command's output does (tests/commands/
    test_log.py): 141, nothing on stderr."""
    for args in (["--help"], ["-V"], ["log", "--help"]):
        with subprocess.Popen(
            ["lineage", *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            errors = proc.stderr.read()
            assert proc.wait(timeout=60) == 141, args
        assert errors == b"", args
