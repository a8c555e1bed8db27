"""`lineage import wandb`: W&B runs made without lineage (the real wandb, offline) taken in
as inferred records."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.bad_input.harness import refused, warned
from tests.conftest import sh
from tests.scenarios import Recorded
from tests.wandb_helpers import build_unwrapped


@pytest.fixture(scope="module")
def unwrapped(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Imported once; the tests read it."""
    made = build_unwrapped(tmp_path_factory.mktemp("unwrapped"))
    first = made.lineage("import", "wandb")
    assert first.stdout == (
        "imported 2 inferred record(s) from 2 W&B run(s); 0 already imported, 0 observed by "
        "lineage kept as they are\n"
    )
    return made


def _first_commit(repo: Path) -> str:
    return sh("git", "rev-list", "--max-parents=0", "HEAD", cwd=repo).stdout.strip()


def test_import_is_idempotent(unwrapped: Recorded) -> None:
    again = unwrapped.lineage("import", "wandb")
    assert again.stdout == (
        "imported 0 inferred record(s) from 2 W&B run(s); 2 already imported, 0 observed by "
        "lineage kept as they are\n"
    )
    assert len(unwrapped.json("log")) == 2


def test_an_imported_run_has_w_and_b_s_commit_and_arguments_and_no_guessed_data(
    unwrapped: Recorded,
) -> None:
    entries = unwrapped.json("log")
    assert {e["evidence"] for e in entries} == {"inferred"}
    records = [unwrapped.json("show", e["run"])["record"] for e in entries]
    by_depth = {r["wandb"]["params"]["depth"]: r for r in records}
    record = by_depth["6"]
    assert record["code"] == {
        "commit": _first_commit(unwrapped.repo),
        "dirty": None,
        "snapshot": None,
        "branch": None,
        "changed": [],
    }
    assert record["command"]["argv"] == ["python", "train.py", "6"]
    assert record["inputs"] == [] and record["wandb"]["metrics"] == {"score": 0.6}


def test_the_dvc_md5_and_the_wandb_artifact_file_are_one_data_node(unwrapped: Recorded) -> None:
    md5 = hashlib.md5((unwrapped.repo / "data/raw.csv").read_bytes()).hexdigest()
    assert md5 in (unwrapped.repo / "data/raw.csv.dvc").read_text()  # DVC's md5, the same
    shown = unwrapped.json("show", md5)
    assert [(n["rel"], n["path"], n["evidence"]) for n in shown["neighbours"]] == [
        ("output", "wandb:raw/raw.csv", "inferred")
    ] * 2
    assert all(n["id"].startswith("wandb:churn/") for n in shown["neighbours"])


def test_a_corrupt_run_file_is_a_one_line_warning_and_the_rest_is_imported(
    unwrapped: Recorded, tmp_path: Path
) -> None:
    copy = unwrapped.copy(tmp_path)
    broken = sorted((copy.repo / "wandb").glob("offline-run-*"))[0]
    run_file = next(broken.glob("run-*.wandb"))
    run_file.write_bytes(b":W&B\x00\x00\x00" + b"\xff" * 64)
    shutil.rmtree(copy.repo / ".git" / "lineage", ignore_errors=True)
    sh("git", "update-ref", "-d", "refs/lineage/records", cwd=copy.repo)
    result = warned(copy.repo, "import", "wandb", says="cannot be read", env=copy.env)
    warning = [line for line in result.stderr.splitlines() if "cannot be read" in line]
    assert warning == [
        f"lineage: warning: the W&B run file wandb/{broken.name}/{run_file.name} cannot be "
        "read (a record header at byte 7 is damaged); it was skipped: if the run is still "
        "going, record it again once it has finished"
    ]
    assert "imported 1 inferred record(s) from 1 W&B run(s)" in result.stdout


def test_a_path_with_no_run_directories_is_refused(unwrapped: Recorded) -> None:
    refused(
        unwrapped.repo,
        "import",
        "wandb",
        "data",
        code=1,
        says="data holds no W&B run directories (run-* or offline-run-*)",
        env=unwrapped.env,
    )
