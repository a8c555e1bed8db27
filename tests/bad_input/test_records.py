"""Bad input: malformed records in the store and a damaged ``refs/lineage/records``.

Malformed records come from elsewhere (a teammate's push, a hand-made blob): planted here as a
pull would leave them, in the store but not in this clone's journal of records it wrote. Every
reader skips them with a warning naming the record and its first problem; a damaged ref is a
one-line error naming the ref and its repair, and only a warning in the hooks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lineage.adapters import git
from lineage.adapters.store import REF, Store
from lineage.records import canonical_bytes, record_id
from tests.bad_input.harness import assert_no_traceback, refused, run_cli, warned
from tests.conftest import sh
from tests.scenarios import hermetic_env

CREATED = {"at": "2026-01-01T00:00:00.000Z", "name": "A", "email": "a@x", "tool": "t"}
GOOD_RUN = {
    "schema": 1,
    "kind": "run",
    "evidence": "observed",
    "session": "s1",
    "code": {"commit": None, "dirty": False},
    "created": CREATED,
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with lineage set up, its hooks installed, and one recorded run."""
    base = tmp_path_factory.mktemp("records-template")
    env = hermetic_env(base)  # the autouse `hermetic` fixture is not there yet at module scope
    repo = base / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo, env=env)
    (repo / "README.md").write_text("# demo\n")
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "Start", cwd=repo, env=env)
    sh("lineage", "init", "--no-gitignore", cwd=repo, env=env)
    sh("lineage", "hooks", "install", cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "lineage init", cwd=repo, env=env)
    sh("lineage", "run", "--", "true", cwd=repo, env=env)
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "repo", symlinks=True))


def plant(repo: Path, *blobs: bytes) -> list[str]:
    """Add records to the store as a pull leaves them (not in this clone's journal)."""
    store = Store(git.discover(repo))
    journal = store.journal_path.read_bytes()
    names = [record_id(blob) for blob in blobs]
    store.append(list(zip(names, blobs, strict=True)))
    store.journal_path.write_bytes(journal)
    return names


def doc(**fields: Any) -> bytes:
    return canonical_bytes({**GOOD_RUN, **fields})


def without(*keys: str, **fields: Any) -> bytes:
    document = {**GOOD_RUN, **fields}
    return canonical_bytes({k: v for k, v in document.items() if k not in keys})


# -- malformed records: skipped with a warning naming the record and its first problem ---------

MALFORMED = {
    "only schema and kind": (b'{"kind":"run","schema":1}', '"evidence" is a required property'),
    "session is a number": (doc(session=5), '$.session: 5 is not of type "string"'),
    "code is a string": (doc(code="abc"), '$.code: "abc" is not of type "object"'),
    "created lacks its time": (
        doc(created={"name": "A", "email": "a", "tool": "t"}),
        '$.created: "at" is a required property',
    ),
    "model version is text": (
        doc(models=[{"name": "m", "version": "v2"}]),
        '$.models[0].version: "v2" is not of type "integer"',
    ),
    "inputs is an object": (
        doc(inputs={"path": "x"}),
        '$.inputs: {"path":"x"} is not of type "array"',
    ),
    "an input without md5": (
        doc(inputs=[{"path": "data/x.csv"}]),
        '$.inputs[0]: "md5" is a required property',
    ),
    "mlflow run lacks its id": (doc(run={"status": "FINISHED"}), '$.run: "run_id" is a required'),
    "command argv is a string": (
        doc(
            command={
                "argv": "python train.py",
                "cwd": ".",
                "exit_code": 0,
                "status": "succeeded",
                "started": "x",
                "ended": "x",
                "duration_s": 1,
            }
        ),
        '$.command.argv: "python train.py" is not of type "array"',
    ),
    "no session": (without("session"), '"session" is a required property'),
    "100,000 nested arrays": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply to read"),
    "nested arrays inside a record": (
        canonical_bytes({**GOOD_RUN, "inputs": []})[:-1]
        + b',"x":'
        + b"[" * 5000
        + b"]" * 5000
        + b"}",
        "nested too deeply to read",
    ),
    "not JSON": (b"\xff\xfe not json", "not JSON"),
    "a JSON list": (b"[1,2]", "it has no schema or kind"),
    "schema 2": (canonical_bytes({**GOOD_RUN, "schema": 2}), "schema 2 is not 1"),
    "unknown kind": (canonical_bytes({"schema": 1, "kind": "note"}), '$.kind: "note" is not one'),
    "reproduction without its original": (
        canonical_bytes(
            {"schema": 1, "kind": "reproduction", "evidence": "observed", "created": CREATED}
        ),
        '"original_run" is a required property',
    ),
    "attachment commit is a number": (
        canonical_bytes(
            {
                "schema": 1,
                "kind": "attachment",
                "evidence": "observed",
                "created": CREATED,
                "run": "r",
                "snapshot": "s",
                "commit": 7,
            }
        ),
        '$.commit: 7 is not of type "string"',
    ),
    "registration model without version": (
        canonical_bytes(
            {
                "schema": 1,
                "kind": "registration",
                "evidence": "observed",
                "created": CREATED,
                "run": "r",
                "model": {"name": "m"},
                "registered": "x",
                "registry": "x",
            }
        ),
        '$.model: "version" is a required property',
    ),
    "environment packages is a list": (
        canonical_bytes(
            {
                "schema": 1,
                "kind": "environment",
                "python": "3",
                "implementation": "C",
                "platform": "L",
                "packages": ["click"],
                "packages_hash": "h",
            }
        ),
        '$.packages: ["click"] is not of type "object"',
    ),
}


@pytest.mark.parametrize(("blob", "says"), MALFORMED.values(), ids=MALFORMED.keys())
def test_log_skips_a_malformed_record_naming_it_and_its_first_problem(
    repo: Path, blob: bytes, says: str
) -> None:
    (name,) = plant(repo, blob)
    result = warned(repo, "log", says=f"record {name[:12]} in refs/lineage/records was skipped")
    assert says in result.stderr
    assert "local-" in result.stdout  # the good run still answers


def test_control_characters_in_a_malformed_record_are_escaped(repo: Path) -> None:
    (name,) = plant(repo, doc(evidence="\x1b[2J\x07seen", session="\r\n"))
    result = warned(repo, "log", says=f"record {name[:12]}")
    assert "\\u001b[2J\\u0007seen" in result.stderr  # quoted as JSON quotes it
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\r" not in result.stderr


def test_a_blob_that_does_not_hash_to_its_name_is_reported_corrupted(repo: Path) -> None:
    store = Store(git.discover(repo))
    fake = "ab" * 32
    store.append([(fake, json.dumps(GOOD_RUN).encode())])
    warned(repo, "log", says=f"record {fake[:12]} in refs/lineage/records is corrupted")


def test_show_of_a_good_run_answers_beside_malformed_records(repo: Path) -> None:
    plant(repo, b'{"kind":"run","schema":1}', doc(session=5))
    run = sh("lineage", "log", "--json", cwd=repo).stdout
    run_key = json.loads(run)[0]["run"]
    result = warned(repo, "show", run_key, says="was skipped")
    assert run_key in result.stdout


def test_a_malformed_record_cannot_be_shown_by_its_id(repo: Path) -> None:
    (name,) = plant(repo, b'{"kind":"run","schema":1}')
    refused(repo, "show", name[:12], code=1, says=f"nothing recorded matches '{name[:12]}'")


def test_a_real_commit_through_the_hooks_succeeds_with_malformed_records(repo: Path) -> None:
    plant(repo, b'{"kind":"run","schema":1}', b"[" * 100_000 + b"]" * 100_000, doc(code="x"))
    (repo / "README.md").write_text("# edited\n")
    result = sh("git", "commit", "-q", "-am", "Edit", cwd=repo, check=False)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert sh("git", "log", "-1", "--format=%s", cwd=repo).stdout == "Edit\n"


def test_a_dirty_run_still_attaches_through_the_hook_beside_malformed_records(repo: Path) -> None:
    plant(repo, b'{"kind":"run","schema":1}')
    (repo / "README.md").write_text("# edited\n")
    sh("lineage", "run", "--", "true", cwd=repo)
    result = sh("git", "commit", "-q", "-am", "Edit", cwd=repo, check=False)
    assert_no_traceback(result)
    assert result.returncode == 0 and "now has its code in commit" in result.stderr


# -- pull: what is invalid is quarantined, and never reaches the index -----------------------


def test_pull_reports_how_many_records_it_quarantined(repo: Path, tmp_path: Path) -> None:
    teammate = Path(shutil.copytree(repo, tmp_path / "teammate", symlinks=True))
    bad = plant(teammate, b'{"kind":"run","schema":1}', doc(session=5))
    good = plant(teammate, doc(session="s2"))
    sh("git", "remote", "add", "team", str(teammate), cwd=repo)
    result = warned(repo, "pull", "team", says=f"record {bad[0][:12]}")
    assert f"record {bad[1][:12]}" in result.stderr
    assert result.stdout == (
        "pulled 3 new records from team (fast-forward); quarantined 2 invalid records "
        "(kept in the store, ignored by every command)\n"
    )
    listed = sh("lineage", "log", "--json", cwd=repo).stdout
    assert "local-s2" in listed and len(json.loads(listed)) == 2 and good
    for name in bad:
        assert sh("git", "cat-file", "-e", f"{REF}:{name[:2]}/{name[2:]}.json", cwd=repo)
        refused(repo, "show", name[:12], code=1, says="nothing recorded matches")


# -- a damaged refs/lineage/records ------------------------------------------------------------


def point_ref_at(repo: Path, what: str) -> str:
    """Point the ref at a blob, a tree, or an object the repository lacks; return the sha."""
    if what == "blob":
        sha = sh("git", "hash-object", "-w", "README.md", cwd=repo).stdout.strip()
    elif what == "tree":
        sha = sh("git", "rev-parse", "HEAD^{tree}", cwd=repo).stdout.strip()
    else:
        sha = "0123456789abcdef0123456789abcdef01234567"
    path = repo / ".git" / "refs" / "lineage" / "records"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sha + "\n")  # update-ref would refuse a missing object
    return sha


DAMAGED = {
    "a blob, log": ("blob", ("log",), "points at a blob"),
    "a tree, log": ("tree", ("log",), "points at a tree"),
    "a missing object, log": ("missing", ("log",), "points at an object missing from"),
    "a blob, show": ("blob", ("show", "HEAD"), "points at a blob"),
    "a blob, graph": ("blob", ("graph", "HEAD"), "points at a blob"),
    "a blob, run": ("blob", ("run", "--", "true"), "points at a blob"),
    "a tree, run": ("tree", ("run", "--", "true"), "points at a tree"),
    "a missing object, run": ("missing", ("run", "--", "true"), "points at an object missing"),
}


@pytest.mark.parametrize(("what", "args", "says"), DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_ref_is_one_line_naming_the_ref_and_its_repair(
    repo: Path, what: str, args: tuple[str, ...], says: str
) -> None:
    sha = point_ref_at(repo, what)
    result = refused(repo, *args, code=1, says=f"refs/lineage/records {says}")
    assert f"({sha[:10]}), not a commit of records" in result.stderr
    assert "git update-ref refs/lineage/records " in result.stderr


def test_run_refuses_a_damaged_ref_before_the_command_runs(repo: Path) -> None:
    point_ref_at(repo, "blob")
    refused(repo, "run", "--", "touch", "trained.txt", code=1, says="points at a blob")
    assert not (repo / "trained.txt").exists()


def test_the_repair_a_damaged_ref_names_brings_the_records_back(repo: Path) -> None:
    before = sh("lineage", "log", cwd=repo).stdout
    tip = sh("git", "rev-parse", REF, cwd=repo).stdout.strip()
    point_ref_at(repo, "blob")
    result = refused(repo, "log", code=1, says=f"git update-ref {REF} {tip}")
    assert f"the index last read it at commit {tip}" in result.stderr
    sh("git", "update-ref", REF, tip, cwd=repo)
    assert sh("lineage", "log", cwd=repo).stdout == before


def test_a_ref_file_holding_no_sha_is_not_taken_for_an_empty_store(repo: Path) -> None:
    ref_file = repo / ".git" / "refs" / "lineage" / "records"
    tip = ref_file.read_text().strip()
    ref_file.write_text("garb\x1b[2Jage\n")
    result = refused(repo, "log", code=1, says="points at text that names no object (garb\\x1b[2)")
    assert f"delete {ref_file}, then point the ref back" in result.stderr
    ref_file.unlink()  # the repair it names
    sh("git", "update-ref", REF, tip, cwd=repo)
    assert "local-" in sh("lineage", "log", cwd=repo).stdout


def test_a_commit_through_the_hooks_only_warns_of_a_ref_file_holding_no_sha(repo: Path) -> None:
    (repo / ".git" / "refs" / "lineage" / "records").write_text("garbage\n")
    (repo / "README.md").write_text("# edited\n")
    result = sh("git", "commit", "-q", "-am", "Edit", cwd=repo, check=False)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert "lineage: warning: refs/lineage/records points at text" in result.stderr


def test_a_damaged_ref_is_not_pushed(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", str(bare), cwd=tmp_path)
    sh("git", "remote", "add", "origin", str(bare), cwd=repo)
    point_ref_at(repo, "blob")
    refused(repo, "push", "origin", code=1, says="refs/lineage/records points at a blob")
    assert sh("git", "for-each-ref", cwd=bare).stdout == ""


def test_pull_into_a_damaged_ref_is_refused(repo: Path, tmp_path: Path) -> None:
    teammate = Path(shutil.copytree(repo, tmp_path / "teammate", symlinks=True))
    sh("git", "remote", "add", "team", str(teammate), cwd=repo)
    point_ref_at(repo, "tree")
    refused(repo, "pull", "team", code=1, says="refs/lineage/records points at a tree")


def test_a_commit_through_the_hooks_only_warns_of_a_damaged_ref(repo: Path) -> None:
    point_ref_at(repo, "blob")
    (repo / "README.md").write_text("# edited\n")
    result = sh("git", "commit", "-q", "-am", "Edit", cwd=repo, check=False)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert "lineage: warning: refs/lineage/records points at a blob" in result.stderr
    assert sh("git", "log", "-1", "--format=%s", cwd=repo).stdout == "Edit\n"


def test_a_damaged_ref_fails_the_same_without_an_index(repo: Path) -> None:
    shutil.rmtree(repo / ".git" / "lineage")
    point_ref_at(repo, "blob")
    result = run_cli(repo, "log")
    assert_no_traceback(result)
    assert result.returncode == 1
    assert "drop it with `git update-ref -d refs/lineage/records`" in result.stderr
