"""lineage.adapters.dvc_link against real DVC caches: objects linked or copied into a work tree
exactly as `dvc checkout` would, verified, and the cache never written through a link."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from lineage.adapters.dvc_config import cache_config
from lineage.adapters.dvc_hash import StatCache
from lineage.adapters.dvc_link import (
    ObjectNotInCacheError,
    links_protect_cache,
    materialize,
    verify,
)
from lineage.adapters.dvc_store import object_path, read_manifest
from tests.adapters.dvc_helpers import ABSENT, IMAGES, cache_dir, md5_of, pointer_md5


@pytest.mark.parametrize("link_type", ["copy", "hardlink", "symlink"])
def test_materialize_links_a_file_from_the_cache(
    dvc_repo: Path, tmp_path: Path, link_type: str
) -> None:
    raw = pointer_md5(dvc_repo, "data/raw.csv.dvc")
    cached = object_path(cache_dir(dvc_repo), raw)
    cached.chmod(0o644)  # materialize must protect the cache object before linking it
    dest = tmp_path / "worktree" / "data" / "raw.csv"

    used = materialize(cache_config(dvc_repo), raw, dest, link_types=[link_type])

    assert used == link_type
    assert md5_of(dest) == raw
    same_inode = os.stat(dest).st_ino == cached.stat().st_ino
    assert same_inode is (link_type != "copy")
    assert dest.is_symlink() is (link_type == "symlink")
    if link_type == "symlink":
        assert os.readlink(dest) == str(cached)
    if link_type != "copy":
        assert stat.S_IMODE(cached.stat().st_mode) == 0o444
    assert os.listdir(dest.parent) == ["raw.csv"]  # no temporary left behind


def test_materialize_falls_back_from_reflink(dvc_repo: Path, tmp_path: Path) -> None:
    raw = pointer_md5(dvc_repo, "data/raw.csv.dvc")
    dest = tmp_path / "out.csv"
    dest.write_text("stale\n")

    used = materialize(cache_config(dvc_repo), raw, dest, link_types=["reflink", "copy"])

    assert used in ("reflink", "copy")  # ext4 has no reflinks; btrfs and XFS do
    assert md5_of(dest) == raw


def test_materialize_restores_a_whole_directory_over_what_was_there(
    images_repo: Path, tmp_path: Path
) -> None:
    images = pointer_md5(images_repo, "data/images.dvc")
    cache = cache_config(images_repo)
    dest = tmp_path / "worktree" / "data" / "images"
    dest.parent.mkdir(parents=True)
    dest.write_text("a file where the directory goes\n")

    assert materialize(cache, images, dest, link_types=["hardlink", "copy"]) == "hardlink"
    assert materialize(cache, images, dest, link_types=["copy"]) == "copy"

    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == sorted(IMAGES)
    assert all((dest / rel).read_text() == text for rel, text in IMAGES.items())
    assert os.listdir(dest.parent) == ["images"]
    with StatCache(tmp_path / "stat.sqlite") as stat_cache:
        assert verify(cache, images, dest, stat_cache)


def test_materialize_replaces_a_directory_and_drops_stale_files(
    images_repo: Path, tmp_path: Path
) -> None:
    images = pointer_md5(images_repo, "data/images.dvc")
    dest = tmp_path / "images"
    (dest / "old").mkdir(parents=True)
    (dest / "old" / "stale.txt").write_text("stale\n")

    materialize(cache_config(images_repo), images, dest, link_types=["copy"])

    assert not (dest / "old").exists()
    assert (dest / "sub" / "deep" / "d.txt").read_text() == "d\n"


def test_verify_detects_a_modified_file_and_directory(images_repo: Path, tmp_path: Path) -> None:
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")
    images = pointer_md5(images_repo, "data/images.dvc")
    cache = cache_config(images_repo)
    materialize(cache, raw, tmp_path / "raw.csv", link_types=["copy"])
    materialize(cache, images, tmp_path / "images", link_types=["copy"])

    with StatCache(tmp_path / "stat.sqlite") as stat_cache:
        assert verify(cache, raw, tmp_path / "raw.csv", stat_cache)
        assert verify(cache, images, tmp_path / "images", stat_cache)
        (tmp_path / "raw.csv").write_text("id,value\n1,11\n")
        (tmp_path / "images" / "sub" / "c.txt").write_text("tampered\n")
        assert not verify(cache, raw, tmp_path / "raw.csv", stat_cache)
        assert not verify(cache, images, tmp_path / "images", stat_cache)
        assert not verify(cache, raw, tmp_path / "nothing", stat_cache)
        assert not verify(cache, raw, tmp_path / "images", stat_cache)  # a directory is not a file


def test_verify_of_linked_data_hashes_each_cache_object_once(
    images_repo: Path, tmp_path: Path
) -> None:
    images = pointer_md5(images_repo, "data/images.dvc")
    cache = cache_config(images_repo)
    # Objects written in the last 2 s are not cached (racy); these were `dvc add`ed a minute ago.
    for obj in (cache.cache_dir / "files").rglob("*"):
        if obj.is_file():
            os.utime(obj, (time.time() - 60, time.time() - 60))
    with StatCache(tmp_path / "stat.sqlite") as stat_cache:
        for n in range(2):  # two worktrees restoring the same object
            dest = tmp_path / f"wt{n}" / "images"
            assert materialize(cache, images, dest, link_types=["hardlink"]) == "hardlink"
            before = stat_cache.hashed_files
            assert verify(cache, images, dest, stat_cache)
            hashed = stat_cache.hashed_files - before
            assert hashed == (len(IMAGES) if n == 0 else 0)
            # What `lineage run` in the worktree then asks costs no reading either.
            assert stat_cache.dir_md5(dest.parent, dest.name)[0] == images
            assert stat_cache.hashed_files - before == hashed
        (dest / "stray.txt").write_text("not in the manifest\n")
        assert not verify(cache, images, dest, stat_cache)


def test_materialize_of_an_absent_object_is_a_clean_error(
    images_repo: Path, tmp_path: Path
) -> None:
    cache = cache_config(images_repo)
    images = pointer_md5(images_repo, "data/images.dvc")
    manifest = dict(read_manifest(cache.cache_dir, images) or [])
    object_path(cache.cache_dir, manifest["a.txt"]).unlink()

    with pytest.raises(ObjectNotInCacheError) as error:
        materialize(cache, ABSENT, tmp_path / "out" / "raw.csv", link_types=["copy"])
    assert str(error.value) == (
        f"data md5 {ABSENT} cannot be restored: it is not in the DVC cache {cache.cache_dir}; "
        "fetch it first (`dvc fetch`, or `dvc push` from the machine that made it)"
    )
    with pytest.raises(ObjectNotInCacheError, match="1 of its files are not in the DVC cache"):
        materialize(cache, images, tmp_path / "out" / "images", link_types=["copy"])
    assert not (tmp_path / "out").exists()


def test_links_protect_the_cache_only_for_non_root() -> None:
    assert links_protect_cache() is (os.geteuid() != 0)
