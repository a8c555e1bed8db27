"""What a push publishes of a dirty tree's snapshot (issue 14, "Secrets" 2 and 3).

A snapshot commit is reachable from refs/lineage/records, so every blob in it goes wherever the
ref is pushed. Real `git push`es to a bare remote on disk, through `lineage push` and through
the installed pre-push hook, then a scan of every object the remote holds: an untracked `.env`
secret, a private key and a 1+ MiB `server.db` are nowhere in it; an untracked
`train_helper.py` is, and `run` and `push` both name it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import sh
from tests.helpers import commit_all, lineage, write

SECRET = "SECRET=hunter2-0f3c9a"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq-0d1e2f\n-----END PRIVATE KEY-----\n"
DB_ROW = b"server-db-row-7b41:"
HELPER = "HELPER_MARKER = 'train-helper-5c2d'\n"


def _repo(tmp_path: Path, *, untracked: bool = True) -> Path:
    """A committed project with `lineage init` (max_file_mb = 1) and a bare remote holding main,
    then the untracked files of the issue beside its code."""
    sh("git", "init", "-q", "--bare", "origin.git", cwd=tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\n")
    write(repo, "train.py", "print('training')\n")
    lineage(repo, "init")
    config = repo / ".lineage" / "config.toml"
    text = config.read_text().replace("# max_file_mb = 10", "max_file_mb = 1")
    if not untracked:
        text = text.replace("untracked = true", "untracked = false")
    config.write_text(text)
    commit_all(repo, "Start")
    sh("git", "remote", "add", "origin", "../origin.git", cwd=repo)
    sh("git", "push", "-q", "-u", "origin", "main", cwd=repo)
    write(repo, ".env", SECRET + "\n")
    write(repo, "deploy.pem", PEM)
    (repo / "server.db").write_bytes(DB_ROW * (2**20 // len(DB_ROW) + 10_000))  # > 1 MiB
    write(repo, "train_helper.py", HELPER)
    return repo


def _run(repo: Path) -> tuple[str, str]:
    """`lineage run` on the dirty tree: its stderr and the snapshot commit it recorded."""
    result = lineage(repo, "run", "--", "python", "train.py")
    snapshot = re.search(r"recorded snapshot ([0-9a-f]{10})", result.stderr)
    assert snapshot, result.stderr
    return result.stderr, snapshot.group(1)


def _every_object(bare: Path) -> bytes:
    """The bytes of every object the remote holds, loose or packed."""
    return subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=bare,
        capture_output=True,
        check=True,
    ).stdout


def _assert_only_the_helper_went_out(bare: Path) -> None:
    sent = _every_object(bare)
    assert HELPER.encode() in sent  # the scan does see the snapshot's blobs
    assert b"hunter2-0f3c9a" not in sent
    assert b"MIIEvQIBADANBgkq-0d1e2f" not in sent
    assert DB_ROW not in sent


def test_run_names_the_untracked_files_it_captured_and_those_it_left_out(tmp_path: Path) -> None:
    stderr, snapshot = _run(_repo(tmp_path))
    assert stderr.splitlines()[:3] == [
        f"lineage: working tree is dirty (1 paths); recorded snapshot {snapshot} of the exact tree",
        "lineage: snapshot holds 1 untracked file: train_helper.py",
        "lineage: left out of the snapshot, untracked: .env, deploy.pem (named like secrets); "
        "server.db (over max_file_mb = 1)",
    ]


def test_lineage_push_names_new_snapshots_and_sends_no_secret_or_large_file(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    _, first = _run(repo)
    base = sh("git", "rev-parse", "--short=10", "HEAD", cwd=repo).stdout.strip()
    pushed = lineage(repo, "push")
    assert pushed.stderr.splitlines() == [
        "lineage: publishing 1 snapshot commit of a dirty tree to origin for the first time:",
        f"lineage:   {first} (based on {base}) adds train_helper.py",
    ]
    assert re.fullmatch(r"pushed \d+ new records? to origin\n", pushed.stdout)
    _assert_only_the_helper_went_out(tmp_path / "origin.git")

    # The next push names only the snapshot the remote does not have yet.
    write(repo, "train.py", "print('training harder')\n")
    _, second = _run(repo)
    again = lineage(repo, "push")
    assert again.stderr.splitlines() == [
        "lineage: publishing 1 snapshot commit of a dirty tree to origin for the first time:",
        f"lineage:   {second} (based on {base}) adds train_helper.py",
    ]
    assert lineage(repo, "push").stderr == ""  # nothing new: nothing named


def test_git_push_through_the_pre_push_hook_names_the_snapshot_and_sends_no_secret(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    _, snapshot = _run(repo)
    base = sh("git", "rev-parse", "--short=10", "HEAD", cwd=repo).stdout.strip()
    lineage(repo, "hooks", "install")
    write(repo, "README.md", "# demo\n")
    sh("git", "add", "README.md", cwd=repo)
    sh("git", "commit", "-q", "-m", "Readme", cwd=repo)
    pushed = sh("git", "push", "-q", "origin", "main", cwd=repo)
    assert (
        "lineage: publishing 1 snapshot commit of a dirty tree to origin for the first time:\n"
        f"lineage:   {snapshot} (based on {base}) adds train_helper.py\n"
    ) in pushed.stderr
    assert sh("git", "rev-parse", "refs/lineage/records", cwd=tmp_path / "origin.git").stdout
    _assert_only_the_helper_went_out(tmp_path / "origin.git")


def test_untracked_false_keeps_every_untracked_file_out_of_the_snapshot_and_the_push(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path, untracked=False)
    write(repo, "train.py", "print('tuned')\n")
    stderr, snapshot = _run(repo)
    assert stderr.splitlines()[1] == (
        "lineage: left out of the snapshot, untracked: .env, deploy.pem, server.db, "
        "train_helper.py ([snapshot] untracked = false)"
    )
    base = sh("git", "rev-parse", "--short=10", "HEAD", cwd=repo).stdout.strip()
    assert lineage(repo, "push").stderr.splitlines()[1] == (
        f"lineage:   {snapshot} (based on {base}) adds no files"
    )
    sent = _every_object(tmp_path / "origin.git")
    assert b"tuned" in sent
    assert b"train-helper-5c2d" not in sent and b"hunter2-0f3c9a" not in sent
