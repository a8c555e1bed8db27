"""`lineage reproduce` of a run on Git LFS data, in a fresh clone made with
``GIT_LFS_SKIP_SMUDGE=1`` (pointers only): the recorded objects are fetched from the LFS store
of the remote, copied into the worktree by oid and verified; one the store lacks is named before
anything runs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.conftest import sh
from tests.helpers import lineage, lineage_json
from tests.layouts import hf_dataset


def _clone(remote: Path, dest: Path) -> Path:
    env = {**os.environ, "GIT_LFS_SKIP_SMUDGE": "1"}
    sh("git", "clone", "-q", "-b", "main", remote, dest, cwd=dest.parent, env=env)
    lineage(dest, "pull", "origin")
    return dest


def _objects(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / ".git" / "lfs" / "objects").glob("*/*/*"))


def test_reproduce_in_a_pointer_only_clone_fetches_and_verifies_lfs_inputs(
    tmp_path: Path,
) -> None:
    repo = hf_dataset.build(tmp_path / "repo", tmp_path / "remote.git")
    lineage(repo, "hooks", "install")
    lineage(repo, "run", "--", "python", "train.py")
    sh("git", "push", "-q", "origin", "main", cwd=repo)
    clone = _clone(tmp_path / "remote.git", tmp_path / "clone")
    assert _objects(clone) == []
    run = lineage_json(clone, "log")[0]["run"]
    oids = {
        p: hashlib.sha256((repo / p).read_bytes()).hexdigest()
        for p in (hf_dataset.TEST_SHARD, hf_dataset.TRAIN_SHARD)
    }

    plan = lineage(clone, "reproduce", run, "--dry-run").stdout
    assert (
        f"  data      {hf_dataset.TEST_SHARD}   sha256:{oids[hf_dataset.TEST_SHARD][:12]}  "
        '1.0 kB  Git LFS store of "origin" (will be fetched)\n'
    ) in plan

    done = lineage(clone, "reproduce", run, "--yes", "--allow-unverified")
    assert (
        "lineage: fetching Git LFS objects from origin\n"
        "lineage: restored and verified 2 Git LFS input(s) (copies)\n"
    ) in done.stderr
    assert "working tree is dirty" not in done.stderr  # the restored files match the commit
    assert "read 5802 bytes from 2 shards\n" in done.stderr  # the data, not the pointers
    assert _objects(clone) == sorted(oids.values())


def test_an_lfs_input_the_store_lacks_is_named_before_anything_runs(tmp_path: Path) -> None:
    repo = hf_dataset.build(tmp_path / "repo", tmp_path / "remote.git")
    shard = repo / hf_dataset.TEST_SHARD
    shard.write_bytes(shard.read_bytes() + b"test,new,row\n")  # trained on, never committed
    lineage(repo, "run", "--", "python", "train.py")
    oid = hashlib.sha256(shard.read_bytes()).hexdigest()
    sh("git", "push", "-q", "origin", "main", cwd=repo)  # git-lfs sends the committed objects
    lineage(repo, "push", "origin")  # the records and the snapshot, not the modified object
    clone = _clone(tmp_path / "remote.git", tmp_path / "clone")
    run = lineage_json(clone, "log")[0]["run"]

    blocked = lineage(clone, "reproduce", run, "--yes", check=False)
    assert blocked.returncode == 1
    assert (
        f"data: {hf_dataset.TEST_SHARD} sha256:{oid} is in neither .git/lfs/objects nor the "
        f"LFS store of 'origin'; push it from the clone that made it (`git lfs push "
        f"--object-id origin {oid}`)"
    ) in blocked.stderr
    assert "running" not in blocked.stderr
    assert not (clone / ".git" / "lineage" / "worktrees").exists() or not any(
        (clone / ".git" / "lineage" / "worktrees").iterdir()
    )
