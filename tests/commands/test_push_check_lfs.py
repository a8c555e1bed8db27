"""The pre-push check's Git LFS half on the stores it cannot read: an LFS server that does not
answer refuses the push (as git-lfs's own pre-push would), an SSH store only warns."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage.adapters import git
from lineage.commands.push_check_lfs import LfsNeeded, refuse
from tests.conftest import sh
from tests.helpers import unused_port
from tests.lfs_server import serve

OID = "c55e030398" + "0" * 54
WANTED = [LfsNeeded("data/test-00000-of-00001.parquet", OID, 1300)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    sh("git", "init", "-q", tmp_path / "repo", cwd=tmp_path)
    return tmp_path / "repo"


def test_an_lfs_server_that_cannot_be_reached_refuses_the_push(repo: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}/org/data.git/info/lfs"
    sh("git", "config", "lfs.url", url, cwd=repo)
    said: list[str] = []
    assert refuse(git.discover(repo), "origin", WANTED, said.append) is True
    [line] = said
    assert line.startswith(f"refusing to push: cannot reach the LFS server at {url} (")
    assert line.endswith(
        "); check the network and the URL (`git config lfs.url`), then push again, "
        "or `git push --no-verify` to skip this check"
    )


def test_an_lfs_server_asking_for_credentials_git_lacks_refuses_the_push(repo: Path) -> None:
    said: list[str] = []
    with serve(credentials=("ada", "token")) as server:
        sh("git", "config", "lfs.url", server.url, cwd=repo)
        assert refuse(git.discover(repo), "origin", WANTED, said.append) is True
    assert said == [
        f"refusing to push: the LFS server at {server.url} needs credentials and git has none "
        "for 127.0.0.1; store them with a credential helper (`git config credential.helper "
        "store`, then `git lfs fetch` once asks for them), then push again, or `git push "
        "--no-verify` to skip this check"
    ]


def test_an_ssh_lfs_store_is_not_checked_and_the_push_goes_on(repo: Path) -> None:
    sh("git", "remote", "add", "origin", "git@hub.example:org/data.git", cwd=repo)
    said: list[str] = []
    assert refuse(git.discover(repo), "origin", WANTED, said.append) is False
    assert said == [
        "warning: runs on these commits used Git LFS data, and lineage does not check an LFS "
        "store over SSH ('origin'); to make sure it has them, run "
        f"`git lfs push --object-id origin {OID}`"
    ]
