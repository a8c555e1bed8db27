"""The record store on refs/lineage/records: append, read, concurrency, and a killed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lineage.adapters import git
from lineage.adapters import store as store_module
from lineage.adapters.store import CREATED, FAST_FORWARD, MERGED, REF, UP_TO_DATE, Merged, Store
from lineage.errors import LineageError
from lineage.records import canonical_bytes, decode, record_id
from tests.conftest import sh

WRITER = """\
import sys
from pathlib import Path
from lineage.adapters import git
from lineage.adapters import store as store_module
from lineage.records import canonical_bytes, record_id
from lineage.adapters.store import Store
store = Store(git.discover(Path(sys.argv[1])))
for n in range(int(sys.argv[3])):
    blob = canonical_bytes({"schema": 1, "kind": "note", "writer": sys.argv[2], "n": n})
    store.append([(record_id(blob), blob)])
"""


def blob(n: int, who: str = "t") -> tuple[str, bytes]:
    data = canonical_bytes({"schema": 1, "kind": "note", "writer": who, "n": n})
    return record_id(data), data


def test_append_read_and_idempotence(git_repo: Path) -> None:
    store = Store(git.discover(git_repo))
    name, data = blob(1)
    tip = store.append([(name, data)])
    assert store.tip() == tip and store.read(name) == data
    assert store.append([(name, data)]) == tip  # same record again: nothing new
    assert decode(name, data, trusted=True)["n"] == 1
    # Sharded layout: ab/cdef….json
    listing = sh("git", "ls-tree", "-r", "--name-only", REF, cwd=git_repo).stdout.split()
    assert listing == [f"{name[:2]}/{name[2:]}.json"]
    # The user's branch, index and tree are untouched.
    assert sh("git", "status", "--porcelain", cwd=git_repo).stdout == ""
    assert sh("git", "rev-list", "--count", "HEAD", cwd=git_repo).stdout.strip() == "1"


def test_store_works_before_the_first_commit(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    store = Store(git.discover(tmp_path))
    name, data = blob(2)
    store.append([(name, data)])
    assert store.read(name) == data


def test_concurrent_writers_all_land(git_repo: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(git_repo), f"w{w}", "10"])
        for w in range(8)
    ]
    assert [p.wait(timeout=300) for p in writers] == [0] * 8
    store = Store(git.discover(git_repo))
    names = {name for name, _ in store.iter_all(store.tip() or "")}
    assert names == {blob(n, f"w{w}")[0] for w in range(8) for n in range(10)}


def test_writer_killed_mid_write_leaves_a_valid_store(git_repo: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(git_repo), "k", "100000"])
    store = Store(git.discover(git_repo))
    deadline = time.monotonic() + 60
    while store.tip() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert sh("git", "fsck", "--no-dangling", "--strict", cwd=git_repo).returncode == 0
    tip = store.tip()
    assert tip is not None
    found = list(Store(git.discover(git_repo)).iter_all(tip))
    assert found and all(decode(name, data, trusted=True) for name, data in found)
    # Every record is a prefix of the writer's sequence: nothing half-written, nothing skipped.
    ns = sorted(decode(name, data, trusted=True)["n"] for name, data in found)
    assert ns == list(range(len(ns)))
    # And the store still takes writes.
    name, data = blob(10**6)
    store.append([(name, data)])
    assert store.read(name) == data


# -- merging another clone's records (lineage pull) ------------------------------------------


def two_clones(tmp_path: Path) -> tuple[Store, Store]:
    """Two unrelated repositories whose stores hold records 0-5 and 3-8 (3-5 in both)."""
    stores = []
    for name, numbers in (("one", range(0, 6)), ("two", range(3, 9))):
        repo = tmp_path / name
        repo.mkdir()
        sh("git", "init", "-q", cwd=repo)
        store = Store(git.discover(repo))
        for n in numbers:  # one commit per record, as `lineage run` makes them
            store.append([blob(n)])
        stores.append(store)
    return stores[0], stores[1]


def fetch(into: Store, other: Store) -> str:
    """The other store's tip, fetched into ``into``'s object database (as `lineage pull` does)."""
    sh("git", "fetch", "-q", str(other.paths.root), f"+{REF}:refs/fetched", cwd=into.paths.root)
    return sh("git", "rev-parse", "refs/fetched", cwd=into.paths.root).stdout.strip()


def record_names(store: Store) -> set[str]:
    return {name for name, _ in store.iter_all(store.tip() or "")}


def test_merge_is_a_union_idempotent_and_independent_of_order(tmp_path: Path) -> None:
    one, two = two_clones(tmp_path)
    theirs_for_one, theirs_for_two = fetch(one, two), fetch(two, one)
    before_one = one.tip()

    merged = one.merge(theirs_for_one)
    assert (merged.how, merged.added, merged.conflicts) == (MERGED, 3, ())
    assert record_names(one) == {blob(n)[0] for n in range(9)}
    assert sh("git", "rev-list", "--parents", "-n1", REF, cwd=one.paths.root).stdout.split() == [
        merged.tip,
        before_one,
        theirs_for_one,
    ]
    assert one.merge(theirs_for_one) == Merged(UP_TO_DATE, merged.tip, 0)  # idempotent

    # The other side merging the other way round holds the same tree.
    assert two.merge(theirs_for_two).added == 3
    tree = f"{REF}^{{tree}}"
    assert (
        sh("git", "rev-parse", tree, cwd=one.paths.root).stdout
        == sh("git", "rev-parse", tree, cwd=two.paths.root).stdout
    )
    # Merging each other's merge: same tree, different commits, so a merge commit joins them
    # (and a push of either is then a fast-forward).
    again = one.merge(fetch(one, two))
    assert (again.how, again.added) == (MERGED, 0)
    assert two.merge(fetch(two, one)).how == FAST_FORWARD
    assert one.tip() == two.tip()
    assert blob(8)[0] not in (one.paths.lineage_dir / "written").read_text()  # not journaled


def test_merge_into_an_empty_store_and_a_fast_forward(tmp_path: Path) -> None:
    one, _ = two_clones(tmp_path)
    empty_repo = tmp_path / "empty"
    empty_repo.mkdir()
    sh("git", "init", "-q", cwd=empty_repo)
    empty = Store(git.discover(empty_repo))
    theirs = fetch(empty, one)
    assert empty.merge(theirs) == Merged(CREATED, theirs, 6)
    assert not (empty.paths.lineage_dir / "written").exists()  # fetched records: not journaled
    # One appends on top of what empty has: pulling it again is a fast-forward.
    one.append([blob(100)])
    ahead = fetch(empty, one)
    assert empty.merge(ahead) == Merged(FAST_FORWARD, ahead, 1)
    assert empty.tip() == one.tip()


def test_merge_keeps_the_copy_that_matches_its_name(tmp_path: Path) -> None:
    """A record name held with two contents means one is corrupt: the good copy wins, both ways."""
    import pygit2

    one, two = two_clones(tmp_path)
    name = blob(4)[0]  # in both stores
    repo = two.repo
    tree = repo[two.tip()].peel(pygit2.Tree)
    shard = repo.TreeBuilder(tree[name[:2]])
    shard.insert(f"{name[2:]}.json", repo.create_blob(b'{"forged":1}'), pygit2.GIT_FILEMODE_BLOB)
    root = repo.TreeBuilder(tree)
    root.insert(name[:2], shard.write(), pygit2.GIT_FILEMODE_TREE)
    sig = pygit2.Signature("Mallory", "m@example.com")
    bad = repo.create_commit(None, sig, sig, "forged\n", root.write(), [pygit2.Oid(hex=two.tip())])
    sh("git", "update-ref", REF, str(bad), cwd=two.paths.root)

    merged = one.merge(fetch(one, two))
    assert merged.conflicts == (name,)
    assert one.read(name) == blob(4)[1]  # ours was good: kept

    repaired = two.merge(fetch(two, one))
    assert repaired.conflicts == (name,)
    assert two.read(name) == blob(4)[1]  # theirs was good: taken


def test_merge_racing_a_local_writer_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process appends between the merge's read of the tip and its compare-and-swap:
    the swap fails, and the merge is redone on the new tip."""
    one, two = two_clones(tmp_path)
    theirs = fetch(one, two)
    swaps: list[bool] = []

    def racing_update_ref(*args: Any) -> bool:
        if not swaps:
            sh(sys.executable, "-c", WRITER, one.paths.root, "w", "1", cwd=tmp_path)
        swaps.append(real_update_ref(*args))
        return swaps[-1]

    real_update_ref = git.update_ref
    monkeypatch.setattr(git, "update_ref", racing_update_ref)
    merged = one.merge(theirs)

    assert swaps == [False, True]
    assert merged.added == 3
    assert record_names(one) == {blob(n)[0] for n in range(9)} | {blob(0, "w")[0]}


# -- layout: a shard past SPLIT_AT records is split one level deeper (ab/cd/ef….json) --------


def same_shard(count: int, who: str = "s") -> list[tuple[str, bytes]]:
    """``count`` records whose names share their first two hex digits (one shard)."""
    by_shard: dict[str, list[tuple[str, bytes]]] = {}
    n = 0
    while True:
        named = blob(n, who)
        held = by_shard.setdefault(named[0][:2], [])
        held.append(named)
        if len(held) == count:
            return held
        n += 1


def paths_in(store: Store) -> list[str]:
    return sh("git", "ls-tree", "-r", "--name-only", REF, cwd=store.paths.root).stdout.split()


def test_a_shard_past_split_at_records_moves_one_level_deeper(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SPLIT_AT", 4)
    store = Store(git.discover(git_repo))
    five = same_shard(5)
    for named in five[:4]:
        store.append([named])
    assert paths_in(store) == sorted(f"{n[:2]}/{n[2:]}.json" for n, _ in five[:4])

    store.append([five[4]])

    assert paths_in(store) == sorted(f"{n[:2]}/{n[2:4]}/{n[4:]}.json" for n, _ in five)
    assert all(store.read(name) == data for name, data in five)
    assert sorted(store.iter_all(store.tip() or "")) == sorted(five)
    name, data = five[2]
    shown = sh("git", "show", f"{REF}:{name[:2]}/{name[2:4]}/{name[4:]}.json", cwd=git_repo)
    assert shown.stdout.encode() == data
    tip = store.tip()
    assert store.append([five[0]]) == tip  # appending a held record still writes nothing


def old_store(tmp_path: Path, name: str, records: list[tuple[str, bytes]]) -> Store:
    """A store written before shards were split: every shard flat, whatever its size."""
    repo = tmp_path / name
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    store = Store(git.discover(repo))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_module, "SPLIT_AT", 10**9)
        store.append(records)
    return store


def test_an_old_store_with_big_flat_shards_keeps_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    six = same_shard(6)
    other = blob(10**5)
    store = old_store(tmp_path, "old", [*six[:5], other])
    monkeypatch.setattr(store_module, "SPLIT_AT", 4)
    old_tip = store.tip() or ""
    assert all(store.read(name) == data for name, data in [*six[:5], other])
    assert sorted(store.iter_all(old_tip)) == sorted([*six[:5], other])

    # A record in another shard leaves the big flat shard as it was.
    elsewhere = next(b for n in range(10**6) if (b := blob(n, "e"))[0][:2] != six[0][0][:2])
    store.append([elsewhere])
    flat = [p for p in paths_in(store) if p.startswith(six[0][0][:2])]
    assert flat == sorted(f"{n[:2]}/{n[2:]}.json" for n, _ in six[:5])

    # The next record in it splits it; the index's catch-up sees exactly the two new records.
    store.append([six[5]])
    split = [p for p in paths_in(store) if p.startswith(six[0][0][:2])]
    assert split == sorted(f"{n[:2]}/{n[2:4]}/{n[4:]}.json" for n, _ in six)
    added, removed = store.added_between(old_tip, store.tip() or "")
    assert (sorted(added), removed) == (sorted([elsewhere, six[5]]), False)
    assert store.count_new(old_tip, store.tip() or "") == 2


def test_stores_with_flat_and_split_shards_merge_into_one_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old clone (flat shard of 6) and a new one (the same shard split, 3 records more
    plus 2 of its own) pull each other: both hold the union, in the same tree."""
    nine = same_shard(9)
    old = old_store(tmp_path, "old", [*nine[:6], blob(7, "o")])
    monkeypatch.setattr(store_module, "SPLIT_AT", 4)
    new = old_store(tmp_path, "new", [])  # an empty repository
    for named in [*nine[3:], blob(8, "n")]:
        new.append([named])
    assert any(p.count("/") == 2 for p in paths_in(new))

    merged_old = old.merge(fetch(old, new))
    merged_new = new.merge(fetch(new, old))

    everything = {name for name, _ in [*nine, blob(7, "o"), blob(8, "n")]}
    assert (merged_old.added, merged_new.added) == (4, 4)
    assert record_names(old) == record_names(new) == everything
    tree = f"{REF}^{{tree}}"
    assert (
        sh("git", "rev-parse", tree, cwd=old.paths.root).stdout
        == sh("git", "rev-parse", tree, cwd=new.paths.root).stdout
    )
    shard = [p for p in paths_in(old) if p.startswith(nine[0][0][:2])]
    assert shard == sorted(f"{n[:2]}/{n[2:4]}/{n[4:]}.json" for n, _ in nine)
    assert all(old.read(name) == data for name, data in nine)


def test_catch_up_between_two_split_stores_reads_only_what_was_added(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SPLIT_AT", 4)
    store = Store(git.discover(git_repo))
    eight = same_shard(8)
    store.append(eight[:6])
    before = store.tip() or ""
    store.append(eight[6:])
    added, removed = store.added_between(before, store.tip() or "")
    assert (sorted(added), removed) == (sorted(eight[6:]), False)
    # A record gone from a split shard (a rewritten ref) is reported, so the index rebuilds.
    assert store.added_between(store.tip() or "", before) == ([], True)


def test_arrivals_across_shards_say_what_is_new_and_what_vanished(git_repo: Path) -> None:
    """Each changed shard is diffed on its own (a new shard against the empty tree); a shard
    gone, or a record's blob changed under its name, is a rewrite; a reader that stops early
    stops both git processes."""
    store = Store(git.discover(git_repo))
    records = {}
    for n in range(40):  # spread over many shards
        name, data = blob(n, "x")
        records.setdefault(name[:2], (name, data))
    first, *others = records.values()
    store.append([first])
    one = store.tip() or ""
    store.append(others)
    many = store.tip() or ""
    added, rewritten = store.added_between(one, many)
    assert (sorted(added), rewritten) == (sorted(others), False)
    assert store.added_between(many, one) == ([], True)  # whole shards gone

    # The same name at another blob (a ref rewritten by hand).
    name = others[0][0]
    scratch = {**os.environ, "GIT_INDEX_FILE": str(git_repo.parent / "scratch.idx")}
    tree = sh("git", "rev-parse", f"{many}^{{tree}}", cwd=git_repo).stdout.strip()
    other = sh("git", "hash-object", "-w", "--stdin", cwd=git_repo, input="{}").stdout.strip()
    sh("git", "read-tree", tree, cwd=git_repo, env=scratch)
    sh(
        "git",
        "update-index",
        "--cacheinfo",
        f"100644,{other},{name[:2]}/{name[2:]}.json",
        cwd=git_repo,
        env=scratch,
    )
    changed_tree = sh("git", "write-tree", cwd=git_repo, env=scratch).stdout.strip()
    changed = sh("git", "commit-tree", changed_tree, "-m", "x", cwd=git_repo).stdout.strip()
    assert store.added_between(many, changed) == ([], True)

    reading = iter(store.arrivals(one, many))
    next(reading)
    reading.close()  # kills git; nothing left waiting on a pipe
    assert len(list(store.arrivals(one, many))) == len(others)


def test_a_large_read_asks_git_in_pack_order_and_loses_nothing(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From PACK_ORDER_FROM records, a full read follows the packs' order (each delta base is
    then still in git's cache); every record still comes back once, with its own content,
    packed or loose."""
    store = Store(git.discover(git_repo))
    packed = [blob(n) for n in range(40)]
    store.append(packed)
    sh("git", "gc", "-q", "--aggressive", cwd=git_repo)  # deltas against each other, as pulls give
    loose = [blob(n, "later") for n in range(5)]
    store.append(loose)  # not packed yet
    tip = store.tip() or ""
    by_name = [(name, content) for name, _, content in store.entries(tip)]
    monkeypatch.setattr(store_module, "PACK_ORDER_FROM", 1)
    in_packs = [(name, content) for name, _, content in store.entries(tip)]
    assert sorted(in_packs) == sorted(by_name) == sorted(packed + loose)
    assert in_packs != by_name  # the order did change: the check reads what it claims


def _blob_oid(repo: Path, content: bytes) -> bytes:
    written = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=content, capture_output=True
    )
    return bytes.fromhex(written.stdout.decode().strip())


def test_blobs_gives_each_blob_in_order_and_leaves_out_missing_ones(git_repo: Path) -> None:
    """A request past the pipe's 64 KB goes through its feeding thread; a short one does
    not: both give every blob, in the order asked, and skip what the repository lacks."""
    paths = git.discover(git_repo)
    contents = [canonical_bytes({"n": n, "pad": "x" * (n % 7)}) for n in range(2_000)]
    oids = [_blob_oid(git_repo, c) for c in contents[:20]]
    missing = bytes.fromhex("ab" * 20)
    big = os.urandom(3_000_000)  # many pipe reads for one blob
    big_oid = _blob_oid(git_repo, big)
    asked = [oids[3], missing, big_oid, oids[1], oids[3]]
    assert list(store_module.Blobs(paths, asked)) == [
        (oids[3], contents[3]),
        (big_oid, big),
        (oids[1], contents[1]),
    ]
    for n, content in enumerate(contents):
        (git_repo / f"{n}.json").write_bytes(content)
    listed = subprocess.run(
        ["git", "hash-object", "-w", "--stdin-paths"],
        cwd=git_repo,
        input="".join(f"{n}.json\n" for n in range(2_000)).encode(),
        capture_output=True,
        check=True,
    )
    all_oids = [bytes.fromhex(line) for line in listed.stdout.decode().split()]
    asked = list(reversed(all_oids))
    assert len(b"".join(o.hex().encode() + b"\n" for o in asked)) > 32_768  # the thread's way
    assert list(store_module.Blobs(paths, asked)) == list(
        zip(asked, reversed(contents), strict=True)
    )


def test_blobs_stopped_early_ends_git_and_a_failing_git_is_an_error(
    git_repo: Path, tmp_path: Path
) -> None:
    paths = git.discover(git_repo)
    oids = [_blob_oid(git_repo, canonical_bytes({"n": n})) for n in range(50)]
    before = _git_children()
    reading = iter(store_module.Blobs(paths, oids))
    assert next(reading)[0] == oids[0]
    reading.close()  # git is stopped, nothing raised
    assert _git_children() == before
    elsewhere = git.RepoPaths(root=tmp_path, git_dir=tmp_path, common_dir=tmp_path)
    with pytest.raises(git.GitError, match="not a git repository"):
        list(store_module.Blobs(elsewhere, oids))


def _git_children() -> list[int]:
    """This process's children that run git (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
        except OSError:  # ended while listed
            continue
        name, _, fields = rest.rpartition(")")
        if name == "(git" and int(fields.split()[1]) == os.getpid():
            found.append(int(pid))
    return found


def test_blobs_starts_git_at_once_and_leaving_unread_ends_it(git_repo: Path) -> None:
    """Git reads while the caller queries the index (`subgraph.build`); a caller that leaves
    without reading (an error in between) leaves no git behind."""
    paths = git.discover(git_repo)
    oids = [_blob_oid(git_repo, canonical_bytes({"n": n})) for n in range(3)]
    before = _git_children()
    with store_module.Blobs(paths, oids) as blobs:
        assert len(_git_children()) == len(before) + 1  # running before anything was read
    assert _git_children() == before
    with pytest.raises(ValueError, match="stop"), store_module.Blobs(paths, oids) as blobs:
        for _ in blobs:
            raise ValueError("stop")
    assert _git_children() == before
    with store_module.Blobs(paths, oids) as blobs:
        assert [blob for _, blob in blobs] == [canonical_bytes({"n": n}) for n in range(3)]
    assert _git_children() == before


def test_stream_blobs_says_which_blob_is_missing(git_repo: Path) -> None:
    """The full read shares Blobs' parsing of git's output, but a missing record blob
    is a damaged repository there, named with the next step."""
    paths = git.discover(git_repo)
    oids = [_blob_oid(git_repo, canonical_bytes({"n": n})) for n in range(3)]
    missing = bytes.fromhex("cd" * 20)
    assert list(store_module.stream_blobs(paths, oids)) == [
        canonical_bytes({"n": n}) for n in range(3)
    ]
    with pytest.raises(LineageError, match=f"record blob {'cd' * 20} is missing.*git fsck"):
        list(store_module.stream_blobs(paths, [oids[0], missing, oids[1]]))
