"""`lineage run` on data versioned with Git LFS (a Hugging Face dataset repository's layout,
tests/layouts/hf_dataset.py), and the read commands that name it: `show`, `impact`, `diff`,
`graph`, by oid, oid prefix, path and path@oid."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import sh
from tests.helpers import lineage, lineage_json
from tests.layouts import hf_dataset


def _oid(repo: Path, path: str) -> str:
    pointer = sh("git", "show", f"HEAD:{path}", cwd=repo).stdout
    return pointer.split("oid sha256:")[1][:64]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return hf_dataset.build(tmp_path / "repo", tmp_path / "remote.git")


def _run(repo: Path) -> tuple[str, dict[str, object]]:
    done = lineage(repo, "run", "--", "python", "train.py")
    run = lineage_json(repo, "log")[0]["run"]
    return done.stderr, lineage_json(repo, "show", run)["record"]


def test_run_records_each_lfs_file_by_oid_and_size(project: Path) -> None:
    _, record = _run(project)
    assert record["inputs"] == [
        {
            "md5": f"sha256:{_oid(project, path)}",
            "nfiles": None,
            "path": path,
            "pointer": None,
            "pointer_md5": None,
            "size": (project / path).stat().st_size,
            "stage": None,
            "state": "match",
        }
        for path in (hf_dataset.TEST_SHARD, hf_dataset.TRAIN_SHARD)
    ]


def test_a_modified_lfs_file_records_the_hash_present_flagged(project: Path) -> None:
    shard = project / hf_dataset.TEST_SHARD
    shard.write_bytes(shard.read_bytes() + b"test,new,row\n")
    present = hashlib.sha256(shard.read_bytes()).hexdigest()
    stderr, record = _run(project)
    [test, _] = record["inputs"]
    assert (test["md5"], test["state"], test["pointer_md5"]) == (
        f"sha256:{present}",
        "modified",
        f"sha256:{_oid(project, hf_dataset.TEST_SHARD)}",
    )
    assert (
        f"lineage: {hf_dataset.TEST_SHARD} is modified compared with its Git LFS pointer; "
        f"recording the hash actually present (sha256:{present[:10]}); `git add` it to update "
        "the pointer\n"
    ) in stderr


def test_lfs_data_is_named_by_oid_prefix_and_path_at_oid(project: Path) -> None:
    _run(project)
    oid = _oid(project, hf_dataset.TRAIN_SHARD)
    for ref in (f"sha256:{oid[:8]}", oid[:8], f"{hf_dataset.TRAIN_SHARD}@{oid[:6]}"):
        shown = lineage(project, "show", ref).stdout
        assert shown.startswith(f"data sha256:{oid}"), ref
    missing = lineage(project, "show", "sha256:0000ffff", check=False)
    assert (missing.returncode, missing.stderr) == (
        1,
        "lineage: error: no recorded Git LFS data has an oid starting 'sha256:0000ffff'; "
        "`git lfs ls-files -l` lists the oids in this tree\n",
    )


def test_impact_and_diff_follow_lfs_versions(project: Path) -> None:
    _run(project)
    shard = project / hf_dataset.TEST_SHARD
    old = _oid(project, hf_dataset.TEST_SHARD)
    shard.write_bytes(shard.read_bytes() + b"test,new,row\n")
    _run(project)
    new = hashlib.sha256(shard.read_bytes()).hexdigest()
    second, first = (entry["run"] for entry in lineage_json(project, "log"))
    diff = lineage(project, "diff", first, second).stdout
    assert f"{hf_dataset.TEST_SHARD}   sha256:{old[:12]} -> sha256:{new[:12]}" in diff
    impact = lineage(project, "impact", f"sha256:{old}").stdout
    assert "0 model versions and 1 run depend on it" in impact
    graph = lineage(project, "graph", second, "--format", "text").stdout
    assert f"data {hf_dataset.TEST_SHARD}  sha256:{new[:10]}" in graph
