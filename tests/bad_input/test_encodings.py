"""Bytes that are not UTF-8, as a shell passes them from a file name or a paste: a command
run with one is recorded (not lost after it ran), and a REF holding one is refused clearly."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lineage.records import canonical_bytes, decode, record_id
from tests.bad_input.harness import assert_no_traceback, copy_of, refused, run_cli, set_up_repo
from tests.scenarios import hermetic_env

LATIN1 = os.fsdecode(b"caf\xe9")  # "café" in Latin-1: 'caf\udce9' once Python decodes it


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("encodings")
    env = hermetic_env(base)
    writer = "import os, sys\nopen('got', 'wb').write(os.fsencode(sys.argv[1]))\n"
    return set_up_repo(base / "repo", env, train_py=writer)


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    copy = copy_of(template, tmp_path)
    return copy


def test_a_command_with_a_non_utf8_argument_is_recorded_and_shown_escaped(repo: Path) -> None:
    result = run_cli(repo, "run", "--", sys.executable, "train.py", LATIN1)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert (repo / "got").read_bytes() == b"caf\xe9"
    run = run_cli(repo, "log").stdout.split()[2]
    shown = run_cli(repo, "show", run)
    assert_no_traceback(shown)
    assert "train.py caf\\xe9" in shown.stdout


@pytest.mark.parametrize(
    "command",
    [["show"], ["graph"], ["impact"], ["diff", "X", "HEAD"], ["reproduce", "X", "--dry-run"]],
    ids=["show", "graph", "impact", "diff", "reproduce"],
)
def test_a_ref_that_is_not_utf8_is_refused_naming_it(repo: Path, command: list[str]) -> None:
    args = [LATIN1 if a == "X" else a for a in command]
    if "X" not in command:
        args.append(LATIN1)
    refused(repo, *args, code=1, says="is not valid UTF-8; give it as UTF-8 text")


def test_a_lone_surrogate_is_stored_as_its_json_escape_and_reads_back_the_same() -> None:
    document = {"schema": 1, "kind": "note", "argv": ["python", LATIN1]}
    blob = canonical_bytes(document)
    assert b'"caf\\udce9"' in blob
    assert decode(record_id(blob), blob, trusted=True)["argv"] == ["python", LATIN1]
