"""An LFS server over HTTP asked with the Batch API (tests/lfs_server.py), and its URL found
from the repository's git config the way git-lfs finds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage.adapters import git, git_lfs, git_lfs_http
from tests.conftest import sh
from tests.lfs_server import serve


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    sh("git", "init", "-q", tmp_path / "repo", cwd=tmp_path)
    return tmp_path / "repo"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"remote.origin.url": "https://hub.example/org/data"},
            "https://hub.example/org/data.git/info/lfs",
        ),
        (
            {"remote.origin.url": "https://hub.example/org/data.git"},
            "https://hub.example/org/data.git/info/lfs",
        ),
        (
            {
                "remote.origin.url": "https://hub.example/org/data",
                "remote.origin.lfsurl": "https://lfs.example/x",
            },
            "https://lfs.example/x",
        ),
        (
            {"remote.origin.lfsurl": "https://lfs.example/x", "lfs.url": "https://lfs.example/y"},
            "https://lfs.example/y",
        ),
        ({"remote.origin.url": "git@hub.example:org/data.git"}, "git@hub.example:org/data.git"),
    ],
)
def test_lfs_url_is_found_as_git_lfs_finds_it(
    repo: Path, config: dict[str, str], expected: str
) -> None:
    for key, value in config.items():
        sh("git", "config", key, value, cwd=repo)
    assert git_lfs.lfs_url(git.discover(repo), "origin") == expected


def test_missing_asks_in_batches_of_100_and_lists_what_the_server_lacks(repo: Path) -> None:
    with serve() as server:
        held = [server.hold(f"object {i}".encode()) for i in range(3)]
        absent = [f"{i:064x}" for i in range(150)]
        objects = [(oid, 8) for oid in [*held, *absent]]
        assert git_lfs_http.missing(repo, server.url, objects) == absent
    assert server.batches == [100, 53]


def test_an_ssh_lfs_store_cannot_be_checked(repo: Path) -> None:
    sh("git", "remote", "add", "origin", "git@hub.example:org/data.git", cwd=repo)
    with pytest.raises(git_lfs.UncheckableRemoteError):
        git_lfs.missing_on_remote(git.discover(repo), "origin", ["0" * 64])


def test_credentials_the_server_refuses_are_said_without_being_shown(
    repo: Path, tmp_path: Path
) -> None:
    helper = tmp_path / "credential-helper"
    helper.write_text("#!/bin/sh\necho username=ada\necho password=stale-token\n")
    helper.chmod(0o755)
    sh("git", "config", "credential.helper", str(helper), cwd=repo)
    with (
        serve(credentials=("ada", "fresh-token")) as server,
        pytest.raises(git_lfs_http.LfsServerError) as refused,
    ):
        git_lfs_http.missing(repo, server.url, [("0" * 64, 1)])
    assert str(refused.value) == (
        f"the LFS server at {server.url} refused the credentials git gave for 127.0.0.1 "
        "(HTTP 401); update them in your credential helper (`git credential reject` drops them)"
    )
