"""`lineage hooks install` and git-lfs's hooks live together, in both orders, proved with real
`git commit` and `git push` to a bare repository that is also the LFS remote, or whose LFS
store is an LFS server over HTTP (tests/lfs_server.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import sh
from tests.helpers import commit_all, lineage
from tests.layouts import hf_dataset
from tests.lfs_server import serve

SHIM_MARK = "# lineage-hook-shim"


def _lfs_objects(remote: Path) -> list[str]:
    return sorted(p.name for p in (remote / "lfs" / "objects").glob("*/*/*"))


def _oids(repo: Path) -> list[str]:
    listed = sh("git", "lfs", "ls-files", "-l", cwd=repo).stdout.splitlines()
    return sorted(line.split(" ")[0] for line in listed)


def _pushed_with_lineage(repo: Path, remote: Path) -> None:
    """A run, a commit through the hooks, a push: the objects and the records both arrive."""
    lineage(repo, "run", "--", "python", "train.py")
    (repo / "notes.md").write_text("trained\n")
    commit_all(repo, "Notes")
    pushed = sh("git", "push", "origin", "main", cwd=repo)
    assert pushed.stderr.startswith("lineage: pushed 2 new records to origin\n")
    assert _lfs_objects(remote) == _oids(repo)
    assert sh("git", "ls-remote", remote, "refs/lineage/records", cwd=repo).stdout


def test_lineage_after_git_lfs_chains_its_hooks(tmp_path: Path) -> None:
    repo = hf_dataset.build(tmp_path / "repo", tmp_path / "remote.git")
    hooks = repo / ".git" / "hooks"
    lfs_pre_push = (hooks / "pre-push").read_text()  # git-lfs wrote it on the first `git add`
    assert 'git lfs pre-push "$@"' in lfs_pre_push
    installed = lineage(repo, "hooks", "install").stdout
    assert installed == (
        "hooks directory: .git/hooks\n"
        "  pre-commit     installed\n"
        "  post-commit    chained: the existing hook is now post-commit.pre-lineage\n"
        "  pre-push       chained: the existing hook is now pre-push.pre-lineage\n"
    )
    assert (hooks / "pre-push.pre-lineage").read_text() == lfs_pre_push
    assert 'git lfs post-merge "$@"' in (hooks / "post-merge").read_text()
    _pushed_with_lineage(repo, tmp_path / "remote.git")


def test_git_lfs_after_lineage_refuses_and_install_again_chains(tmp_path: Path) -> None:
    sh("git", "lfs", "install", "--skip-repo", cwd=tmp_path)
    repo, remote = tmp_path / "repo", tmp_path / "remote.git"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    lineage(repo, "init")
    lineage(repo, "hooks", "install")
    hf_dataset.write(repo)
    commit_all(repo, "Dataset shards in Git LFS")
    hooks = repo / ".git" / "hooks"
    lfs = sh("git", "lfs", "install", cwd=repo, check=False)
    assert lfs.returncode == 2 and "Hook already exists: pre-push" in lfs.stderr
    assert SHIM_MARK in (hooks / "pre-push").read_text()  # lineage's hook was not dropped
    assert not (hooks / "post-merge").exists()  # nor were git-lfs's written
    again = lineage(repo, "hooks", "install").stdout
    assert again == (
        "hooks directory: .git/hooks\n"
        "  pre-commit     updated\n"
        "  post-commit    updated\n"
        "  pre-push       updated\n"
        "  pre-push       chained: git-lfs's hook is now pre-push.pre-lineage\n"
        "  post-checkout  installed: git-lfs's own hook\n"
        "  post-commit    chained: git-lfs's hook is now post-commit.pre-lineage\n"
        "  post-merge     installed: git-lfs's own hook\n"
    )
    sh("git", "init", "-q", "--bare", remote, cwd=tmp_path)
    sh("git", "remote", "add", "origin", remote, cwd=repo)
    _pushed_with_lineage(repo, remote)


def test_git_lfs_update_force_over_lineage_is_chained_again(tmp_path: Path) -> None:
    repo = hf_dataset.build(tmp_path / "repo", tmp_path / "remote.git")
    lineage(repo, "hooks", "install")
    sh("git", "lfs", "update", "--force", cwd=repo)
    hooks = repo / ".git" / "hooks"
    assert SHIM_MARK not in (hooks / "pre-push").read_text()
    again = lineage(repo, "hooks", "install").stdout
    assert "  pre-push       chained: git-lfs's hook is pre-push.pre-lineage\n" in again
    assert SHIM_MARK in (hooks / "pre-push").read_text()
    _pushed_with_lineage(repo, tmp_path / "remote.git")


def test_push_is_refused_while_the_lfs_store_lacks_a_run_input_then_allowed(
    tmp_path: Path,
) -> None:
    remote = tmp_path / "remote.git"
    repo = hf_dataset.build(tmp_path / "repo", remote)
    lineage(repo, "hooks", "install")
    shard = repo / hf_dataset.TEST_SHARD
    shard.write_bytes(shard.read_bytes() + b"test,new,row\n")  # trained on, never committed
    lineage(repo, "run", "--", "python", "train.py")
    oid = hashlib.sha256(shard.read_bytes()).hexdigest()
    sh("git", "checkout", "-q", "--", hf_dataset.TEST_SHARD, cwd=repo)
    refused = sh("git", "push", "origin", "main", cwd=repo, check=False)
    assert refused.returncode == 1
    assert refused.stderr.endswith(
        "lineage: refusing to push: runs on these commits used 1 Git LFS object(s) that the "
        f"LFS store of 'origin' does not have; run `git lfs push --object-id origin {oid}`:\n"
        f"lineage:   {hf_dataset.TEST_SHARD} sha256:{oid}\n"
        "lineage: then push again, or `git push --no-verify` to skip this check\n"
        "error: failed to push some refs to '" + str(remote) + "'\n"
    )
    sh("git", "lfs", "push", "--object-id", "origin", oid, cwd=repo)
    allowed = sh("git", "push", "origin", "main", cwd=repo)
    assert allowed.stderr.startswith("lineage: publishing 1 snapshot commit")
    assert oid in _lfs_objects(remote)


def test_push_is_refused_while_the_lfs_server_lacks_a_run_input_then_allowed(
    tmp_path: Path,
) -> None:
    remote = tmp_path / "remote.git"
    repo = hf_dataset.build(tmp_path / "repo", remote)
    lineage(repo, "hooks", "install")
    shard = repo / hf_dataset.TEST_SHARD
    shard.write_bytes(shard.read_bytes() + b"test,new,row\n")  # trained on, never committed
    lineage(repo, "run", "--", "python", "train.py")
    oid = hashlib.sha256(shard.read_bytes()).hexdigest()
    sh("git", "checkout", "-q", "--", hf_dataset.TEST_SHARD, cwd=repo)
    with serve() as server:
        sh("git", "config", "lfs.url", server.url, cwd=repo)
        refused = sh("git", "push", "origin", "main", cwd=repo, check=False)
        assert refused.returncode == 1
        assert refused.stderr.endswith(
            "lineage: refusing to push: runs on these commits used 1 Git LFS object(s) that the "
            f"LFS store of 'origin' does not have; run `git lfs push --object-id origin {oid}`:\n"
            f"lineage:   {hf_dataset.TEST_SHARD} sha256:{oid}\n"
            "lineage: then push again, or `git push --no-verify` to skip this check\n"
            "error: failed to push some refs to '" + str(remote) + "'\n"
        )
        assert oid not in server.held and len(server.held) == 2  # git-lfs sent the commit's
        sh("git", "lfs", "push", "--object-id", "origin", oid, cwd=repo)
        allowed = sh("git", "push", "origin", "main", cwd=repo)
        assert allowed.stderr.startswith("lineage: publishing 1 snapshot commit")
        assert oid in server.held
