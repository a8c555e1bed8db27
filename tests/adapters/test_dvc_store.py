"""lineage.adapters.dvc_store against real DVC: its cache layout, remotes, push and fetch."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from lineage.adapters.dvc_config import cache_config
from lineage.adapters.dvc_hash import StatCache
from lineage.adapters.dvc_link import materialize, verify
from lineage.adapters.dvc_store import (
    CACHE,
    MISSING,
    REMOTE,
    Availability,
    NoRemoteError,
    fetch,
    locate,
    missing_from_remote,
    object_path,
    read_manifest,
)
from lineage.errors import LineageError
from tests.adapters.dvc_helpers import ABSENT, IMAGES, cache_dir, pointer_md5
from tests.conftest import sh


def test_object_path_is_where_dvc_add_put_a_file_and_a_directory(images_repo: Path) -> None:
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")
    images = pointer_md5(images_repo, "data/images.dvc")

    assert (
        object_path(cache_dir(images_repo), raw).read_bytes()
        == (images_repo / "data/raw.csv").read_bytes()
    )
    assert images.endswith(".dir")
    assert object_path(cache_dir(images_repo), images).is_file()
    assert object_path(cache_dir(images_repo), images).name.endswith(".dir")


def test_read_manifest_equals_dvcs_tree(images_repo: Path) -> None:
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    images = pointer_md5(images_repo, "data/images.dvc")
    with Repo(str(images_repo)) as dvc:
        tree = Tree.load(dvc.cache.local, HashInfo("md5", images))
        expected = [("/".join(key), str(hash_info.value)) for key, _, hash_info in tree]

    assert read_manifest(cache_dir(images_repo), images) == expected
    assert sorted(rel for rel, _ in expected) == sorted(IMAGES)
    assert read_manifest(cache_dir(images_repo), ABSENT + ".dir") is None


def test_locate_finds_cached_data_without_importing_dvc(images_repo: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from lineage.adapters.dvc_store import locate\n"
        "found = locate(Path('.'), sys.argv[1:])\n"
        "print(sorted(a.where for a in found.values()), 'dvc' in sys.modules)"
    )
    ids = [
        pointer_md5(images_repo, "data/raw.csv.dvc"),
        pointer_md5(images_repo, "data/images.dvc"),
    ]

    out = sh(sys.executable, "-c", script, *ids, cwd=images_repo).stdout

    assert out.strip() == "['cache', 'cache'] False"


def test_locate_says_remote_after_push_and_losing_the_cache(images_repo: Path) -> None:
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")
    images = pointer_md5(images_repo, "data/images.dvc")
    assert {a.where for a in locate(images_repo, [raw, images]).values()} == {CACHE}
    sh("dvc", "push", "-q", cwd=images_repo)
    shutil.rmtree(cache_dir(images_repo))

    found = locate(images_repo, [raw, images, ABSENT])

    assert found == {
        raw: Availability(raw, REMOTE, "storage"),
        images: Availability(images, REMOTE, "storage"),
        ABSENT: Availability(ABSENT, MISSING, "storage", (ABSENT,)),
    }


def test_locate_lists_directory_members_found_nowhere(images_repo: Path, tmp_path: Path) -> None:
    images = pointer_md5(images_repo, "data/images.dvc")
    sh("dvc", "push", "-q", cwd=images_repo)
    manifest = dict(read_manifest(cache_dir(images_repo), images) or [])
    lost = manifest["sub/c.txt"]
    object_path(cache_dir(images_repo), lost).unlink()
    object_path(tmp_path / "dvc-remote", lost).unlink()
    object_path(cache_dir(images_repo), manifest["a.txt"]).unlink()  # still in the remote

    expected = Availability(images, MISSING, "storage", (lost,))
    assert locate(images_repo, [images])[images] == expected
    shutil.rmtree(cache_dir(images_repo))  # now the manifest itself is only in the remote
    assert locate(images_repo, [images])[images] == expected


def test_locate_without_a_remote_says_missing_with_no_remote_name(images_repo: Path) -> None:
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")
    sh("dvc", "remote", "remove", "storage", cwd=images_repo)

    found = locate(images_repo, [raw, ABSENT])

    assert found[raw].where == CACHE
    assert found[ABSENT] == Availability(ABSENT, MISSING, None, (ABSENT,))


def test_fetch_brings_remote_objects_into_the_cache_only(images_repo: Path) -> None:
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")
    images = pointer_md5(images_repo, "data/images.dvc")
    sh("dvc", "push", "-q", cwd=images_repo)
    shutil.rmtree(cache_dir(images_repo))
    shutil.rmtree(images_repo / "data" / "images")
    config = (images_repo / ".dvc" / "config").read_bytes()
    calls: list[tuple[int, int | None]] = []

    def advance(n: int = 1, *, total: int | None = None) -> None:
        calls.append((n, total))

    failed = fetch(images_repo, [raw, images, ABSENT], remote=None, progress=advance)

    assert failed == [ABSENT]
    assert {a.where for a in locate(images_repo, [raw, images]).values()} == {CACHE}
    # raw + manifest + 4 files (the total, told first); ABSENT never
    assert calls[0] == (0, 7) and sum(n for n, _ in calls) == 6
    assert not (images_repo / "data" / "images").exists()  # the workspace is not checked out
    assert (images_repo / ".dvc" / "config").read_bytes() == config
    assert fetch(images_repo, [raw, images], remote="storage") == []


def test_fetch_reports_a_directory_with_a_member_lost_everywhere(
    images_repo: Path, tmp_path: Path
) -> None:
    images = pointer_md5(images_repo, "data/images.dvc")
    sh("dvc", "push", "-q", cwd=images_repo)
    lost = dict(read_manifest(cache_dir(images_repo), images) or [])["b.txt"]
    object_path(tmp_path / "dvc-remote", lost).unlink()
    shutil.rmtree(cache_dir(images_repo))

    assert fetch(images_repo, [images], remote="storage") == [images]
    assert locate(images_repo, [images])[images].missing == (lost,)


def test_locate_finds_data_gc_removed_from_the_cache_in_the_remote(images_repo: Path) -> None:
    """A recorded md5 the workspace no longer uses: `dvc gc -w` drops it, the remote keeps it."""
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")
    sh("dvc", "push", "-q", cwd=images_repo)
    sh("git", "rm", "-q", "data/raw.csv.dvc", cwd=images_repo)
    sh("dvc", "gc", "-w", "-f", "-q", cwd=images_repo)

    assert not object_path(cache_dir(images_repo), raw).exists()
    assert locate(images_repo, [raw])[raw] == Availability(raw, REMOTE, "storage")


def test_fetch_and_materialize_in_a_worktree_sharing_the_main_cache(
    images_repo: Path, tmp_path: Path
) -> None:
    """The `lineage reproduce` path: a fresh worktree whose config.local points at our cache."""
    images = pointer_md5(images_repo, "data/images.dvc")
    sh("dvc", "push", "-q", cwd=images_repo)
    shutil.rmtree(cache_dir(images_repo))
    worktree = tmp_path / "wt"
    sh("git", "worktree", "add", "-q", "--detach", worktree, cwd=images_repo)
    (worktree / ".dvc" / "config.local").write_text(
        f"[cache]\n    dir = {cache_dir(images_repo)}\n"
    )

    assert fetch(worktree, [images], remote=None) == []
    assert locate(images_repo, [images])[images].where == CACHE  # it landed in the main cache
    cache = cache_config(worktree)
    materialize(cache, images, worktree / "data" / "images", link_types=["copy"])
    with StatCache(tmp_path / "stat.sqlite") as stat_cache:
        assert verify(cache, images, worktree / "data" / "images", stat_cache)
    assert sh("git", "status", "--porcelain", cwd=worktree).stdout == ""


def test_an_unknown_remote_is_a_clean_error(images_repo: Path) -> None:
    with pytest.raises(LineageError, match="DVC remote 'nope' cannot be used"):
        locate(images_repo, [ABSENT], remote="nope")
    with pytest.raises(LineageError, match="DVC remote 'nope' cannot be used"):
        fetch(images_repo, [ABSENT], remote="nope")


def test_fetch_without_a_remote_returns_what_is_not_cached(images_repo: Path) -> None:
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")
    sh("dvc", "remote", "remove", "storage", cwd=images_repo)

    assert fetch(images_repo, [raw, ABSENT], remote=None) == [ABSENT]


@pytest.mark.parametrize("through", ["directory", "dvc"])
def test_missing_from_remote_ignores_the_cache_and_checks_directory_members(
    images_repo: Path, tmp_path: Path, through: str
) -> None:
    """The same answers whether the local directory remote is read directly (set in the
    repository's config) or through DVC (set in the global config, which only DVC reads)."""
    if through == "dvc":
        sh("dvc", "remote", "remove", "storage", cwd=images_repo)
        sh(
            "dvc",
            "remote",
            "add",
            "--global",
            "-d",
            "storage",
            tmp_path / "dvc-remote",
            cwd=images_repo,
        )
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")
    images = pointer_md5(images_repo, "data/images.dvc")
    remote = tmp_path / "dvc-remote"

    # Cached here but never pushed: missing from the remote all the same.
    assert missing_from_remote(images_repo, [raw, images, raw]) == {raw: (raw,), images: (images,)}
    sh("dvc", "push", "-q", cwd=images_repo)
    assert missing_from_remote(images_repo, [raw, images]) == {}

    manifest = dict(read_manifest(cache_dir(images_repo), images) or [])
    object_path(remote, manifest["sub/c.txt"]).unlink()
    expected = {images: (manifest["sub/c.txt"],), ABSENT: (ABSENT,)}
    assert missing_from_remote(images_repo, [raw, images, ABSENT]) == expected
    shutil.rmtree(cache_dir(images_repo))  # the manifest is read from the remote now
    assert missing_from_remote(images_repo, [raw, images, ABSENT]) == expected
    object_path(remote, images).unlink()
    assert missing_from_remote(images_repo, [images]) == {images: (images,)}


def test_missing_from_remote_reads_a_directory_remote_without_importing_dvc(
    images_repo: Path,
) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from lineage.adapters.dvc_store import missing_from_remote\n"
        "print(sorted(missing_from_remote(Path('.'), sys.argv[1:])), 'dvc' in sys.modules)"
    )
    raw = pointer_md5(images_repo, "data/raw.csv.dvc")

    assert sh(sys.executable, "-c", script, raw, cwd=images_repo).stdout == f"['{raw}'] False\n"


def test_missing_from_remote_without_a_remote_raises(images_repo: Path) -> None:
    sh("dvc", "remote", "remove", "storage", cwd=images_repo)
    with pytest.raises(NoRemoteError, match=r"no DVC remote is configured in .*; add one with"):
        missing_from_remote(images_repo, [ABSENT])
    assert missing_from_remote(images_repo, []) == {}  # nothing to ask: no question about remotes
