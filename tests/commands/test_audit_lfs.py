"""`lineage audit` checks a model's Git LFS inputs are in the LFS store of the audit remote: a
bare repository on disk, or an LFS server over HTTP (tests/lfs_server.py) asked with the Batch
API, with credentials from `git credential`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import sh
from tests.helpers import TRAIN, commit_all, lineage, unused_port
from tests.layouts import hf_dataset
from tests.lfs_server import serve

PASSWORD = "lfs-token-9f8e7d"  # what the credential helper gives; must show up nowhere


def _data_check(repo: Path) -> dict[str, str]:
    proc = lineage(repo, "audit", "churn/1", "--json", check=False)
    [version] = json.loads(proc.stdout)["versions"]
    return next(c for c in version["checks"] if c["name"] == "data")


def _registered(tmp_path: Path, lfs_url: str | None = None) -> Path:
    """The dataset project, `churn/1` registered by a run that read both shards."""
    repo = hf_dataset.build(tmp_path / "repo", tmp_path / "remote.git")
    if lfs_url is not None:
        sh("git", "config", "lfs.url", lfs_url, cwd=repo)
    (repo / "register.py").write_text(TRAIN)
    commit_all(repo, "Train and register")
    lineage(repo, "run", "--", "python", "register.py", env={**os.environ, "MODEL": "churn"})
    return repo


def _not_in_store(repo: Path) -> dict[str, str]:
    test_oid = sh("git", "show", f"HEAD:{hf_dataset.TEST_SHARD}", cwd=repo).stdout[54:64]
    train_oid = sh("git", "show", f"HEAD:{hf_dataset.TRAIN_SHARD}", cwd=repo).stdout[54:64]
    return {
        "name": "data",
        "result": "fail",
        "reason": (
            f"not in the LFS store of 'origin': {hf_dataset.TEST_SHARD} sha256:{test_oid}, "
            f"{hf_dataset.TRAIN_SHARD} sha256:{train_oid} (`git lfs push --object-id` them)"
        ),
    }


def test_audit_fails_lfs_inputs_missing_from_the_lfs_store_until_pushed(tmp_path: Path) -> None:
    repo = _registered(tmp_path)
    assert _data_check(repo) == _not_in_store(repo)
    sh("git", "push", "-q", "origin", "main", cwd=repo)  # git-lfs's pre-push sends them
    assert _data_check(repo) == {
        "name": "data",
        "result": "pass",
        "reason": "2 Git LFS input(s) in the LFS store of 'origin'",
    }


def test_audit_asks_an_http_lfs_server_which_inputs_it_lacks(tmp_path: Path) -> None:
    with serve() as server:
        repo = _registered(tmp_path, server.url)
        assert _data_check(repo) == _not_in_store(repo)
        sh("git", "lfs", "push", "origin", "main", cwd=repo)  # git-lfs uploads to the server
        assert _data_check(repo) == {
            "name": "data",
            "result": "pass",
            "reason": "2 Git LFS input(s) in the LFS store of 'origin'",
        }


def test_audit_of_an_lfs_server_without_credentials_says_how_to_give_them(
    tmp_path: Path,
) -> None:
    with serve(credentials=("ada", PASSWORD)) as server:
        repo = _registered(tmp_path, server.url)
        assert _data_check(repo) == {
            "name": "data",
            "result": "warn",
            "reason": (
                f"the LFS server at {server.url} needs credentials and git has none for "
                "127.0.0.1: LFS inputs not checked; store them with a credential helper "
                "(`git config credential.helper store`, then `git lfs fetch` once asks for them)"
            ),
        }
        assert server.authorizations == []


def test_credentials_from_git_credential_reach_the_lfs_server_and_nothing_else(
    tmp_path: Path,
) -> None:
    helper = tmp_path / "credential-helper"
    helper.write_text(f"#!/bin/sh\necho username=ada\necho password={PASSWORD}\n")
    helper.chmod(0o755)
    with serve(credentials=("ada", PASSWORD)) as server:
        repo = _registered(tmp_path, server.url)
        sh("git", "config", "credential.helper", str(helper), cwd=repo)
        assert _data_check(repo) == _not_in_store(repo)
        assert len(server.authorizations) == 1  # sent once, after the 401 without them
        shown = lineage(repo, "audit", "churn/1", check=False)
        sh("git", "lfs", "push", "origin", "main", cwd=repo)
        assert _data_check(repo)["result"] == "pass"
    assert shown.returncode == 1
    assert "not in the LFS store of 'origin'" in shown.stdout
    assert PASSWORD not in shown.stdout + shown.stderr
    stored = [p.read_bytes() for p in repo.rglob("*") if p.is_file()]  # records, mlflow.db
    records = sh("git", "log", "-p", "--all", cwd=repo).stdout
    assert not any(PASSWORD.encode() in content for content in stored)
    assert PASSWORD not in records


def test_audit_warns_that_an_ssh_lfs_store_is_not_checked(tmp_path: Path) -> None:
    repo = _registered(tmp_path)
    sh("git", "remote", "set-url", "origin", "git@example.com:org/dataset.git", cwd=repo)
    assert _data_check(repo) == {
        "name": "data",
        "result": "warn",
        "reason": (
            "the LFS store of 'origin' is reached over SSH, which lineage does not check: "
            "LFS inputs not checked (`git lfs push --object-id origin OID` sends any missing)"
        ),
    }


def test_audit_warns_when_the_lfs_server_cannot_be_reached(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}/org/dataset.git/info/lfs"
    repo = _registered(tmp_path, url)
    check = _data_check(repo)
    assert check["result"] == "warn"
    assert check["reason"].startswith(f"cannot reach the LFS server at {url} (")
    assert check["reason"].endswith(
        "): LFS inputs not checked; check the network and the URL (`git config lfs.url`)"
    )
