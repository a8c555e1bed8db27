"""lineage.adapters.dvc against the real DVC CLI: our hashes must be the ones DVC writes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml

from lineage.adapters.dvc import (
    MD5_DOS2UNIX,
    PointerEntry,
    StatCache,
    check_workspace,
    find_pointer_files,
    is_dvc_repo,
    lock_stages,
    pointers_at_tree,
    read_dvc_file,
    read_dvc_lock,
    stages_at_tree,
)
from lineage.errors import NotARepositoryError, UnsafePathError
from lineage.records import STATE_MATCH, STATE_MISSING, STATE_MODIFIED, Data
from tests.conftest import BIN, sh

PREPARE = """\
import pathlib, sys
rows = pathlib.Path(sys.argv[1]).read_text().splitlines()
out = pathlib.Path(sys.argv[2])
out.mkdir(exist_ok=True)
(out / "header.csv").write_text(rows[0] + "\\n")
(out / "rows.csv").write_text("\\n".join(rows[1:]) + "\\n")
"""

FIT = """\
import pathlib, sys
rows = (pathlib.Path(sys.argv[1]) / "rows.csv").read_text()
pathlib.Path(sys.argv[2]).write_text(f"model {sys.argv[2]} on {len(rows)} bytes\\n")
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python src/prepare.py data/raw.csv data/prepared
    deps: [src/prepare.py, data/raw.csv]
    params: [threshold]
    outs: [data/prepared]
  train:
    foreach: [a, b]
    do:
      wdir: models
      cmd: python ../src/fit.py ../data/prepared model-${item}.txt
      deps: [../src/fit.py, ../data/prepared]
      outs: ["model-${item}.txt"]
"""

SUB_PIPELINE = """\
stages:
  report:
    cmd: wc -l ../data/raw.csv > report.txt
    deps: [../data/raw.csv]
    outs: [report.txt]
"""


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def dvc_outs(root: Path, pointer: str) -> list[dict[str, Any]]:
    """The outs exactly as DVC wrote them, read without our parser."""
    outs: list[dict[str, Any]] = yaml.safe_load((root / pointer).read_text())["outs"]
    return outs


def age(*paths: Path, seconds: float = 3600) -> None:
    """Set mtimes in the past, out of StatCache's racy window (files, or whole trees)."""
    when = time.time() - seconds
    for path in paths:
        targets = [path, *path.rglob("*")] if path.is_dir() else [path]
        for target in targets:
            os.utime(target, (when, when), follow_symlinks=False)


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def make_dataset(directory: Path) -> None:
    """Nested subdirectories, unicode and spaces, an empty file, names that sort trickily."""
    write(directory / "a.csv", "id,value\n1,10\n")
    write(directory / "empty", b"")
    write(directory / "sub" / "deeper" / "weights.bin", bytes(range(256)) * 6000)  # > 1 MiB
    write(directory / "sub-dash" / "c.txt", "dash sorts before slash\n")
    write(directory / "sub.txt", "dot sorts before slash too\n")
    write(directory / "ünïcødé" / "名 前" / "with space.txt", "unicode\r\nand CRLF\r\n")
    (directory / "emptydir").mkdir()


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[StatCache]:
    with StatCache(tmp_path / "git-dir" / "lineage" / "statcache.sqlite") as stat_cache:
        yield stat_cache


def hermetic_env(home: Path) -> dict[str, str]:
    """conftest's hermetic environment, for a fixture built once per module (before it runs)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "MLFLOW_", "LINEAGE_", "DVC_"))
    }
    (home / "templates").mkdir(parents=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TEMPLATE_DIR=str(home / "templates"),
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(home / ".dvc-site"),
        PYTHONWARNINGS="ignore",
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
    )
    return env


@pytest.fixture(scope="module")
def pipeline_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DVC repository with raw data and a committed pipeline run by `dvc repro`: a foreach
    stage with a wdir, and a nested sub/dvc.yaml. Built once: each DVC command takes ~1 s."""
    base = tmp_path_factory.mktemp("pipeline")
    env = hermetic_env(base / "home")
    root = base / "repo"
    write(root / "data" / "raw.csv", "id,value\n1,10\n2,20\n3,30\n")
    write(root / "src" / "prepare.py", PREPARE)
    write(root / "src" / "fit.py", FIT)
    write(root / "params.yaml", "threshold: 0.5\n")
    write(root / "dvc.yaml", PIPELINE)
    (root / "models").mkdir()
    write(root / "sub" / "dvc.yaml", SUB_PIPELINE)
    sh("git", "init", "-q", cwd=root, env=env)
    sh("dvc", "init", "-q", cwd=root, env=env)
    sh("dvc", "add", "-q", "data/raw.csv", cwd=root, env=env)
    sh("dvc", "repro", "-q", "dvc.yaml", "sub/dvc.yaml", cwd=root, env=env)
    sh("git", "add", "-A", cwd=root, env=env)
    sh("git", "commit", "-q", "-m", "Track raw data and the pipeline", cwd=root, env=env)
    return root


@pytest.fixture
def pipeline_repo(pipeline_template: Path, tmp_path: Path) -> Path:
    """A private copy of pipeline_template for a test to change."""
    return Path(shutil.copytree(pipeline_template, tmp_path / "repo", symlinks=True))


def test_is_dvc_repo_tells_a_dvc_repository_from_a_plain_git_one(git_repo: Path) -> None:
    assert not is_dvc_repo(git_repo)
    sh("dvc", "init", "-q", cwd=git_repo)
    assert is_dvc_repo(git_repo)


def test_file_md5_equals_what_dvc_add_wrote(pipeline_repo: Path, cache: StatCache) -> None:
    root = pipeline_repo
    write(pipeline_repo / "data" / "model.bin", bytes(range(256)) * 5000)  # spans two 1 MiB chunks
    write(pipeline_repo / "data" / "empty.txt", b"")
    write(pipeline_repo / "data" / "crlf.txt", "a\r\nb\r\n")  # DVC 3 does not normalise line ends
    sh("dvc", "add", "-q", "data/model.bin", "data/empty.txt", "data/crlf.txt", cwd=pipeline_repo)

    for name in ("raw.csv", "model.bin", "empty.txt", "crlf.txt"):
        (out,) = dvc_outs(pipeline_repo, f"data/{name}.dvc")
        assert cache.file_md5(pipeline_repo, f"data/{name}") == (out["md5"], out["size"])
    assert cache.file_md5(root, "data/empty.txt") == ("d41d8cd98f00b204e9800998ecf8427e", 0)
    assert cache.file_md5(root, "data/crlf.txt")[0] == hashlib.md5(b"a\r\nb\r\n").hexdigest()


def test_dir_md5_equals_the_dir_hash_dvc_add_wrote(pipeline_repo: Path, cache: StatCache) -> None:
    make_dataset(pipeline_repo / "data" / "images")
    write(pipeline_repo / "data" / "target.txt", "a symlinked file is followed\n")
    (pipeline_repo / "data" / "images" / "link.txt").symlink_to("../target.txt")
    (pipeline_repo / "data" / "images" / "linkdir").symlink_to("sub")  # a symlinked dir is skipped
    sh("dvc", "add", "-q", "data/images", cwd=pipeline_repo)

    (out,) = dvc_outs(pipeline_repo, "data/images.dvc")
    assert out["md5"].endswith(".dir")
    assert out["nfiles"] == 7
    assert cache.dir_md5(pipeline_repo, "data/images") == (out["md5"], out["size"], out["nfiles"])
    # The manifest we hashed is byte for byte the object DVC stored in its cache.
    md5 = out["md5"].removesuffix(".dir")
    stored = pipeline_repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / f"{md5[2:]}.dir"
    assert hashlib.md5(stored.read_bytes()).hexdigest() == md5
    assert [e["relpath"] for e in json.loads(stored.read_bytes())] == [
        "a.csv",
        "empty",
        "link.txt",
        "sub-dash/c.txt",
        "sub.txt",
        "sub/deeper/weights.bin",
        "ünïcødé/名 前/with space.txt",
    ]


def test_dir_md5_follows_dvcignore_and_dvc_default_ignores(
    pipeline_repo: Path,
    cache: StatCache,
) -> None:
    data = pipeline_repo / "data" / "set"
    make_dataset(data)
    write(data / "a.tmp", "ignored by the root .dvcignore\n")
    write(data / "keep.tmp", "re-included by data/.dvcignore\n")
    write(data / "scratch" / "s.txt", "ignored directory\n")
    write(data / ".git", "gitdir: elsewhere\n")
    write(data / ".hg" / "store", "mercurial\n")
    write(data / "nested" / ".dvc" / "config", "")  # a nested DVC repository
    write(data / "nested" / "n.txt", "inside the nested repository\n")
    with (pipeline_repo / ".dvcignore").open("a") as fobj:
        fobj.write("*.tmp\n")
    write(pipeline_repo / "data" / ".dvcignore", "# comment\nscratch/\n!keep.tmp\n")
    sh("dvc", "add", "-q", "data/set", cwd=pipeline_repo)

    (out,) = dvc_outs(pipeline_repo, "data/set.dvc")
    assert out["nfiles"] == 7  # make_dataset's six files + keep.tmp
    assert cache.dir_md5(pipeline_repo, "data/set") == (out["md5"], out["size"], out["nfiles"])


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


def test_check_workspace_after_repro_matches_dvc_lock(
    pipeline_repo: Path,
    cache: StatCache,
) -> None:
    entries = read_dvc_lock(pipeline_repo, "dvc.lock")
    age(pipeline_repo / "data", pipeline_repo / "models")
    found = check_workspace(pipeline_repo, entries, cache)
    assert cache.hashed_files == 4  # prepared/header.csv, prepared/rows.csv, two models
    assert check_workspace(pipeline_repo, entries, cache) == found
    assert cache.hashed_files == 4  # the second look reads nothing
    assert [(d.path, d.state) for d in found] == [
        ("data/prepared", STATE_MATCH),
        ("models/model-a.txt", STATE_MATCH),
        ("models/model-b.txt", STATE_MATCH),
    ]
    assert found[0] == Data(
        path="data/prepared",
        md5=entries[2].md5,
        size=entries[2].size,
        nfiles=2,
        pointer="dvc.lock",
        stage="prepare",
    )


def test_check_workspace_reports_a_modified_stage_output_as_dvc_commit_then_records(
    pipeline_repo: Path,
    cache: StatCache,
) -> None:
    with (pipeline_repo / "models" / "model-a.txt").open("a") as fobj:
        fobj.write("hand-tuned\n")
    entries = [e for e in read_dvc_lock(pipeline_repo, "dvc.lock") if e.stage == "train@a"]
    (found,) = check_workspace(pipeline_repo, entries, cache)
    assert found.state == STATE_MODIFIED
    assert found.pointer_md5 == entries[-1].md5

    sh("dvc", "commit", "-q", "-f", "train@a", cwd=pipeline_repo)
    (committed,) = [
        e
        for e in read_dvc_lock(pipeline_repo, "dvc.lock")
        if e.stage == "train@a" and e.role == "out"
    ]
    assert (found.md5, found.size) == (committed.md5, committed.size)


def test_check_workspace_reports_match_modified_and_missing(
    pipeline_repo: Path,
    cache: StatCache,
) -> None:
    make_dataset(pipeline_repo / "data" / "images")
    sh("dvc", "add", "-q", "data/images", cwd=pipeline_repo)
    entries = read_dvc_file(pipeline_repo, "data/raw.csv.dvc") + read_dvc_file(
        pipeline_repo, "data/images.dvc"
    )
    raw, images = entries

    assert check_workspace(pipeline_repo, entries, cache) == [
        Data(path="data/raw.csv", md5=raw.md5, size=raw.size, pointer="data/raw.csv.dvc"),
        Data(
            path="data/images",
            md5=images.md5,
            size=images.size,
            nfiles=6,
            pointer="data/images.dvc",
        ),
    ]

    # Edited without `dvc add`: the record carries what `dvc add` would then write.
    with (pipeline_repo / "data" / "raw.csv").open("a") as fobj:
        fobj.write("4,40\n")
    (pipeline_repo / "data" / "images" / "a.csv").unlink()
    write(pipeline_repo / "data" / "images" / "sub" / "new.txt", "new\n")
    modified = check_workspace(pipeline_repo, entries, cache)
    assert [(d.state, d.pointer_md5) for d in modified] == [
        (STATE_MODIFIED, raw.md5),
        (STATE_MODIFIED, images.md5),
    ]
    sh("dvc", "add", "-q", "data/raw.csv", "data/images", cwd=pipeline_repo)
    (raw_out,) = dvc_outs(pipeline_repo, "data/raw.csv.dvc")
    (images_out,) = dvc_outs(pipeline_repo, "data/images.dvc")
    assert (modified[0].md5, modified[0].size) == (raw_out["md5"], raw_out["size"])
    assert (modified[1].md5, modified[1].size, modified[1].nfiles) == (
        images_out["md5"],
        images_out["size"],
        images_out["nfiles"],
    )

    (pipeline_repo / "data" / "raw.csv").unlink()
    shutil.rmtree(pipeline_repo / "data" / "images")
    assert check_workspace(pipeline_repo, entries, cache) == [
        Data(
            path="data/raw.csv",
            md5=raw.md5,
            size=raw.size,
            pointer="data/raw.csv.dvc",
            state=STATE_MISSING,
        ),
        Data(
            path="data/images",
            md5=images.md5,
            size=images.size,
            nfiles=6,
            pointer="data/images.dvc",
            state=STATE_MISSING,
        ),
    ]


def test_check_workspace_hashes_dvc2_pointers_the_dos2unix_way(
    tmp_path: Path,
    cache: StatCache,
) -> None:
    from dvc_data.hashfile.hash import file_md5 as dvc_file_md5

    text = tmp_path / "data" / "windows.csv"
    write(text, "id,value\r\n" + "1,10\r\n" * 300_000)  # ~2 MiB: the rule applies per chunk
    legacy = dvc_file_md5(str(text), name=MD5_DOS2UNIX)
    assert legacy != md5_of(text)
    write(
        tmp_path / "data" / "windows.csv.dvc",  # as DVC 2 wrote it: no `hash:` field
        f"outs:\n- md5: {legacy}\n  size: {text.stat().st_size}\n  path: windows.csv\n",
    )

    (entry,) = read_dvc_file(tmp_path, "data/windows.csv.dvc")
    assert entry.hash_name == MD5_DOS2UNIX
    (found,) = check_workspace(tmp_path, [entry], cache)
    assert (found.state, found.md5) == (STATE_MATCH, legacy)


def test_stat_cache_does_not_rehash_an_unchanged_file(tmp_path: Path) -> None:
    root = tmp_path / "work"
    big = write(root / "big.bin", os.urandom(3 << 20))
    age(big)
    db = tmp_path / "statcache.sqlite"
    with StatCache(db) as first:
        assert first.file_md5(root, "big.bin") == (md5_of(big), 3 << 20)
        assert first.file_md5(root, "big.bin") == (md5_of(big), 3 << 20)
        assert (first.hashed_files, first.hashed_bytes) == (1, 3 << 20)
    with StatCache(db) as second:  # another process, the same database
        assert second.file_md5(root, "big.bin") == (md5_of(big), 3 << 20)
        assert second.hashed_files == 0


def test_stat_cache_rehashes_after_touch_and_after_a_same_size_edit(
    tmp_path: Path,
    cache: StatCache,
) -> None:
    path = write(tmp_path / "work" / "data.csv", "a,b\n1,2\n")
    age(path, seconds=7200)
    cache.file_md5(tmp_path / "work", "data.csv")
    age(path, seconds=3600)  # `touch`: same content, new mtime
    assert cache.file_md5(tmp_path / "work", "data.csv")[0] == md5_of(path)
    assert cache.hashed_files == 2

    path.write_text("a,b\n3,4\n")  # the same size: only the mtime tells
    age(path, seconds=1800)
    assert cache.file_md5(tmp_path / "work", "data.csv") == (md5_of(path), 8)
    assert cache.hashed_files == 3


def test_stat_cache_does_not_trust_a_file_written_within_the_racy_window(
    tmp_path: Path,
    cache: StatCache,
) -> None:
    write(tmp_path / "work" / "fresh.txt", "just written\n")
    cache.file_md5(tmp_path / "work", "fresh.txt")
    cache.file_md5(tmp_path / "work", "fresh.txt")
    assert cache.hashed_files == 2


def test_stat_cache_rehashes_only_the_changed_files_of_a_directory(
    tmp_path: Path,
    cache: StatCache,
) -> None:
    root = tmp_path / "work"
    make_dataset(root / "images")
    age(root / "images")
    first = cache.dir_md5(root, "images")
    assert cache.hashed_files == 6
    assert cache.dir_md5(root, "images") == first
    assert cache.hashed_files == 6

    write(root / "images" / "sub.txt", "changed\n")
    age(root / "images" / "sub.txt", seconds=60)
    second = cache.dir_md5(root, "images")
    assert second[0] != first[0]
    assert cache.hashed_files == 7


def test_stat_cache_is_shared_by_concurrent_processes(tmp_path: Path) -> None:
    root = tmp_path / "work"
    for i in range(300):
        write(root / "many" / f"{i % 7}" / f"f{i}.txt", f"file {i}\n")
    age(root / "many")
    script = (
        "import sys; from pathlib import Path; from lineage.adapters.dvc import StatCache\n"
        "with StatCache(Path(sys.argv[1])) as c:\n"
        "    for _ in range(5): print(c.dir_md5(Path(sys.argv[2]), 'many'))\n"
    )
    db = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(db), str(root)],
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, outputs
    with StatCache(tmp_path / "reference.sqlite") as reference:
        expected = str(reference.dir_md5(root, "many"))
    assert {line for out, _ in outputs for line in out.splitlines()} == {expected}


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
    assert [s.name for s in stages_at_tree(read_blob, paths)] == [
        "prepare",
        "train@a",
        "train@b",
    ]


def dvc_outs_text(text: str) -> list[dict[str, Any]]:
    outs: list[dict[str, Any]] = yaml.safe_load(text)["outs"]
    return outs


def test_the_hook_path_imports_neither_dvc_nor_mlflow(pipeline_repo: Path, tmp_path: Path) -> None:
    script = f"""
import sys
from pathlib import Path
from lineage.adapters import dvc
root = Path({str(pipeline_repo)!r})
entries = [e for p in dvc.find_pointer_files(root) for e in (
    dvc.read_dvc_lock(root, p) if p.endswith("dvc.lock") else dvc.read_dvc_file(root, p))]
with dvc.StatCache(Path({str(tmp_path / "sc.sqlite")!r})) as cache:
    states = {{d.state for d in dvc.check_workspace(root, entries, cache)}}
dvc.lock_stages(root)
heavy = {{"dvc", "dvc_data", "dvc_objects", "mlflow", "networkx", "pathspec"}}
print(sorted(states), sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""
    proc = sh(sys.executable, "-c", script, cwd=tmp_path)
    assert proc.stdout.strip() == "['match'] []"
