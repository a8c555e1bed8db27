"""The lineage store: records as Git blobs on ``refs/lineage/records``.

Layout: the ref points at a chain of commits; each commit's tree holds every record written so
far, sharded by the first two hex digits of its name (``ab/cdef….json``); a shard holding more
than ``SPLIT_AT`` records is split one level deeper by the next two (``ab/cd/ef….json``), as
``git notes`` fans out, so an append rewrites three small trees however large the store grows.
Readers take either depth in any shard (stores written before the split keep working).

Appending builds the new tree and commit in process (pygit2), then moves the ref with
``git update-ref NEW OLD``, an atomic compare-and-swap: when another writer moved the tip first,
the append is redone on top of the new tip. A process killed at any point leaves either the old
tip or the new one, never a half-written record; unreferenced objects it wrote are garbage for
``git gc``.

The commits runs ran (a dirty tree's snapshot, else the clean commit) become extra parents of
the record commit that names them, so they stay reachable (``git gc`` keeps them) and travel
wherever the ref is pushed.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import os
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.adapters import git
from lineage.errors import DamagedRefError, LineageError, printable

if TYPE_CHECKING:
    import pygit2

REF = "refs/lineage/records"
MAX_ATTEMPTS = 100
# A shard holding more records than this is split by the next two hex digits (git notes splits
# a notes tree level past 256 entries too). Flat, a shard of a 1,000,000-record store holds
# ~4,000 entries (~200 KB), every append rewrote one and cost ~3× an append to a small store;
# split, a shard holds 256 sub-shards and each of those ~15 records.
SPLIT_AT = 256
SHARD = 2  # hex digits per level

# What `Store.merge` did.
UP_TO_DATE = "up to date"  # the store already held everything (and descends from it)
CREATED = "created"  # the store was empty: the ref now points at the other tip
FAST_FORWARD = "fast-forward"  # the other tip descends from the store's: the ref moved to it
MERGED = "merged"  # a merge commit whose tree is the union of both, parents both tips


@dataclass(frozen=True)
class Merged:
    how: str  # UP_TO_DATE, CREATED, FAST_FORWARD or MERGED
    tip: str  # the store's tip afterwards
    added: int  # records the store did not hold before
    conflicts: tuple[str, ...] = ()  # names held with two contents; the one matching was kept


def _kind_of(found: Any) -> str:
    """What a ref names, in words: ``a blob``, ``a tree``, ``a tag``, or a missing object."""
    kind = getattr(found, "type_str", None)
    if kind is None:
        return "an object missing from the repository"
    return f"a {kind}"


def _back_off(attempt: int) -> None:
    """A short random sleep before another attempt, so writers that collided do not again."""
    import random  # only on a collision: ~1 ms a query command would otherwise import

    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))


def record_path(record_id: str, *, split: bool = False) -> str:
    """Where a record lives in the store's tree: ``ab/cdef….json``, or ``ab/cd/ef….json`` when
    its shard is split."""
    shard, rest = record_id[:SHARD], record_id[SHARD:]
    if split:
        return f"{shard}/{rest[:SHARD]}/{rest[SHARD:]}.json"
    return f"{shard}/{rest}.json"


def record_id_of(path: str) -> str | None:
    """The record name a tree path stands for (either depth), or None for anything else."""
    *dirs, name = path.split("/")
    if not 1 <= len(dirs) <= 2 or any(len(d) != SHARD for d in dirs) or not name.endswith(".json"):
        return None
    return "".join(dirs) + name[: -len(".json")]


def _is_shard(entry: Any) -> bool:
    import pygit2

    return isinstance(entry, pygit2.Tree) and len(entry.name or "") == SHARD


def _is_split(shard: Any) -> bool:
    """True when a shard holds sub-shards (``ab/cd/…``) rather than records."""
    return any(_is_shard(entry) for entry in shard)


def shard_records(shard: Any) -> dict[str, Any]:
    """Record name → tree entry for every record in a shard, at either depth."""
    import pygit2

    held: dict[str, Any] = {}
    prefix = shard.name or ""
    for entry in shard:
        name = entry.name or ""
        if _is_shard(entry):
            for leaf in entry:
                record = record_id_of(f"{prefix}/{name}/{leaf.name}")
                if record is not None and isinstance(leaf, pygit2.Blob):
                    held[record] = leaf
        elif isinstance(entry, pygit2.Blob):
            record = record_id_of(f"{prefix}/{name}")
            if record is not None:
                held[record] = entry
    return held


def _holds(entry: Any, record_name: str) -> bool:
    """True when a tree entry is a blob whose content hashes to the record's name."""
    import pygit2

    from lineage.records import record_id  # records' dataclasses cost ~10 ms to import

    return isinstance(entry, pygit2.Blob) and record_id(entry.data) == record_name


class Store:
    def __init__(self, paths: git.RepoPaths) -> None:
        self.paths = paths
        self._repo: pygit2.Repository | None = None

    @functools.cached_property
    def identity(self) -> tuple[str, str]:
        """The git identity (name, email) this store's commits, and the records written with
        them, are attributed to: asked of git once (``git var``, ~2.5 ms) per store."""
        return git.identity(self.paths)

    @property
    def repo(self) -> pygit2.Repository:
        if self._repo is None:
            import pygit2  # ~100 ms: only paid by commands that read or write objects

            self._repo = pygit2.Repository(str(self.paths.git_dir))
        return self._repo

    def tip(self) -> str | None:
        tip = git.ref_tip(self.paths, REF)
        if tip is None:
            self._refuse_unreadable_ref()
        return tip

    def _refuse_unreadable_ref(self) -> None:
        """A loose ref file git cannot read (not a sha) is not an empty store: answering "no
        runs recorded" would hide every record, and the next append could not move the ref."""
        try:
            text = (self.paths.common_dir / REF).read_bytes().strip()
        except OSError:  # no loose ref (or a packed one git already read): nothing recorded
            return
        if text:
            shown = printable(text[:10].decode("utf-8", "replace"))
            broken = str(self.paths.common_dir / REF)
            raise DamagedRefError(REF, shown, "text that names no object", broken_file=broken)

    def checked_tip(self) -> str | None:
        """The tip, verified to be a commit (``tip`` only reads the ref). git is asked, not
        pygit2: `lineage run` checks this before its command starts, and importing pygit2
        would delay the command by ~40 ms (it is imported after, to append the record)."""
        tip = self.tip()
        if tip is not None:
            kind = git.object_kind(self.paths, tip)
            if kind != "commit":
                found = f"a {kind}" if kind else "an object missing from the repository"
                raise DamagedRefError(REF, tip, found)
        return tip

    def commit(self, sha: str, *, last_good: str | None = None) -> pygit2.Commit:
        """The records commit ``sha`` (a tip of the ref); DamagedRefError when the ref was made
        to point at anything else, which every reader and writer would otherwise trip on."""
        import pygit2

        found: object = None
        with contextlib.suppress(ValueError):  # not a sha at all: nothing found
            found = self.repo.get(sha)
        if isinstance(found, pygit2.Commit):
            return found
        raise DamagedRefError(REF, sha, _kind_of(found), last_good)

    def append(
        self,
        records: Sequence[tuple[str, bytes]],
        *,
        keep: Sequence[str] = (),
        message: str = "lineage: record",
    ) -> str:
        """Add records (name, canonical bytes) in one commit; return the new tip."""
        import pygit2

        from lineage.writable import require_directory

        # pygit2 says "failed to create temporary file" with no path: name it, before any write.
        require_directory(self.paths.common_dir / "objects", "cannot record")
        repo = self.repo
        blob_ids = [(name, repo.create_blob(blob)) for name, blob in records]
        self._journal([name for name, _ in records])
        name, email = self.identity
        for attempt in range(MAX_ATTEMPTS):
            old = self.tip()
            old_tree = self.commit(old).tree if old else None
            tree_id = self._tree_with(old_tree, blob_ids)
            if old is not None and old_tree is not None and tree_id == old_tree.id and not keep:
                return old  # every record is already there: appending is idempotent
            sig = pygit2.Signature(name, email)
            parents = ([pygit2.Oid(hex=old)] if old else []) + [pygit2.Oid(hex=k) for k in keep]
            commit = repo.create_commit(None, sig, sig, message + "\n", tree_id, parents)
            if git.update_ref(self.paths, REF, str(commit), old, message):
                return str(commit)
            # Another writer moved the tip; back off a little so retries do not collide again.
            _back_off(attempt)
        raise LineageError(
            f"could not update {REF}: other processes kept moving it for {MAX_ATTEMPTS} "
            "attempts; nothing was lost, run the command again"
        )

    @property
    def journal_path(self) -> Path:
        return self.paths.lineage_dir / "written"

    def _journal(self, names: Sequence[str]) -> None:
        """Remember which records this clone wrote itself (before the ref moves, so none is
        missed). A record not listed came from elsewhere (a fetch); `reproduce` asks before
        running a command taken from one. One O_APPEND write per call: concurrent writers'
        lines do not interleave."""
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, "".join(f"{n}\n" for n in names).encode("ascii"))
        finally:
            os.close(fd)

    def written_names(self) -> set[str]:
        """Every record this clone wrote (see ``_journal``): readers trust these to match the
        record schema, as this lineage's own typed records made them."""
        try:
            with open(self.journal_path, "rb") as f:
                return {line.rstrip(b"\n").decode("ascii", "replace") for line in f}
        except FileNotFoundError:
            return set()

    def written_here(self, name: str) -> bool:
        """True when this clone wrote the record (see ``_journal``)."""
        try:
            with open(self.journal_path, "rb") as f:
                return any(line.rstrip(b"\n") == name.encode() for line in f)
        except FileNotFoundError:
            return False

    def _tree_with(self, old_tree: Any, blob_ids: Sequence[tuple[str, Any]]) -> Any:
        import pygit2

        repo = self.repo
        root = repo.TreeBuilder(old_tree) if old_tree is not None else repo.TreeBuilder()
        by_shard: dict[str, list[tuple[str, Any]]] = {}
        for record_name, blob_id in blob_ids:
            by_shard.setdefault(record_name[:SHARD], []).append((record_name, blob_id))
        for shard, leaves in sorted(by_shard.items()):
            existing = old_tree[shard] if old_tree is not None and shard in old_tree else None
            if existing is not None and not isinstance(existing, pygit2.Tree):
                existing = None  # not a shard of records: replaced by one
            root.insert(shard, self._shard_with(existing, leaves), pygit2.GIT_FILEMODE_TREE)
        return root.write()

    def _shard_with(self, shard: Any, leaves: Sequence[tuple[str, Any]]) -> Any:
        """The shard ``shard`` (None: a new one) with records added, split once it passes
        ``SPLIT_AT`` records."""
        import pygit2

        if shard is not None and _is_split(shard):
            return self._split_with(shard, leaves)
        fresh = [(r, b) for r, b in leaves if shard is None or f"{r[SHARD:]}.json" not in shard]
        if shard is not None and not fresh:
            return shard.id  # every record is there already
        if (len(shard) if shard is not None else 0) + len(fresh) <= SPLIT_AT:
            builder = self.repo.TreeBuilder(shard) if shard is not None else self.repo.TreeBuilder()
            for record_name, blob_id in fresh:
                builder.insert(f"{record_name[SHARD:]}.json", blob_id, pygit2.GIT_FILEMODE_BLOB)
            return builder.write()
        held = {n: (e.id, e.filemode) for n, e in shard_records(shard).items()} if shard else {}
        held.update((r, (b, pygit2.GIT_FILEMODE_BLOB)) for r, b in fresh)
        return self._shard_of(held)

    def _split_with(self, shard: Any, leaves: Sequence[tuple[str, Any]]) -> Any:
        import pygit2

        repo = self.repo
        builder = repo.TreeBuilder(shard)
        by_sub: dict[str, list[tuple[str, Any]]] = {}
        for record_name, blob_id in leaves:
            by_sub.setdefault(record_name[SHARD : 2 * SHARD], []).append((record_name, blob_id))
        for sub, members in sorted(by_sub.items()):
            existing = shard[sub] if sub in shard else None  # noqa: SIM401 (a Tree has no get)
            sub_builder = (
                repo.TreeBuilder(existing)
                if isinstance(existing, pygit2.Tree)
                else repo.TreeBuilder()
            )
            for record_name, blob_id in members:
                leaf = f"{record_name[2 * SHARD :]}.json"
                sub_builder.insert(leaf, blob_id, pygit2.GIT_FILEMODE_BLOB)
            builder.insert(sub, sub_builder.write(), pygit2.GIT_FILEMODE_TREE)
        return builder.write()

    def _shard_of(self, records: dict[str, tuple[Any, int]]) -> Any:
        """The shard tree holding exactly ``records`` (name → (oid, filemode)), in the layout
        its size calls for: the same records always give the same tree."""
        import pygit2

        repo = self.repo
        builder = repo.TreeBuilder()
        if len(records) <= SPLIT_AT:
            for record_name, (oid, mode) in records.items():
                builder.insert(f"{record_name[SHARD:]}.json", oid, mode)
            return builder.write()
        by_sub: dict[str, list[tuple[str, tuple[Any, int]]]] = {}
        for record_name, value in records.items():
            by_sub.setdefault(record_name[SHARD : 2 * SHARD], []).append((record_name, value))
        for sub, members in by_sub.items():
            sub_builder = repo.TreeBuilder()
            for record_name, (oid, mode) in members:
                sub_builder.insert(f"{record_name[2 * SHARD :]}.json", oid, mode)
            builder.insert(sub, sub_builder.write(), pygit2.GIT_FILEMODE_TREE)
        return builder.write()

    def merge(self, theirs: str, *, message: str = "lineage: merge records") -> Merged:
        """Make the store hold the union of its records and those in commit ``theirs`` (a
        fetched tip), keeping ``theirs`` reachable. Records are named by their content, so the
        union has no conflicts: merging is idempotent, and the resulting tree depends only on
        the two record sets, not on which side merges which. The journal is not touched: these
        records were not written here.

        A record name held with two different contents means one copy is corrupt: the copy
        that hashes to its name is kept (ours when neither does) and the name is reported.
        """
        import pygit2

        repo = self.repo
        other = repo[theirs].peel(pygit2.Commit)
        name, email = self.identity
        for attempt in range(MAX_ATTEMPTS):
            old = self.tip()
            if old is None:
                if git.update_ref(self.paths, REF, str(other.id), None, message):
                    return Merged(CREATED, str(other.id), self.count_new(None, str(other.id)))
                continue
            ours = self.commit(old)
            if ours.id == other.id:
                return Merged(UP_TO_DATE, old, 0)
            tree_id, conflicts = self._union(ours.tree, other.tree)
            if tree_id == ours.tree_id and repo.descendant_of(ours.id, other.id):
                return Merged(UP_TO_DATE, old, 0, conflicts)
            if tree_id == other.tree_id and repo.descendant_of(other.id, ours.id):
                how, new = FAST_FORWARD, str(other.id)
            else:
                sig = pygit2.Signature(name, email)
                parents = [ours.id, other.id]
                how = MERGED
                new = str(repo.create_commit(None, sig, sig, message + "\n", tree_id, parents))
            if git.update_ref(self.paths, REF, new, old, message):
                return Merged(how, new, self._count_new(ours.tree, repo[tree_id]), conflicts)
            _back_off(attempt)  # a local writer appended
        raise LineageError(
            f"could not update {REF}: other processes kept moving it for {MAX_ATTEMPTS} "
            "attempts; nothing was lost, run the command again"
        )

    def _union(self, ours: Any, theirs: Any) -> tuple[Any, tuple[str, ...]]:
        """The tree holding every record of both trees, and the names held with two contents.

        Shards (and, where both sides are split, sub-shards) with equal ids are taken as they
        are; only differing ones are merged entry by entry, so the cost is what differs, not
        the size of the store. A merged shard takes the layout its size calls for, whatever
        layout either side had."""
        import pygit2

        repo = self.repo
        root = repo.TreeBuilder(ours)
        conflicts: list[str] = []
        our_shards = {shard.name: shard for shard in ours}
        for shard in theirs:
            shard_name = shard.name or ""
            mine = our_shards.get(shard_name)
            if mine is None:
                root.insert(shard_name, shard.id, shard.filemode)
                continue
            if mine.id == shard.id or not (
                isinstance(mine, pygit2.Tree) and isinstance(shard, pygit2.Tree)
            ):
                continue  # the same shard, or not a shard of records: keep ours
            merged = self._union_shard(mine, shard, conflicts)
            root.insert(shard_name, merged, pygit2.GIT_FILEMODE_TREE)
        return root.write(), tuple(sorted(conflicts))

    def _union_shard(self, mine: Any, theirs: Any, conflicts: list[str]) -> Any:
        import pygit2

        if not (_is_split(mine) and _is_split(theirs)):
            merged = _union_records(shard_records(mine), shard_records(theirs), conflicts)
            return self._shard_of({n: (e.id, e.filemode) for n, e in merged.items()})
        builder = self.repo.TreeBuilder(mine)
        held = {sub.name: sub for sub in mine}
        for sub in theirs:
            kept = held.get(sub.name)
            if kept is None:
                builder.insert(sub.name or "", sub.id, sub.filemode)
            elif kept.id != sub.id and _is_shard(kept) and _is_shard(sub):
                merged = _union_records(
                    _sub_records(mine.name, kept), _sub_records(theirs.name, sub), conflicts
                )
                sub_builder = self.repo.TreeBuilder()
                for record_name, leaf in merged.items():
                    sub_builder.insert(f"{record_name[2 * SHARD :]}.json", leaf.id, leaf.filemode)
                builder.insert(sub.name or "", sub_builder.write(), pygit2.GIT_FILEMODE_TREE)
        return builder.write()

    def count_new(self, old: str | None, new: str) -> int:
        """How many records ``new``'s tree holds that ``old``'s lacks (by name: no blob is
        read, and shards with equal ids are skipped)."""
        import pygit2

        old_tree = self.repo[old].peel(pygit2.Tree) if old else None
        return self._count_new(old_tree, self.repo[new].peel(pygit2.Tree))

    def _count_new(self, old_tree: Any, new_tree: Any) -> int:
        count = 0
        for shard in new_tree:
            if not _is_shard(shard):
                continue
            shard_name = shard.name or ""
            before = (
                old_tree[shard_name] if old_tree is not None and shard_name in old_tree else None
            )
            if before is not None and before.id == shard.id:
                continue
            added, _ = _shard_diff(before if _is_shard(before) else None, shard)
            count += len(added)
        return count

    def has_commit(self, sha: str) -> bool:
        import pygit2

        try:
            return isinstance(self.repo[sha], pygit2.Commit)
        except (KeyError, ValueError):
            return False

    def read(self, record_name: str, tip: str | None = None) -> bytes | None:
        import pygit2

        tip = tip or self.tip()
        if tip is None:
            return None
        tree = self.commit(tip).tree
        for split in (False, True):  # a shard is flat or split; a record is in one of them
            try:
                entry = tree[record_path(record_name, split=split)]
            except KeyError:
                continue
            return bytes(entry.data) if isinstance(entry, pygit2.Blob) else None
        return None

    def iter_all(self, tip: str) -> Iterator[tuple[str, bytes]]:
        """Every record in the tree at ``tip``."""
        for name, _, blob in self.entries(tip):
            yield name, blob

    def entries(
        self, tip: str, leaves: Sequence[tuple[str, bytes]] | None = None
    ) -> Iterator[tuple[str, bytes, bytes]]:
        """Every record in the tree at ``tip`` as (name, blob oid (20 bytes), content), in
        the order of ``leaves`` when given (ask :meth:`leaves` with ``in_pack_order``), else
        as :meth:`leaves` gives them in pack order.

        The blobs are read by one ``git cat-file --batch`` in its own process: unpacking a
        million delta-compressed blobs then runs on another core, while the caller decodes what
        has arrived."""
        named = self.leaves(tip, in_pack_order=True) if leaves is None else leaves
        blobs = stream_blobs(self.paths, [oid for _, oid in named])
        for (name, oid), blob in zip(named, blobs, strict=True):
            yield name, oid, blob

    def leaves(self, tip: str, *, in_pack_order: bool = False) -> list[tuple[str, bytes]]:
        """(name, blob oid) of every record in the tree at ``tip``, flat or split shards; no
        blob is read. ``git ls-tree -r`` lists a million entries in about 3 s less than
        walking them with pygit2 in Python.

        ``in_pack_order``: from ``PACK_ORDER_FROM`` records, in the order git stores the blobs
        in its packs (any left, e.g. not packed yet, at the end). Read in name order, a million
        records delta-compressed against each other each re-inflate their delta chain: git
        spent ~240 CPU-s on them, against ~20 s in pack order, where a blob's delta base was
        just read and is still cached. The packs are listed while ``ls-tree`` runs."""
        self.commit(tip)  # a damaged ref is said as such, not as a failed listing
        listing = _Listing(self.paths.root) if in_pack_order else None
        try:
            out = git.run_git(self.paths.root, ["ls-tree", "-r", "-z", "--full-tree", tip]).stdout
            found = _leaves_of(out)
            del out
            if listing is not None and len(found) >= PACK_ORDER_FROM:
                found = _in_pack_order(found, listing.output())
        finally:
            if listing is not None:
                listing.stop()
        unhex = binascii.unhexlify
        return [(name, unhex(oid)) for name, oid in found]

    def added_between(self, old: str, new: str) -> tuple[list[tuple[str, bytes]], bool]:
        """Records in ``new``'s tree that ``old``'s lacks, and whether any record vanished."""
        added, removed = self.entries_added(old, new)
        return [(name, blob) for name, _, blob in added], removed

    def entries_added(self, old: str, new: str) -> tuple[list[tuple[str, bytes, bytes]], bool]:
        """Records in ``new``'s tree that ``old``'s lacks, as (name, blob oid, content), and
        whether any record vanished or changed (then no record is returned)."""
        arrivals = self.arrivals(old, new)
        added = list(arrivals)
        if arrivals.rewritten:
            return [], True
        return [entry for entry in added if entry[0] not in arrivals.moved], False

    def arrivals(self, old: str, new: str) -> Arrivals:
        """The records ``new``'s tree holds and ``old``'s lacks, read as ``git diff-tree``
        finds them (see :class:`Arrivals`)."""
        pairs, rewritten = self._changed_shards(self.commit(old).tree, self.commit(new).tree)
        return Arrivals(self.paths, pairs, rewritten=rewritten)

    def _changed_shards(self, old: Any, new: Any) -> tuple[list[tuple[str, str, str]], bool]:
        """(shard name, its tree in ``old``, in ``new``) for each shard whose tree changed (the
        empty tree's id for a shard ``old`` lacks), and whether a shard ``new`` lacks held
        records (gone: the caller starts over)."""
        import pygit2

        empty = _EMPTY_TREE[len(str(new.id))]
        before = {e.name: e for e in old if _is_shard(e)}
        pairs = []
        for entry in new:
            if not _is_shard(entry):
                continue
            was = before.pop(entry.name or "", None)
            if was is None or was.id != entry.id:
                pairs.append(
                    (entry.name or "", empty if was is None else str(was.id), str(entry.id))
                )
        gone = any(isinstance(e, pygit2.Tree) and len(e) for e in before.values())
        return pairs, gone


# The empty tree, by the length of a repository's hex ids (SHA-1, SHA-256): git knows it
# whether or not a repository stores it.
_EMPTY_TREE = {
    40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}


class Arrivals:
    """The records one tree holds and another lacks: iterating gives (name, blob oid, content)
    for each, shard by shard.

    ``git diff-tree --stdin`` is handed each changed shard's two trees and compares them in C
    (a catch-up costs what was added, not the size of the store), writing each shard's diff as
    it is done, where a diff of the whole trees says nothing until it has compared them all
    (~0.3 s for 10,000 records in a million, most of it zlib inflating trees). A thread reads
    that output and asks one ``git cat-file --batch`` at once for each added record's blob, and
    a second thread drains cat-file, so git compares trees on one core while the other inflates
    the blobs found so far: ~0.38 s for those 10,000, against ~0.5 s for the diff and then the
    blobs.

    Once iterated to the end, ``rewritten`` says whether a record vanished or changed (its
    name at another blob): what was read then does not describe the change, and the caller
    starts over. ``moved`` names the records a shard split moved one level deeper (deleted at
    ``ab/cdef….json``, added at ``ab/cd/ef….json`` with the same blob): they were read like
    the others, and are neither new nor gone. No pygit2 beyond the two root trees."""

    def __init__(
        self, paths: git.RepoPaths, pairs: list[tuple[str, str, str]], *, rewritten: bool
    ) -> None:
        self.paths, self.pairs = paths, pairs
        self.rewritten = rewritten
        self.moved: set[str] = set()

    def __iter__(self) -> Generator[tuple[str, bytes, bytes], None, None]:
        import queue
        import subprocess
        import threading

        diff_args = ["diff-tree", "--stdin", "-r", "-z", "--no-renames"]
        diff = subprocess.Popen(
            ["git", *diff_args],
            cwd=self.paths.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        cat = subprocess.Popen(
            ["git", "cat-file", "--batch", "--buffer"],
            cwd=self.paths.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert diff.stdin is not None and diff.stdout is not None and diff.stderr is not None
        assert cat.stdin is not None and cat.stdout is not None
        _widen_pipe(cat.stdout.fileno())
        drained = _Drain(cat.stdout.fileno())
        found: queue.Queue[list[tuple[str, bytes]] | None] = queue.Queue()
        left: dict[str, bytes] = {}  # record name -> blob oid, deleted at this path
        arrived: dict[str, bytes] = {}  # record name -> blob oid, added at this path
        failed: list[BaseException] = []
        diff_in, diff_out, ask = diff.stdin, diff.stdout, cat.stdin
        # Each shard's diff starts with the line asked for it: "<old tree> <new tree>".
        shards: dict[bytes, list[str]] = {}
        for name, before, after in self.pairs:
            shards.setdefault(f"{before} {after}".encode(), []).append(name)

        def request() -> None:  # a thread of its own: git writes while it reads the request
            with contextlib.suppress(OSError, ValueError):
                diff_in.write(b"".join(f"{b} {a}\n".encode() for _, b, a in self.pairs))
            with contextlib.suppress(OSError, ValueError):
                diff_in.close()

        def compare() -> None:
            """Read each shard's diff as git writes it; ask cat-file for each added record's
            blob."""
            rest, shard = b"", ""
            try:
                while chunk := os.read(diff_out.fileno(), 1 << 16):
                    fields = (rest + chunk).split(b"\0")
                    # Entries are pairs (meta, path): keep an unfinished pair for later.
                    whole = len(fields) - 1 - (len(fields) - 1) % 2
                    rest = b"\0".join(fields[whole:])
                    batch, shard = self._entries(fields[:whole], shards, shard, left, arrived)
                    if batch:
                        ask.write(b"".join(oid.hex().encode() + b"\n" for _, oid in batch))
                        ask.flush()
                        found.put(batch)
            except (BrokenPipeError, ValueError, OSError):
                pass  # cat-file or the diff was stopped: said by the reader
            except BaseException as exc:  # raised on the reader's thread
                failed.append(exc)
            finally:
                found.put(None)
                with contextlib.suppress(OSError, ValueError):
                    ask.close()

        names: list[str] = []

        def requested() -> Iterator[bytes]:
            while (batch := found.get()) is not None:
                for name, oid in batch:
                    names.append(name)
                    yield oid

        threads = [
            threading.Thread(target=f, daemon=True, name=f"lineage-{f.__name__}")
            for f in (request, compare, drained.run)
        ]
        for thread in threads:
            thread.start()
        ended = False
        try:
            for n, (oid, blob) in enumerate(_batch_output(requested(), drained.take)):
                if blob is None:
                    raise _unreadable(oid, "is missing from")
                yield names[n], oid, blob
            ended = True
        finally:
            drained.stop()
            if not ended:
                diff.kill()
            cat.kill()  # unblocks the drain's read; cat-file had been asked for everything
            for thread in threads:
                thread.join()
            cat.wait()
            with contextlib.suppress(OSError):
                cat.stdout.close()
            message = diff.stderr.read().decode(errors="replace")
            diff_out.close()
            diff.stderr.close()
            status = diff.wait()
        if failed:
            raise failed[0]
        if status != 0:
            raise git.GitError(diff_args, message)
        if len(names) < len(arrived):  # cat-file stopped early
            raise _unreadable(list(arrived.values())[len(names)], "could not be read from")
        # A shard split one level deeper between the two tips moves its records.
        self.moved = {name for name, oid in left.items() if arrived.get(name) == oid}
        if len(left) > len(self.moved):
            self.rewritten = True

    def _entries(
        self,
        fields: list[bytes],
        shards: dict[bytes, list[str]],
        shard: str,
        left: dict[str, bytes],
        arrived: dict[str, bytes],
    ) -> tuple[list[tuple[str, bytes]], str]:
        """The records ``fields`` (pairs of meta, path of ``git diff-tree --stdin -r -z``,
        ``shard`` the one being diffed) add, as (name, oid), and the shard diffed after them;
        what they delete goes to ``left``, what they add to ``arrived``."""
        added = []
        for n in range(0, len(fields), 2):
            meta = fields[n]
            while not meta.startswith(b":") and b"\n" in meta:  # the line of a shard's diff
                line, _, meta = meta.partition(b"\n")
                shard = shards[line].pop(0)
            parts = meta.split()
            path = fields[n + 1].decode("utf-8", "surrogateescape")
            record_name = record_id_of(f"{shard}/{path}")
            if len(parts) != 5 or record_name is None:
                continue
            if parts[4] == b"D":
                left[record_name] = bytes.fromhex(parts[2].decode("ascii"))
            elif parts[4] == b"A" and parts[1] in (b"100644", b"100755", b"120000"):  # a blob
                oid = bytes.fromhex(parts[3].decode("ascii"))
                arrived[record_name] = oid
                added.append((record_name, oid))
            else:
                self.rewritten = True  # a record's content changed under its name
        return added, shard


# An entry of `git ls-tree -r -z` that is a record lineage wrote: a blob at ab/cdef….json or
# ab/cd/ef….json, hex all through (anchored at an entry's start: after a NUL, or the first).
_RECORD_ENTRY = re.compile(
    rb"(?<![^\0])[0-7]{6} blob ([0-9a-f]{40,64})\t([0-9a-f]{2})/(?:([0-9a-f]{2})/)?"
    rb"([0-9a-f]+)\.json\0"
)


def _leaves_of(listing: bytes) -> list[tuple[str, bytes]]:
    """(record name, hex blob oid) of each record entry of ``git ls-tree -r -z``. When every
    entry is a record as lineage names them, one regular expression reads them all in C (a
    million in ~0.5 s); otherwise each entry is read as ``record_id_of`` says."""
    matches = _RECORD_ENTRY.findall(listing)
    if len(matches) == listing.count(b"\0"):
        return [((a + b + c).decode("ascii"), oid) for oid, a, b, c in matches]
    found = []
    for entry in listing.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) != 3 or fields[1] != b"blob":
            continue
        name = record_id_of(path.decode("utf-8", "surrogateescape"))
        if name is not None:
            found.append((name, fields[2]))
    return found


# From this many records, a full read asks git for them in pack order (Store.leaves):
# below it the delta bases fit git's cache whatever the order, and the listing, started beside
# ls-tree, is stopped (in a large code repository, listing every object costs more than it saves).
PACK_ORDER_FROM = 50_000


def _in_pack_order(found: list[tuple[str, bytes]], listing: bytes) -> list[tuple[str, bytes]]:
    """``found`` (name, hex oid) in the order ``listing`` (the id of every object git holds,
    one a line, as the packs store them) names their blobs; any it lacks at the end. (Asking
    git for each object's type too costs more than looking trees and commits up here.)"""
    wanted = {oid: (name, oid) for name, oid in found}
    ordered = []
    for oid in listing.split():
        item = wanted.pop(oid, None)
        if item is not None:
            ordered.append(item)
    return ordered + list(wanted.values())


class _Listing:
    """Every object id git holds, in pack order (``cat-file --batch-all-objects --unordered``),
    listed by a git process started now and read by a thread, while the caller goes on."""

    def __init__(self, root: Path) -> None:
        import subprocess
        import threading

        self.proc = subprocess.Popen(
            [
                "git",
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname)",
                "--unordered",
            ],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.out = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        # Few large reads: this thread takes the GIL back after each one, and waits for it
        # while the caller parses ls-tree's output (a 64 KB pipe made that a thousand waits).
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        _widen_pipe(fd)
        chunks = []
        while chunk := os.read(fd, _PIPE_BYTES):
            chunks.append(chunk)
        self.out = b"".join(chunks)

    def output(self) -> bytes:
        """What git listed (empty if it failed: the blobs are then read in name order)."""
        self.thread.join()
        return self.out if self.proc.wait() == 0 else b""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.thread.join()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.proc.wait()


_PIPE_BYTES = 1 << 20  # cat-file's output pipe, asked of Linux (its default is 64 KB)
_READ_AHEAD = 64 << 20  # bytes of cat-file's output read ahead of the caller
# A caller waiting for output wakes once this much arrived (or the end), not at every pipe read.
_HANDED_FROM = 256 << 10


def _request(oids: Sequence[bytes]) -> bytes:
    """``oids`` (raw ids) as ``git cat-file --batch`` reads them, one hex id a line; built in C
    (~41 MB for a million ids), so a thread feeding it to git only waits in ``write``."""
    hexed = binascii.hexlify(b"".join(oids))
    width = 2 * len(oids[0]) if oids else 40  # every id of a repository has one length
    return b"".join([hexed[at : at + width] + b"\n" for at in range(0, len(hexed), width)])


def _batch_output(
    oids: Iterable[bytes], read: Callable[[], bytes]
) -> Iterator[tuple[bytes, bytes | None]]:
    """Each of ``oids`` with its content, None where git said it is missing, parsed from
    ``git cat-file --batch``'s output as ``read`` returns it (b"": the end); it stops early
    where that output does. The pieces of one blob are joined once: appending each read to
    what waits would copy a large blob over and over."""
    buffer, at = b"", 0

    def more(wanted: int) -> bool:  # until ``wanted`` bytes are unread
        nonlocal buffer, at
        parts, short = [buffer[at:]], wanted - (len(buffer) - at)
        while short > 0 and (chunk := read()):
            parts.append(chunk)
            short -= len(chunk)
        buffer, at = b"".join(parts), 0
        return short <= 0

    for oid in oids:
        while (end := buffer.find(b"\n", at)) < 0:
            if not more(len(buffer) - at + 1):
                return
        header = buffer[at:end].split()
        at = end + 1
        if len(header) != 3:  # "<oid> missing" (or ambiguous): nothing follows
            yield oid, None
            continue
        size = int(header[2])
        if len(buffer) - at < size + 1 and not more(size + 1):
            return
        yield oid, buffer[at : at + size]
        at += size + 1


class Blobs:
    """(oid, content) of each blob ``oids`` names (20-byte ids), in order, from one ``git
    cat-file --batch`` started at once (no pygit2: the index reads bodies this way on queries
    that must stay light); a blob missing from the repository is left out. Iterate once;
    ``close()`` (or the end of a ``with``) ends git if the reading stopped early.

    git starts on the other core when this is made, so a caller can query the index while git
    inflates the first blobs. Each blob is handed over as soon as git has written it, so the
    caller decodes one while git inflates the next: `impact` reading 246 run records of a
    million-record store took 23-28 ms reading them all first, 16 ms this way."""

    def __init__(self, paths: git.RepoPaths, oids: Sequence[bytes]) -> None:
        import subprocess
        import threading

        self._wanted = list(dict.fromkeys(oids))
        self._ended = False  # git's output was read to its end (else the reader stopped early)
        self._proc: subprocess.Popen[bytes] | None = None
        self._feeder: threading.Thread | None = None
        if not self._wanted:
            return
        self._proc = proc = subprocess.Popen(
            ["git", *_CAT_FILE],
            cwd=paths.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stdin = proc.stdin
        assert stdin is not None
        request = _request(self._wanted)

        def ask() -> None:
            try:
                stdin.write(request)
                stdin.close()
            except (BrokenPipeError, ValueError, OSError):  # git stopped early: said below
                pass

        # A request past what the pipe holds (64 KB: ~1,500 ids) blocks until git reads it, and
        # git stops reading while its output waits to be read here: a thread writes it then.
        if len(request) > 32_768:
            self._feeder = threading.Thread(target=ask, daemon=True)
            self._feeder.start()
        else:
            ask()

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        if self._proc is None:
            return
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        try:
            for oid, blob in _batch_output(self._wanted, lambda: os.read(fd, 1 << 16)):
                if blob is not None:
                    yield oid, blob
            self._ended = True
        finally:
            self.close()

    def close(self) -> None:
        """Ends git (at once if its output was not read to the end); a git that failed while
        its output was read whole is a ``GitError``."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdout is not None and proc.stderr is not None
        if not self._ended:
            proc.kill()
        proc.stdout.close()
        if self._feeder is not None:
            self._feeder.join()
        message = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if proc.wait() != 0 and self._ended:
            raise git.GitError(_CAT_FILE, message)

    def __enter__(self) -> Blobs:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_CAT_FILE = ("cat-file", "--batch")


def stream_blobs(paths: git.RepoPaths, oids: Sequence[bytes]) -> Iterator[bytes]:
    """The content of each blob ``oids`` names, in order, from one ``git cat-file --batch``;
    a missing blob fails as a damaged repository.

    git inflates blobs on another core while the caller decodes: a thread feeds it the ids,
    and another drains its output from a 1 MB pipe into memory, up to ``_READ_AHEAD`` bytes
    ahead of the caller, so git never waits while the caller works on a batch. The drained
    chunks are handed over in bulk: a queue item and a thread wake-up per 64 KB pipe read cost
    more than decoding (18 CPU-s at a million records)."""
    import subprocess
    import threading

    # Records are delta-compressed against each other in a pack: git's default 96 MB cache of
    # delta bases is exhausted long before a million of them, and each blob then re-inflates
    # its whole chain (100,000 records: 14 s with the default, 3.8 s with 512 MB, which git
    # allocates only as it fills it).
    proc = subprocess.Popen(
        ["git", "-c", "core.deltaBaseCacheLimit=512m", "cat-file", "--batch", "--buffer"],
        cwd=paths.root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None
    _widen_pipe(stdout.fileno())
    drained = _Drain(stdout.fileno())

    # Made whole up front: the feeding thread then never holds the GIL the caller decodes with.
    request = _request(oids)
    _widen_pipe(stdin.fileno())

    def ask() -> None:
        try:
            stdin.write(request)
            stdin.close()
        except (BrokenPipeError, ValueError, OSError):  # the reader stopped early
            pass

    threads = [threading.Thread(target=f, daemon=True) for f in (ask, drained.run)]
    for thread in threads:
        thread.start()
    read = 0
    try:
        for oid, blob in _batch_output(oids, drained.take):
            if blob is None:
                raise _unreadable(oid, "is missing from")
            read += 1
            yield blob
        if read < len(oids):
            raise _unreadable(oids[read], "could not be read from")
    finally:
        drained.stop()
        proc.kill()  # unblocks the feeder's write and the drain's read
        for thread in threads:
            thread.join()
        with contextlib.suppress(OSError):  # a write the kill cut short cannot be flushed
            stdin.close()
        stdout.close()
        proc.wait()


def _unreadable(oid: bytes, what: str) -> LineageError:
    """A record blob git did not hand over (``what``: "is missing from", "could not be read
    from"), as the damaged repository it says."""
    return LineageError(
        f"record blob {oid.hex()} {what} the repository; run `git fsck` and fetch the records again"
    )


class _Drain:
    """Reads a pipe to its end on a thread of its own, holding up to ``_READ_AHEAD`` bytes;
    :meth:`take` hands the caller everything read so far as one bytes object, once there is
    ``_HANDED_FROM`` of it or the pipe ended (b"": the end)."""

    def __init__(self, fd: int) -> None:
        import threading

        self.fd = fd
        self.chunks: list[bytes] = []
        self.held = 0
        self.ended = False
        self.stopped = False
        self.lock = threading.Condition()

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, _PIPE_BYTES)
            except OSError:
                chunk = b""
            with self.lock:
                if chunk:
                    self.chunks.append(chunk)
                    self.held += len(chunk)
                else:
                    self.ended = True
                if self.held >= _HANDED_FROM or not chunk:
                    self.lock.notify_all()
                if not chunk:
                    return
                while self.held >= _READ_AHEAD and not self.stopped:
                    self.lock.wait()
                if self.stopped:
                    return

    def take(self) -> bytes:
        with self.lock:
            while self.held < _HANDED_FROM and not self.ended:
                self.lock.wait()
            taken = b"".join(self.chunks)
            self.chunks.clear()
            self.held = 0
            self.lock.notify_all()
        return taken

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            self.lock.notify_all()


def _widen_pipe(fd: int) -> None:
    """Ask Linux for a 1 MB pipe (fewer, larger reads); elsewhere, or refused, keep the
    default."""
    import fcntl

    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _sub_records(shard_name: str | None, sub: Any) -> dict[str, Any]:
    """Record name → entry for the records of one sub-shard (``ab/cd/``)."""
    import pygit2

    prefix = f"{shard_name}/{sub.name}"
    held = {}
    for leaf in sub:
        record = record_id_of(f"{prefix}/{leaf.name}")
        if record is not None and isinstance(leaf, pygit2.Blob):
            held[record] = leaf
    return held


def _union_records(
    mine: dict[str, Any], theirs: dict[str, Any], conflicts: list[str]
) -> dict[str, Any]:
    """Both sides' records; for a name held with two contents, the copy matching its name
    (ours when neither does), and the name noted in ``conflicts``."""
    merged = dict(mine)
    for record, leaf in theirs.items():
        kept = merged.get(record)
        if kept is None:
            merged[record] = leaf
        elif kept.id != leaf.id:
            conflicts.append(record)
            if not _holds(kept, record) and _holds(leaf, record):
                merged[record] = leaf
    return dict(sorted(merged.items()))


def _diff_records(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[list[tuple[str, Any]], bool]:
    added = [(name, leaf) for name, leaf in after.items() if name not in before]
    changed = any(before[name].id != leaf.id for name, leaf in after.items() if name in before)
    return added, changed or len(after) - len(added) < len(before)


def _shard_diff(before: Any, after: Any) -> tuple[list[tuple[str, Any]], bool]:
    """(records ``after`` holds that ``before`` lacks, whether any record vanished or changed).
    Two split shards are compared sub-shard by sub-shard, skipping equal ones."""
    if before is None:
        return list(shard_records(after).items()), False
    if not (_is_split(before) and _is_split(after)):
        return _diff_records(shard_records(before), shard_records(after))
    added: list[tuple[str, Any]] = []
    removed = False
    subs_before = {sub.name: sub for sub in before if _is_shard(sub)}
    seen = set()
    for sub in after:
        if not _is_shard(sub):
            continue
        seen.add(sub.name)
        old = subs_before.get(sub.name)
        if old is not None and old.id == sub.id:
            continue
        old_records = _sub_records(before.name, old) if old is not None else {}
        leaves, gone = _diff_records(old_records, _sub_records(after.name, sub))
        added += leaves
        removed = removed or gone
    return added, removed or bool(set(subs_before) - seen)
