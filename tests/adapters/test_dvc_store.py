"""lineage.adapters.dvc_store against real DVC: its cache layout, remotes, push and fetch."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

from lineage.adapters.dvc import StatCache
from lineage.adapters.dvc_store import (
    CACHE,
    MISSING,
    REMOTE,
    Availability,
    CacheConfig,
    NoRemoteError,
    ObjectNotInCacheError,
    cache_config,
    fetch,
    links_protect_cache,
    locate,
    materialize,
    missing_from_remote,
    object_path,
    read_manifest,
    verify,
)
from lineage.errors import LineageError
from tests.conftest import sh

IMAGES = {"a.txt": "alpha\n", "b.txt": "beta\n", "sub/c.txt": "gamma\n", "sub/deep/d.txt": "d\n"}
ABSENT = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def repo(dvc_repo: Path) -> Path:
    """dvc_repo plus data/images, a DVC-tracked directory of four files in nested folders."""
    for rel, text in IMAGES.items():
        (dvc_repo / "data" / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        (dvc_repo / "data" / "images" / rel).write_text(text)
    sh("dvc", "add", "-q", "data/images", cwd=dvc_repo)
    sh("git", "add", "-A", cwd=dvc_repo)
    sh("git", "commit", "-q", "-m", "Track images", cwd=dvc_repo)
    return dvc_repo


def pointer_md5(root: Path, pointer: str) -> str:
    return str(yaml.safe_load((root / pointer).read_text())["outs"][0]["md5"])


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def cache_dir(root: Path) -> Path:
    return cache_config(root).cache_dir


def test_cache_config_reads_remotes_cache_dir_and_link_types(
    dvc_repo: Path, tmp_path: Path
) -> None:
    sh("dvc", "remote", "add", "secure", "ssh://ada:s3cret@example.com/srv/dvc", cwd=dvc_repo)
    (dvc_repo / ".dvc" / "config.local").write_text(
        "[core]\n    remote = mine\n"
        '[cache]\n    dir = ../../shared-cache\n    type = "hardlink,symlink"\n'
        "['remote \"mine\"']\n    url = ../../mine\n"
    )

    config = cache_config(dvc_repo)

    assert config == CacheConfig(
        cache_dir=tmp_path / "shared-cache",  # relative to .dvc/, where the config file is
        link_types=("hardlink", "symlink"),
        default_remote="mine",  # config.local wins over config
        remotes={
            "storage": str(tmp_path / "dvc-remote"),
            "secure": "ssh://example.com/srv/dvc",
            "mine": str(tmp_path / "mine"),
        },
    )
    assert "s3cret" not in repr(config)
    from dvc.repo import Repo

    with Repo(str(dvc_repo)) as dvc:  # DVC resolves the same directory
        assert Path(dvc.cache.local.path) == tmp_path / "shared-cache" / "files" / "md5"


def test_cache_config_defaults_match_dvc(dvc_repo: Path) -> None:
    config = cache_config(dvc_repo)

    assert config.cache_dir == dvc_repo / ".dvc" / "cache"
    assert config.link_types == ("reflink", "copy")
    assert config.default_remote == "storage"


def test_object_path_is_where_dvc_add_put_a_file_and_a_directory(repo: Path) -> None:
    raw = pointer_md5(repo, "data/raw.csv.dvc")
    images = pointer_md5(repo, "data/images.dvc")

    assert object_path(cache_dir(repo), raw).read_bytes() == (repo / "data/raw.csv").read_bytes()
    assert images.endswith(".dir")
    assert object_path(cache_dir(repo), images).is_file()
    assert object_path(cache_dir(repo), images).name.endswith(".dir")


def test_read_manifest_equals_dvcs_tree(repo: Path) -> None:
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    images = pointer_md5(repo, "data/images.dvc")
    with Repo(str(repo)) as dvc:
        tree = Tree.load(dvc.cache.local, HashInfo("md5", images))
        expected = [("/".join(key), str(hash_info.value)) for key, _, hash_info in tree]

    assert read_manifest(cache_dir(repo), images) == expected
    assert sorted(rel for rel, _ in expected) == sorted(IMAGES)
    assert read_manifest(cache_dir(repo), ABSENT + ".dir") is None


def test_locate_finds_cached_data_without_importing_dvc(repo: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from lineage.adapters.dvc_store import locate\n"
        "found = locate(Path('.'), sys.argv[1:])\n"
        "print(sorted(a.where for a in found.values()), 'dvc' in sys.modules)"
    )
    ids = [pointer_md5(repo, "data/raw.csv.dvc"), pointer_md5(repo, "data/images.dvc")]

    out = sh(sys.executable, "-c", script, *ids, cwd=repo).stdout

    assert out.strip() == "['cache', 'cache'] False"


def test_locate_says_remote_after_push_and_losing_the_cache(repo: Path) -> None:
    raw = pointer_md5(repo, "data/raw.csv.dvc")
    images = pointer_md5(repo, "data/images.dvc")
    assert {a.where for a in locate(repo, [raw, images]).values()} == {CACHE}
    sh("dvc", "push", "-q", cwd=repo)
    shutil.rmtree(cache_dir(repo))

    found = locate(repo, [raw, images, ABSENT])

    assert found == {
        raw: Availability(raw, REMOTE, "storage"),
        images: Availability(images, REMOTE, "storage"),
        ABSENT: Availability(ABSENT, MISSING, "storage", (ABSENT,)),
    }


def test_locate_lists_directory_members_found_nowhere(repo: Path, tmp_path: Path) -> None:
    images = pointer_md5(repo, "data/images.dvc")
    sh("dvc", "push", "-q", cwd=repo)
    manifest = dict(read_manifest(cache_dir(repo), images) or [])
    lost = manifest["sub/c.txt"]
    object_path(cache_dir(repo), lost).unlink()
    object_path(tmp_path / "dvc-remote", lost).unlink()
    object_path(cache_dir(repo), manifest["a.txt"]).unlink()  # still in the remote

    expected = Availability(images, MISSING, "storage", (lost,))
    assert locate(repo, [images])[images] == expected
    shutil.rmtree(cache_dir(repo))  # now the manifest itself is only in the remote
    assert locate(repo, [images])[images] == expected


def test_locate_without_a_remote_says_missing_with_no_remote_name(repo: Path) -> None:
    raw = pointer_md5(repo, "data/raw.csv.dvc")
    sh("dvc", "remote", "remove", "storage", cwd=repo)

    found = locate(repo, [raw, ABSENT])

    assert found[raw].where == CACHE
    assert found[ABSENT] == Availability(ABSENT, MISSING, None, (ABSENT,))


def test_fetch_brings_remote_objects_into_the_cache_only(repo: Path) -> None:
    raw = pointer_md5(repo, "data/raw.csv.dvc")
    images = pointer_md5(repo, "data/images.dvc")
    sh("dvc", "push", "-q", cwd=repo)
    shutil.rmtree(cache_dir(repo))
    shutil.rmtree(repo / "data" / "images")
    config = (repo / ".dvc" / "config").read_bytes()
    calls: list[tuple[int, int]] = []

    failed = fetch(repo, [raw, images, ABSENT], remote=None, progress=lambda *a: calls.append(a))

    assert failed == [ABSENT]
    assert {a.where for a in locate(repo, [raw, images]).values()} == {CACHE}
    assert calls[0] == (0, 7) and calls[-1] == (6, 7)  # raw + manifest + 4 files; ABSENT never
    assert not (repo / "data" / "images").exists()  # the workspace is not checked out
    assert (repo / ".dvc" / "config").read_bytes() == config
    assert fetch(repo, [raw, images], remote="storage") == []


def test_fetch_reports_a_directory_with_a_member_lost_everywhere(
    repo: Path, tmp_path: Path
) -> None:
    images = pointer_md5(repo, "data/images.dvc")
    sh("dvc", "push", "-q", cwd=repo)
    lost = dict(read_manifest(cache_dir(repo), images) or [])["b.txt"]
    object_path(tmp_path / "dvc-remote", lost).unlink()
    shutil.rmtree(cache_dir(repo))

    assert fetch(repo, [images], remote="storage") == [images]
    assert locate(repo, [images])[images].missing == (lost,)


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
    repo: Path, tmp_path: Path
) -> None:
    images = pointer_md5(repo, "data/images.dvc")
    cache = cache_config(repo)
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


def test_materialize_replaces_a_directory_and_drops_stale_files(repo: Path, tmp_path: Path) -> None:
    images = pointer_md5(repo, "data/images.dvc")
    dest = tmp_path / "images"
    (dest / "old").mkdir(parents=True)
    (dest / "old" / "stale.txt").write_text("stale\n")

    materialize(cache_config(repo), images, dest, link_types=["copy"])

    assert not (dest / "old").exists()
    assert (dest / "sub" / "deep" / "d.txt").read_text() == "d\n"


def test_verify_detects_a_modified_file_and_directory(repo: Path, tmp_path: Path) -> None:
    raw = pointer_md5(repo, "data/raw.csv.dvc")
    images = pointer_md5(repo, "data/images.dvc")
    cache = cache_config(repo)
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


def test_verify_of_linked_data_hashes_each_cache_object_once(repo: Path, tmp_path: Path) -> None:
    images = pointer_md5(repo, "data/images.dvc")
    cache = cache_config(repo)
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


def test_materialize_of_an_absent_object_is_a_clean_error(repo: Path, tmp_path: Path) -> None:
    cache = cache_config(repo)
    images = pointer_md5(repo, "data/images.dvc")
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


def test_locate_finds_data_gc_removed_from_the_cache_in_the_remote(repo: Path) -> None:
    """A recorded md5 the workspace no longer uses: `dvc gc -w` drops it, the remote keeps it."""
    raw = pointer_md5(repo, "data/raw.csv.dvc")
    sh("dvc", "push", "-q", cwd=repo)
    sh("git", "rm", "-q", "data/raw.csv.dvc", cwd=repo)
    sh("dvc", "gc", "-w", "-f", "-q", cwd=repo)

    assert not object_path(cache_dir(repo), raw).exists()
    assert locate(repo, [raw])[raw] == Availability(raw, REMOTE, "storage")


def test_fetch_and_materialize_in_a_worktree_sharing_the_main_cache(
    repo: Path, tmp_path: Path
) -> None:
    """The `lineage reproduce` path: a fresh worktree whose config.local points at our cache."""
    images = pointer_md5(repo, "data/images.dvc")
    sh("dvc", "push", "-q", cwd=repo)
    shutil.rmtree(cache_dir(repo))
    worktree = tmp_path / "wt"
    sh("git", "worktree", "add", "-q", "--detach", worktree, cwd=repo)
    (worktree / ".dvc" / "config.local").write_text(f"[cache]\n    dir = {cache_dir(repo)}\n")

    assert fetch(worktree, [images], remote=None) == []
    assert locate(repo, [images])[images].where == CACHE  # it landed in the main cache
    cache = cache_config(worktree)
    materialize(cache, images, worktree / "data" / "images", link_types=["copy"])
    with StatCache(tmp_path / "stat.sqlite") as stat_cache:
        assert verify(cache, images, worktree / "data" / "images", stat_cache)
    assert sh("git", "status", "--porcelain", cwd=worktree).stdout == ""


def test_an_unknown_remote_is_a_clean_error(repo: Path) -> None:
    with pytest.raises(LineageError, match="DVC remote 'nope' cannot be used"):
        locate(repo, [ABSENT], remote="nope")
    with pytest.raises(LineageError, match="DVC remote 'nope' cannot be used"):
        fetch(repo, [ABSENT], remote="nope")


def test_fetch_without_a_remote_returns_what_is_not_cached(repo: Path) -> None:
    raw = pointer_md5(repo, "data/raw.csv.dvc")
    sh("dvc", "remote", "remove", "storage", cwd=repo)

    assert fetch(repo, [raw, ABSENT], remote=None) == [ABSENT]


@pytest.mark.parametrize("through", ["directory", "dvc"])
def test_missing_from_remote_ignores_the_cache_and_checks_directory_members(
    repo: Path, tmp_path: Path, through: str
) -> None:
    """The same answers whether the local directory remote is read directly (set in the
    repository's config) or through DVC (set in the global config, which only DVC reads)."""
    if through == "dvc":
        sh("dvc", "remote", "remove", "storage", cwd=repo)
        sh("dvc", "remote", "add", "--global", "-d", "storage", tmp_path / "dvc-remote", cwd=repo)
    raw = pointer_md5(repo, "data/raw.csv.dvc")
    images = pointer_md5(repo, "data/images.dvc")
    remote = tmp_path / "dvc-remote"

    # Cached here but never pushed: missing from the remote all the same.
    assert missing_from_remote(repo, [raw, images, raw]) == {raw: (raw,), images: (images,)}
    sh("dvc", "push", "-q", cwd=repo)
    assert missing_from_remote(repo, [raw, images]) == {}

    manifest = dict(read_manifest(cache_dir(repo), images) or [])
    object_path(remote, manifest["sub/c.txt"]).unlink()
    expected = {images: (manifest["sub/c.txt"],), ABSENT: (ABSENT,)}
    assert missing_from_remote(repo, [raw, images, ABSENT]) == expected
    shutil.rmtree(cache_dir(repo))  # the manifest is read from the remote now
    assert missing_from_remote(repo, [raw, images, ABSENT]) == expected
    object_path(remote, images).unlink()
    assert missing_from_remote(repo, [images]) == {images: (images,)}


def test_missing_from_remote_reads_a_directory_remote_without_importing_dvc(repo: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from lineage.adapters.dvc_store import missing_from_remote\n"
        "print(sorted(missing_from_remote(Path('.'), sys.argv[1:])), 'dvc' in sys.modules)"
    )
    raw = pointer_md5(repo, "data/raw.csv.dvc")

    assert sh(sys.executable, "-c", script, raw, cwd=repo).stdout == f"['{raw}'] False\n"


def test_missing_from_remote_without_a_remote_raises(repo: Path) -> None:
    sh("dvc", "remote", "remove", "storage", cwd=repo)
    with pytest.raises(NoRemoteError, match=r"no DVC remote is configured in .*; add one with"):
        missing_from_remote(repo, [ABSENT])
    assert missing_from_remote(repo, []) == {}  # nothing to ask: no question about remotes
