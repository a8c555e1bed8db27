"""Git LFS read from the repository itself: pointer blobs parsed as git-lfs writes them, the
workspace checked through the stat cache, against the real git-lfs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lineage.adapters import git, git_lfs
from lineage.adapters.dvc_hash import StatCache
from lineage.records import STATE_MATCH, STATE_MISSING, STATE_MODIFIED
from tests.conftest import sh
from tests.layouts import hf_dataset


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return hf_dataset.build(tmp_path / "repo", tmp_path / "remote.git")


def test_pointer_parses_as_git_lfs_writes_it() -> None:
    oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
    blob = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 12345\n"
    assert git_lfs.parse_pointer(blob.encode()) == (oid, 12345)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"id,value\n1,10\n",
        b"version https://git-lfs.github.com/spec/v1\noid md5:abc\nsize 1\n",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\n",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize x\n",
    ],
)
def test_anything_else_is_not_a_pointer(blob: bytes) -> None:
    assert git_lfs.parse_pointer(blob) is None


def test_pointers_match_git_lfs_ls_files(project: Path) -> None:
    listed = sh("git", "lfs", "ls-files", "-l", cwd=project).stdout.splitlines()
    expected = sorted((line.split(" ")[2], line.split(" ")[0]) for line in listed)
    found = git_lfs.pointers(git.discover(project))
    assert sorted((p.path, p.oid) for p in found) == expected
    shard = project / hf_dataset.TRAIN_SHARD
    [train] = [p for p in found if p.path == hf_dataset.TRAIN_SHARD]
    assert (train.oid, train.size) == (
        hashlib.sha256(shard.read_bytes()).hexdigest(),
        shard.stat().st_size,
    )


def test_a_repository_without_lfs_attributes_lists_nothing(git_repo: Path) -> None:
    assert git_lfs.pointers(git.discover(git_repo)) == []


def test_workspace_check_hashes_a_file_once_and_flags_changes(
    project: Path, tmp_path: Path
) -> None:
    paths = git.discover(project)
    found = git_lfs.pointers(paths)
    for pointer in found:  # written a minute ago: no longer racily new (dvc_hash.RACY_NS)
        stat = (project / pointer.path).stat()
        os.utime(project / pointer.path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 60 * 10**9))
    with StatCache(tmp_path / "statcache.sqlite") as cache:
        first = git_lfs.check_workspace(project, found, cache)
        again = git_lfs.check_workspace(project, found, cache)
        assert (cache.hashed_files, [d.state for d in first]) == (2, [STATE_MATCH] * 2)
        assert again == first
        shard = project / hf_dataset.TEST_SHARD
        shard.write_bytes(shard.read_bytes() + b"extra,row\n")
        (project / hf_dataset.TRAIN_SHARD).unlink()
        [test, train] = git_lfs.check_workspace(project, found, cache)
    assert (test.state, test.md5, test.pointer_md5) == (
        STATE_MODIFIED,
        "sha256:" + hashlib.sha256(shard.read_bytes()).hexdigest(),
        first[0].md5,
    )
    assert (train.state, train.md5) == (STATE_MISSING, first[1].md5)


def test_a_clone_without_smudge_holds_pointers_only(project: Path, tmp_path: Path) -> None:
    sh("git", "push", "-q", "origin", "main", cwd=project)
    clone = tmp_path / "clone"
    env = {**os.environ, "GIT_LFS_SKIP_SMUDGE": "1"}
    sh("git", "clone", "-q", "-b", "main", tmp_path / "remote.git", clone, cwd=tmp_path, env=env)
    found = git_lfs.pointers(git.discover(clone))
    with StatCache(tmp_path / "statcache.sqlite") as cache:
        states = [d.state for d in git_lfs.check_workspace(clone, found, cache)]
    assert states == [STATE_MISSING, STATE_MISSING]
