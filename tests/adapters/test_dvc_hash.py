"""lineage.adapters.dvc_hash against the real DVC CLI: our hashes must be the ones DVC writes,
and an unchanged file is never hashed twice."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineage.adapters.dvc import (
    MD5_DOS2UNIX,
    read_dvc_file,
    read_dvc_lock,
)
from lineage.adapters.dvc_hash import StatCache, check_workspace
from lineage.records import STATE_MATCH, STATE_MISSING, STATE_MODIFIED, Data
from tests.adapters.dvc_helpers import age, dvc_outs, make_dataset, md5_of, write
from tests.conftest import sh


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[StatCache]:
    with StatCache(tmp_path / "git-dir" / "lineage" / "statcache.sqlite") as stat_cache:
        yield stat_cache


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


def test_a_batch_of_the_stat_cache_writes_once_at_its_end_and_reads_its_own_rows(
    tmp_path: Path,
) -> None:
    """`reproduce` verifies thousands of restored files in one batch: what it learns waits in
    memory (answering lookups there) and is committed once, when the batch ends."""
    root = tmp_path / "work"
    files = [write(root / f"f{n}.bin", os.urandom(1000 + n)) for n in range(3)]
    age(*files)
    db = tmp_path / "statcache.sqlite"
    with StatCache(db) as cache, cache.batched() as batch, StatCache(db) as other:
        for f in files:
            assert batch.file_md5(root, f.name)[0] == md5_of(f)
        batch.remember(root / "f0.bin", md5_of(files[0]))
        assert batch.file_md5(root, "f1.bin")[0] == md5_of(files[1])
        assert cache.hashed_files == 3  # the second lookup of f1 was answered by the batch
        with batch.batched():  # nested: the outer batch writes
            batch.file_md5(root, "f2.bin")
        assert other.file_md5(root, "f0.bin")[0] == md5_of(files[0])
        assert other.hashed_files == 1  # nothing written yet: the other reader hashed
    with StatCache(db) as after:
        assert [after.file_md5(root, f.name)[0] for f in files] == [md5_of(f) for f in files]
        assert after.hashed_files == 0  # all three written when the batch ended


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
        "import sys; from pathlib import Path; from lineage.adapters.dvc_hash import StatCache\n"
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
