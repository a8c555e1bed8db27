"""lineage.adapters.dvc against the real DVC CLI: DVC's files read as DVC reads them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml

from lineage.adapters import dvc
from lineage.adapters.dvc import (
    MD5_DOS2UNIX,
    PointerEntry,
    find_pointer_files,
    is_dvc_repo,
    lock_stages,
    pointers_at_tree,
    read_dvc_file,
    read_dvc_lock,
)
from lineage.errors import NotARepositoryError, UnsafePathError
from lineage.records import Data
from tests.adapters.dvc_helpers import PIPELINE, PREPARE, dvc_outs, md5_of, write
from tests.conftest import sh


def test_is_dvc_repo_tells_a_dvc_repository_from_a_plain_git_one(git_repo: Path) -> None:
    assert not is_dvc_repo(git_repo)
    sh("dvc", "init", "-q", cwd=git_repo)
    assert is_dvc_repo(git_repo)


def test_read_dvc_file_makes_paths_repository_relative(pipeline_repo: Path) -> None:
    (out,) = dvc_outs(pipeline_repo, "data/raw.csv.dvc")
    assert read_dvc_file(pipeline_repo, "data/raw.csv.dvc") == [
        PointerEntry(
            path="data/raw.csv",
            md5=out["md5"],
            size=out["size"],
            nfiles=None,
            pointer="data/raw.csv.dvc",
            stage=None,
            role="out",
        ),
    ]


def test_lock_stages_after_dvc_repro_name_every_dep_and_out(pipeline_repo: Path) -> None:
    root = pipeline_repo
    stages = {stage.name: stage for stage in lock_stages(root)}
    assert list(stages) == ["prepare", "train@a", "train@b", "sub/dvc.yaml:report"]
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]

    prepare = stages["prepare"]
    assert prepare.cmd == "python src/prepare.py data/raw.csv data/prepared"
    assert prepare.deps == (
        Data(
            path="data/raw.csv",
            md5=md5_of(root / "data" / "raw.csv"),
            size=(root / "data" / "raw.csv").stat().st_size,
            pointer="dvc.lock",
            stage="prepare",
        ),
        Data(
            path="src/prepare.py",
            md5=md5_of(root / "src" / "prepare.py"),
            size=len(PREPARE),
            pointer="dvc.lock",
            stage="prepare",
        ),
    )
    (prepared,) = prepare.outs
    assert (prepared.path, prepared.nfiles, prepared.pointer) == ("data/prepared", 2, "dvc.lock")
    assert prepared.md5 == lock["prepare"]["outs"][0]["md5"]

    train = stages["train@b"]  # paths in dvc.lock are relative to the stage's wdir
    assert train.cmd == "python ../src/fit.py ../data/prepared model-b.txt"
    assert [(d.path, d.md5) for d in train.deps] == [
        ("data/prepared", prepared.md5),
        ("src/fit.py", md5_of(root / "src" / "fit.py")),
    ]
    assert [(o.path, o.md5, o.stage) for o in train.outs] == [
        ("models/model-b.txt", md5_of(root / "models" / "model-b.txt"), "train@b"),
    ]

    report = stages["sub/dvc.yaml:report"]
    assert [(d.path, d.pointer) for d in report.deps] == [("data/raw.csv", "sub/dvc.lock")]
    assert [(o.path, o.md5) for o in report.outs] == [
        ("sub/report.txt", md5_of(root / "sub" / "report.txt")),
    ]


@pytest.mark.parametrize(
    ("pointer", "text"),
    [
        (
            "data/evil.dvc",
            "outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  path: ../../etc/passwd\n",
        ),
        ("evil.dvc", "outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  path: /etc/passwd\n"),
        ("evil.dvc", "outs:\n- path: ../outside\n  cache: false\n"),  # even without md5
        ("evil.dvc", "wdir: ..\nouts:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  path: x\n"),
    ],
)
def test_a_dvc_file_naming_a_path_outside_the_repository_is_refused(
    tmp_path: Path,
    pointer: str,
    text: str,
) -> None:
    write(tmp_path / pointer, text)
    with pytest.raises(UnsafePathError, match="is outside the repository"):
        read_dvc_file(tmp_path, pointer)


def test_a_dvc_lock_naming_a_path_outside_the_repository_is_refused(tmp_path: Path) -> None:
    lock = (
        "schema: '2.0'\nstages:\n  s:\n    cmd: make\n    outs:\n"
        "    - path: ../../outside.bin\n      hash: md5\n"
        "      md5: d41d8cd98f00b204e9800998ecf8427e\n"
    )
    with pytest.raises(UnsafePathError) as caught:
        read_dvc_lock(tmp_path, "dvc.lock", lock)
    assert caught.value.path == "../../outside.bin"


def test_external_dependencies_and_entries_without_md5_are_skipped(tmp_path: Path) -> None:
    lock = """\
schema: '2.0'
stages:
  s:
    cmd: [python fetch.py, python clean.py]
    deps:
    - path: s3://bucket/raw.csv
      etag: abc
    - path: /mnt/shared/lookup.csv
      hash: md5
      md5: 0cc175b9c0f1b6a831c399e269772661
    - path: fetch.py
      hash: md5
      md5: 92eb5ffee6ae2fec3ad71c777531578f
      size: 1
    params:
      params.yaml:
        lr: 0.1
    outs:
    - path: clean.csv
      hash: md5
      md5: 4a8a08f09d37b73795649038408b5f33
      size: 1
"""
    (stage,) = lock_stages(tmp_path, lock)
    assert stage.cmd == "python fetch.py && python clean.py"
    assert [d.path for d in stage.deps] == ["fetch.py"]
    assert [o.path for o in stage.outs] == ["clean.csv"]


def test_legacy_lock_formats_are_read(tmp_path: Path) -> None:
    dvc1 = (
        "train:\n  cmd: python train.py\n  deps:\n  - path: data.csv\n"
        "    md5: 8d777f385d3dfec8815d20f7496026dc\n  outs:\n  - path: model.pkl\n"
        "    md5: 0cc175b9c0f1b6a831c399e269772661\n"
    )
    dvc2 = (
        "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    outs:\n"
        "    - path: model.pkl\n      md5: 0cc175b9c0f1b6a831c399e269772661\n      size: 1\n"
    )
    assert [
        (e.path, e.role, e.stage, e.hash_name) for e in read_dvc_lock(tmp_path, "dvc.lock", dvc1)
    ] == [
        ("data.csv", "dep", "train", MD5_DOS2UNIX),
        ("model.pkl", "out", "train", MD5_DOS2UNIX),
    ]
    (out,) = read_dvc_lock(tmp_path, "dvc.lock", dvc2)
    assert (out.path, out.size, out.hash_name) == ("model.pkl", 1, MD5_DOS2UNIX)


def test_find_pointer_files_lists_every_pointer_git_does_not_ignore(pipeline_repo: Path) -> None:
    root = pipeline_repo
    write(root / "extra.csv.dvc", "outs: []\n")  # untracked
    write(root / "ignored" / "x.dvc", "outs: []\n")
    write(root / "notes" / "mydvc.lock", "")
    with (root / ".gitignore").open("a") as fobj:
        fobj.write("ignored/\n")
    write(root / "gone.dvc", "outs: []\n")
    sh("git", "add", "gone.dvc", cwd=root)
    (root / "gone.dvc").unlink()  # still in the index, no longer in the workspace
    assert find_pointer_files(root) == [
        "data/raw.csv.dvc",
        "dvc.lock",
        "extra.csv.dvc",
        "sub/dvc.lock",
    ]


def test_find_pointer_files_outside_a_git_repository_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="is not inside a Git repository"):
        find_pointer_files(tmp_path)


def test_pointers_at_tree_read_another_commit_without_checking_it_out(
    pipeline_repo: Path,
) -> None:
    root = pipeline_repo
    committed = {
        path: sh("git", "show", f"HEAD:{path}", cwd=root).stdout
        for path in ("data/raw.csv.dvc", "dvc.lock")
    }
    write(root / "data" / "raw.csv", "id,value\n9,90\n")  # a new data version, not committed
    sh("dvc", "add", "-q", "data/raw.csv", cwd=root)
    sh("dvc", "repro", "-q", cwd=root)

    tree = pygit2.Repository(str(root)).revparse_single("HEAD").peel(pygit2.Tree)

    def read_blob(path: str) -> str | None:
        try:
            return tree[path].data.decode("utf-8")
        except KeyError:
            return None

    paths = ["data/raw.csv.dvc", "dvc.lock", "no/such.dvc"]
    at_head = pointers_at_tree(read_blob, paths)
    assert at_head == (
        read_dvc_file(root, "data/raw.csv.dvc", committed["data/raw.csv.dvc"])
        + read_dvc_lock(root, "dvc.lock", committed["dvc.lock"], pipeline_text=PIPELINE)
    )
    (raw_at_head,) = dvc_outs_text(committed["data/raw.csv.dvc"])
    assert at_head[0].md5 == raw_at_head["md5"]
    assert at_head[0].md5 != read_dvc_file(root, "data/raw.csv.dvc")[0].md5
    assert ("models/model-a.txt", "train@a") in {(e.path, e.stage) for e in at_head}
    assert sorted({e.stage for e in at_head if e.stage}) == ["prepare", "train@a", "train@b"]


def dvc_outs_text(text: str) -> list[dict[str, Any]]:
    outs: list[dict[str, Any]] = yaml.safe_load(text)["outs"]
    return outs


def test_the_hook_path_imports_neither_dvc_nor_mlflow(pipeline_repo: Path, tmp_path: Path) -> None:
    script = f"""
import sys
from pathlib import Path
from lineage.adapters import dvc, dvc_hash
root = Path({str(pipeline_repo)!r})
entries = [e for p in dvc.find_pointer_files(root) for e in (
    dvc.read_dvc_lock(root, p) if p.endswith("dvc.lock") else dvc.read_dvc_file(root, p))]
with dvc_hash.StatCache(Path({str(tmp_path / "sc.sqlite")!r})) as cache:
    states = {{d.state for d in dvc_hash.check_workspace(root, entries, cache)}}
dvc.lock_stages(root)
heavy = {{"dvc", "dvc_data", "dvc_objects", "mlflow", "networkx", "pathspec"}}
print(sorted(states), sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""
    proc = sh(sys.executable, "-c", script, cwd=tmp_path)
    assert proc.stdout.strip() == "['match'] []"


def test_stage_addresses_are_dvcs_own() -> None:
    assert dvc.stage_address("dvc.yaml", "train") == "train"
    assert dvc.stage_address("sub/dvc.yaml", "train@a") == "sub/dvc.yaml:train@a"


# -- output flags: what `dvc push` sends, and where (the pre-push check) ------------------------

FLAGGED_PIPELINE = """\
stages:
  featurize:
    foreach: [train, test]
    do:
      cmd: python featurize.py ${item}
      outs:
        - features/${item}.tsv:
            remote: features
      metrics:
        - features/${item}-stats.toml:
            cache: false
  train:
    wdir: models
    cmd: python train.py
    outs:
      - model.pkl
      - scratch.bin:
          push: false
    plots:
      - prc.json:
          cache: false
"""


@pytest.mark.parametrize(
    ("path", "flags"),
    [
        ("features/test.tsv", dvc.OutFlags(remote="features")),
        ("features/train-stats.toml", dvc.OutFlags(cache=False)),
        ("models/model.pkl", dvc.OutFlags()),
        ("models/scratch.bin", dvc.OutFlags(push=False)),
        ("models/prc.json", dvc.OutFlags(cache=False)),
        ("undeclared.csv", dvc.OutFlags()),
    ],
)
def test_out_flags_of_a_pipeline_follow_its_stages(path: str, flags: dvc.OutFlags) -> None:
    assert dvc.out_flags(path, {"dvc.yaml": FLAGGED_PIPELINE}) == flags


def test_out_flags_of_dvc_files_and_imports() -> None:
    added = "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  path: raw.csv\n  cache: false\n"
    imported = (
        "deps:\n- path: data.csv\n  repo:\n    url: https://example.com/r.git\n"
        "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  path: data.csv\n"
    )
    assert dvc.out_flags("data/raw.csv", {"data/raw.csv.dvc": added}) == dvc.OutFlags(cache=False)
    flags = dvc.out_flags("data.csv", {"data.csv.dvc": imported})
    assert flags.imported and not flags.pushed_by_dvc
    # The first file that declares the path decides; absent files are skipped.
    files = {"dvc.yaml": None, "data/raw.csv.dvc": added}
    assert not dvc.out_flags("data/raw.csv", files).cache


def test_the_files_that_may_declare_an_output() -> None:
    assert dvc.declaring_files("data/raw.csv", "dvc.lock") == ["dvc.yaml", "data/raw.csv.dvc"]
    assert dvc.declaring_files("sub/m.pkl", "sub/dvc.lock") == ["sub/dvc.yaml", "sub/m.pkl.dvc"]
    assert dvc.declaring_files("data/raw.csv", "data/raw.csv.dvc") == ["data/raw.csv.dvc"]
    assert dvc.declaring_files("x", None) == ["x.dvc"]
