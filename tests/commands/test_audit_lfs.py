"""`lineage audit` checks a model's Git LFS inputs are in the LFS store of the audit remote."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import sh
from tests.helpers import TRAIN, commit_all, lineage
from tests.layouts import hf_dataset


def _data_check(repo: Path) -> dict[str, str]:
    proc = lineage(repo, "audit", "churn/1", "--json", check=False)
    [version] = json.loads(proc.stdout)["versions"]
    return next(c for c in version["checks"] if c["name"] == "data")


def test_audit_fails_lfs_inputs_missing_from_the_lfs_store_until_pushed(tmp_path: Path) -> None:
    repo = hf_dataset.build(tmp_path / "repo", tmp_path / "remote.git")
    (repo / "register.py").write_text(TRAIN)
    commit_all(repo, "Train and register")
    lineage(repo, "run", "--", "python", "register.py", env={**os.environ, "MODEL": "churn"})
    test_oid = sh("git", "show", f"HEAD:{hf_dataset.TEST_SHARD}", cwd=repo).stdout[54:64]
    train_oid = sh("git", "show", f"HEAD:{hf_dataset.TRAIN_SHARD}", cwd=repo).stdout[54:64]

    assert _data_check(repo) == {
        "name": "data",
        "result": "fail",
        "reason": (
            f"not in the LFS store of 'origin': {hf_dataset.TEST_SHARD} sha256:{test_oid}, "
            f"{hf_dataset.TRAIN_SHARD} sha256:{train_oid} (`git lfs push --object-id` them)"
        ),
    }
    sh("git", "push", "-q", "origin", "main", cwd=repo)  # git-lfs's pre-push sends them
    assert _data_check(repo) == {
        "name": "data",
        "result": "pass",
        "reason": "2 Git LFS input(s) in the LFS store of 'origin'",
    }
