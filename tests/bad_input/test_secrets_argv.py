"""Secrets in a command line: never stored, shown or pushed; a rerun asks for them.

`lineage run -- python train.py --token s3cr3t ...` must leave the secret nowhere lineage
writes (records, the index, commit messages of the lineage ref, owner files, a remote after
`git push`) or prints (`show`, `log`, `diff`, `reproduce --json`, report files). `reproduce`
takes a hidden value from the environment variable named after it, or refuses before running
anything.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.bad_input.harness import assert_no_traceback, refused, run_cli
from tests.conftest import sh

TOKEN = "s3cr3t-XYZ-token"
API_KEY = "sk-live-APIKEY-0042"
URL_PASSWORD = "hunter2-url-pw"
SECRETS = (TOKEN, API_KEY, URL_PASSWORD)

# Writes what it was given (argv and the hidden variables) where SEEN names, then, if asked,
# the owner file lineage keeps while it runs (to prove that holds no secret either).
TRAIN = """\
import json, os, pathlib, signal, sys
seen = os.environ.get("SEEN")
if seen:
    pathlib.Path(seen).write_text(json.dumps(sys.argv))
owner = os.environ.get("OWNER_COPY")
if owner:
    session = pathlib.Path(os.environ["LINEAGE_SESSION_DIR"])
    pathlib.Path(owner).write_text((session / "owner.json").read_text())
if os.environ.get("KILL_LINEAGE"):  # as the OOM killer would: lineage records nothing
    os.kill(os.getppid(), signal.SIGKILL)
"""


def _env(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


def _ok(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run_cli(repo, *args, env=env)
    assert_no_traceback(result)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with lineage initialised and train.py committed; no runs yet."""
    repo = tmp_path / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    (repo / "train.py").write_text(TRAIN)
    (repo / ".gitignore").write_text("mlflow.db\nmlruns/\n")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "train", cwd=repo)
    _ok(repo, "init", "--no-gitignore")
    return repo


def _record_secret_run(repo: Path) -> str:
    """`lineage run` with a token option, an API_KEY word and a URL with a password."""
    return _ok(
        repo,
        "run",
        "--",
        "python",
        "train.py",
        "--token",
        TOKEN,
        f"API_KEY={API_KEY}",
        "--src",
        f"https://ada:{URL_PASSWORD}@data.example.com/train.csv",
        "--max-tokens",
        "512",
    )


def _record_rerunnable_run(repo: Path) -> None:
    """A run whose hidden values can all be given back: a token option and an env word."""
    _ok(repo, "run", "--", "env", f"API_KEY={API_KEY}", "python", "train.py", "--token", TOKEN)


def _json(repo: Path, *args: str, env: dict[str, str] | None = None) -> object:
    result = run_cli(repo, *args, env=env)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stderr}"
    _assert_no_secret(result.stdout + result.stderr, f"lineage {' '.join(args)}")
    return json.loads(result.stdout)


def _assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} found in {where}:\n{text}"


def _run_key(repo: Path) -> str:
    entries = _json(repo, "log", "--json")
    assert isinstance(entries, list)
    return str(entries[0]["run"])


def test_a_pushed_remote_holds_no_secret_of_the_command_line(repo: Path, tmp_path: Path) -> None:
    said = _record_secret_run(repo)
    bare = tmp_path / "remote.git"
    sh("git", "init", "-q", "--bare", bare, cwd=tmp_path)
    sh("git", "remote", "add", "origin", bare, cwd=repo)
    _ok(repo, "hooks", "install")

    sh("git", "push", "-q", "origin", "main", cwd=repo)  # the pre-push hook pushes the records
    _ok(repo, "push")

    assert sh("git", "rev-parse", "refs/lineage/records", cwd=bare).stdout.strip()
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=bare,
        capture_output=True,
        check=True,
    ).stdout
    assert b"<redacted>" in objects  # the records are there, with the placeholder
    for secret in SECRETS:
        assert secret.encode() not in objects, f"{secret!r} was pushed"
    _assert_no_secret(said, "`lineage run` output")


def test_show_prints_the_command_without_secrets_and_says_how_a_rerun_gets_them(
    repo: Path,
) -> None:
    _record_secret_run(repo)

    shown = _ok(repo, "show", _run_key(repo))

    _assert_no_secret(shown, "show")
    assert "--token <redacted> API_KEY=<redacted> --src https://data.example.com/train.csv" in (
        shown
    )
    assert "--max-tokens 512" in shown  # an honest option is kept as it was
    assert (
        "hidden    --token (a rerun reads $TOKEN), API_KEY (a rerun reads $API_KEY), "
        "credentials of https://data.example.com/train.csv (not kept)" in shown
    )


def test_show_json_holds_the_redacted_command_and_what_it_hid(repo: Path) -> None:
    _record_secret_run(repo)

    out = _ok(repo, "show", _run_key(repo), "--json")

    _assert_no_secret(out, "show --json")
    command = json.loads(out)["record"]["command"]
    assert command["redacted"] == [
        {"at": 3, "name": "--token", "variable": "TOKEN"},
        {"at": 4, "name": "API_KEY", "variable": "API_KEY"},
        {"at": 6, "name": "https://data.example.com/train.csv", "variable": None},
    ]


def test_log_and_diff_show_no_secret(repo: Path) -> None:
    _record_secret_run(repo)
    _ok(repo, "run", "--", "python", "train.py", "--password=other-pw-77")
    logged = _ok(repo, "log", "--json")
    first, second = (entry["run"] for entry in json.loads(logged))

    out = logged + _ok(repo, "log") + _ok(repo, "diff", first, second)

    _assert_no_secret(out, "log/diff")
    assert "other-pw-77" not in out
    assert "--password=<redacted>" in out


def test_commit_messages_of_the_lineage_ref_carry_only_the_program_and_record_ids(
    repo: Path,
) -> None:
    _record_secret_run(repo)
    record_id = json.loads(_ok(repo, "show", _run_key(repo), "--json"))["record_id"]

    messages = sh("git", "log", "-1", "--format=%B", "refs/lineage/records", cwd=repo).stdout

    assert messages.strip() == f"lineage: record 1 run(s) of `python`: {record_id[:12]}"


def test_the_owner_file_of_a_running_command_holds_no_secret(repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "owner.json"

    _ok(repo, "run", "--", "python", "train.py", "--token", TOKEN, env=_env(OWNER_COPY=str(copy)))

    owner = json.loads(copy.read_text())
    assert owner["argv"] == ["python", "train.py", "--token", "<redacted>"]
    assert owner["redacted"] == [{"at": 3, "name": "--token", "variable": "TOKEN"}]


def test_a_run_lost_when_lineage_was_killed_is_recorded_without_its_secret(repo: Path) -> None:
    run_cli(repo, "run", "--", "python", "train.py", "--token", TOKEN, env=_env(KILL_LINEAGE="1"))

    said = _ok(repo, "log")  # notices the killed process and records its run as lost
    record = _json(repo, "show", _run_key(repo), "--json")

    assert isinstance(record, dict)
    assert "LOST" in said
    assert record["record"]["command"]["status"] == "lost"
    assert record["record"]["command"]["argv"] == ["python", "train.py", "--token", "<redacted>"]
    assert record["record"]["command"]["redacted"] == [
        {"at": 3, "name": "--token", "variable": "TOKEN"}
    ]


def test_reproduce_without_the_hidden_value_refuses_before_running_anything(
    repo: Path, tmp_path: Path
) -> None:
    _record_rerunnable_run(repo)
    seen = tmp_path / "seen.json"

    result = refused(
        repo,
        "reproduce",
        _run_key(repo),
        "--allow-unverified",
        code=1,
        says="the record hides the value of API_KEY (set API_KEY), the value of --token (set "
        "TOKEN), since it looked like a secret; set those variables in the environment",
        env=_env(SEEN=str(seen), TOKEN=""),
    )

    assert not seen.exists()  # the command never ran
    assert "nothing was run" in result.stderr
    assert not list((repo / ".git" / "lineage").glob("worktrees/*"))


def test_reproduce_of_a_url_whose_credentials_were_dropped_asks_for_the_whole_command(
    repo: Path, tmp_path: Path
) -> None:
    _record_secret_run(repo)
    seen = tmp_path / "seen.json"

    refused(
        repo,
        "reproduce",
        _run_key(repo),
        code=1,
        says="the record hides the credentials of https://data.example.com/train.csv (it looked "
        "like a secret) and a rerun "
        "cannot get it back; give the whole command with --command",
        env=_env(SEEN=str(seen), TOKEN=TOKEN, API_KEY=API_KEY),
    )

    assert not seen.exists()


def test_reproduce_reads_each_hidden_value_from_its_environment_variable(
    repo: Path, tmp_path: Path
) -> None:
    _record_rerunnable_run(repo)
    seen = tmp_path / "seen.json"
    report = tmp_path / "report.md"

    out = _ok(
        repo,
        "reproduce",
        _run_key(repo),
        "--allow-unverified",
        "--report",
        str(report),
        env=_env(SEEN=str(seen), TOKEN="rerun-token-1", API_KEY="rerun-key-2"),
    )

    # The rerun got the values the variables hold, and wrote down none of them.
    assert json.loads(seen.read_text()) == ["train.py", "--token", "rerun-token-1"]
    written = out + report.read_text() + _ok(repo, "log", "--all", "--json")
    written += sh("git", "log", "-p", "--format=%B", "refs/lineage/records", cwd=repo).stdout
    for value in ("rerun-token-1", "rerun-key-2", TOKEN, API_KEY):
        assert value not in written
    assert "running `env 'API_KEY=<redacted>' python train.py --token '<redacted>'`" in out
    assert "  hidden    API_KEY from $API_KEY, --token from $TOKEN" in out


def test_reproduce_dry_run_json_shows_the_placeholder_and_no_secret(repo: Path) -> None:
    _record_rerunnable_run(repo)

    out = _ok(
        repo,
        "reproduce",
        _run_key(repo),
        "--dry-run",
        "--json",
        env=_env(TOKEN=TOKEN, API_KEY=API_KEY),
    )

    _assert_no_secret(out, "reproduce --dry-run --json")
    plan = json.loads(out)["plan"]
    assert plan["hidden"] == [
        {"name": "API_KEY", "variable": "API_KEY"},
        {"name": "--token", "variable": "TOKEN"},
    ]
    assert plan["command"] == [
        "env",
        "API_KEY=<redacted>",
        "python",
        "train.py",
        "--token",
        "<redacted>",
    ]


def test_a_secret_given_with_command_is_not_echoed_by_the_plan(repo: Path) -> None:
    _ok(repo, "run", "--", "python", "train.py")

    out = _ok(
        repo,
        "reproduce",
        _run_key(repo),
        "--dry-run",
        "--command",
        f"python train.py --token {TOKEN}",
    )

    _assert_no_secret(out, "reproduce --dry-run --command")
    assert "python train.py --token <redacted>" in out


def test_a_missing_program_with_a_secret_argument_is_refused_without_echoing_it(
    repo: Path,
) -> None:
    result = refused(
        repo, "run", "--", "no-such-trainer", "--token", TOKEN, code=127, says="no-such-trainer"
    )

    _assert_no_secret(result.stdout + result.stderr, "the error")


def test_honest_options_that_only_look_alike_are_recorded_as_typed(repo: Path) -> None:
    honest = ["--max-tokens", "512", "--key-column", "id", "--keys", "a,b", "--monkey", "3"]
    _ok(repo, "run", "--", "python", "train.py", *honest)

    command = json.loads(_ok(repo, "show", _run_key(repo), "--json"))["record"]["command"]

    assert command["argv"] == ["python", "train.py", *honest]
    assert "redacted" not in command
