"""The lineage store: records as Git blobs on ``refs/lineage/records``.

Layout: the ref points at a chain of commits; each commit's tree holds every record written so
far, sharded by the first two hex digits of its name (``ab/cdef….json``). Appending builds the
new tree and commit in process (pygit2), then moves the ref with ``git update-ref NEW OLD``, an
atomic compare-and-swap: when another writer moved the tip first, the append is redone on top of
the new tip. A process killed at any point leaves either the old tip or the new one, never a
half-written record; unreferenced objects it wrote are garbage for ``git gc``.

The commits runs ran (a dirty tree's snapshot, else the clean commit) become extra parents of
the record commit that names them, so they stay reachable (``git gc`` keeps them) and travel
wherever the ref is pushed.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.adapters import git
from lineage.errors import DamagedRefError, LineageError, printable

if TYPE_CHECKING:
    import pygit2

REF = "refs/lineage/records"
MAX_ATTEMPTS = 100

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


def _blob_path(record_id: str) -> tuple[str, str]:
    return record_id[:2], f"{record_id[2:]}.json"


def record_id_of(path: str) -> str | None:
    """The record name a tree path stands for, or None for anything else in the tree."""
    shard, _, name = path.partition("/")
    if len(shard) != 2 or not name.endswith(".json"):
        return None
    return shard + name[: -len(".json")]


def _holds(entry: Any, record_name: str) -> bool:
    """True when a tree entry is a blob whose content hashes to the record's name."""
    import pygit2

    from lineage.records import record_id  # records' dataclasses cost ~10 ms to import

    return isinstance(entry, pygit2.Blob) and record_id(entry.data) == record_name


class Store:
    def __init__(self, paths: git.RepoPaths) -> None:
        self.paths = paths
        self._repo: pygit2.Repository | None = None

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
        """The tip, verified to be a commit (``tip`` only reads the ref)."""
        tip = self.tip()
        if tip is not None:
            self.commit(tip)
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
        name, email = git.identity(self.paths)
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
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
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
            shard, leaf = _blob_path(record_name)
            by_shard.setdefault(shard, []).append((leaf, blob_id))
        for shard, leaves in sorted(by_shard.items()):
            existing = old_tree[shard] if old_tree is not None and shard in old_tree else None
            builder = repo.TreeBuilder(existing.id) if existing else repo.TreeBuilder()
            for leaf, blob_id in leaves:
                builder.insert(leaf, blob_id, pygit2.GIT_FILEMODE_BLOB)
            root.insert(shard, builder.write(), pygit2.GIT_FILEMODE_TREE)
        return root.write()

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
        name, email = git.identity(self.paths)
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
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # a local writer appended
        raise LineageError(
            f"could not update {REF}: other processes kept moving it for {MAX_ATTEMPTS} "
            "attempts; nothing was lost, run the command again"
        )

    def _union(self, ours: Any, theirs: Any) -> tuple[Any, tuple[str, ...]]:
        """The tree holding every record of both trees, and the names held with two contents.

        Shards with equal ids are taken as they are; only differing shards are merged entry
        by entry, so the cost is what differs, not the size of the store."""
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
            held = {leaf.name: leaf for leaf in mine}
            builder = repo.TreeBuilder(mine)
            for leaf in shard:
                leaf_name = leaf.name or ""
                kept = held.get(leaf_name)
                if kept is None:
                    builder.insert(leaf_name, leaf.id, leaf.filemode)
                elif kept.id != leaf.id:
                    record = record_id_of(f"{shard_name}/{leaf_name}") or leaf_name
                    conflicts.append(record)
                    if not _holds(kept, record) and _holds(leaf, record):
                        builder.insert(leaf_name, leaf.id, leaf.filemode)
            root.insert(shard_name, builder.write(), pygit2.GIT_FILEMODE_TREE)
        return root.write(), tuple(sorted(conflicts))

    def count_new(self, old: str | None, new: str) -> int:
        """How many records ``new``'s tree holds that ``old``'s lacks (by name: no blob is
        read, and shards with equal ids are skipped)."""
        import pygit2

        old_tree = self.repo[old].peel(pygit2.Tree) if old else None
        return self._count_new(old_tree, self.repo[new].peel(pygit2.Tree))

    def _count_new(self, old_tree: Any, new_tree: Any) -> int:
        import pygit2

        count = 0
        for shard in new_tree:
            if not isinstance(shard, pygit2.Tree):
                continue
            shard_name = shard.name or ""
            before = (
                old_tree[shard_name] if old_tree is not None and shard_name in old_tree else None
            )
            if before is not None and before.id == shard.id:
                continue
            held = {leaf.name for leaf in before} if isinstance(before, pygit2.Tree) else set()
            count += sum(
                1
                for leaf in shard
                if leaf.name not in held and record_id_of(f"{shard_name}/{leaf.name}")
            )
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
        shard, leaf = _blob_path(record_name)
        try:
            entry = tree[f"{shard}/{leaf}"]
        except KeyError:
            return None
        return bytes(entry.data) if isinstance(entry, pygit2.Blob) else None

    def iter_all(self, tip: str) -> Iterator[tuple[str, bytes]]:
        """Every record in the tree at ``tip``."""
        for name, _, blob in self.entries(tip):
            yield name, blob

    def entries(self, tip: str) -> Iterator[tuple[str, bytes, bytes]]:
        """Every record in the tree at ``tip`` as (name, blob oid (20 bytes), content).

        The tree is walked here, and the blobs are read by one ``git cat-file --batch`` in its
        own process: unpacking a million delta-compressed blobs then runs on another core,
        while the caller decodes what has arrived."""
        named = list(self._leaves(tip))
        blobs = stream_blobs(self.paths, [oid for _, oid in named])
        for (name, oid), blob in zip(named, blobs, strict=True):
            yield name, oid, blob

    def _leaves(self, tip: str) -> Iterator[tuple[str, bytes]]:
        """(name, blob oid) of every record in the tree at ``tip``; no blob is read."""
        import pygit2

        tree = self.commit(tip).tree
        for shard in tree:
            if not isinstance(shard, pygit2.Tree) or len(shard.name or "") != 2:
                continue
            for leaf in shard:
                record_name = record_id_of(f"{shard.name}/{leaf.name}")
                if record_name is not None and isinstance(leaf, pygit2.Blob):
                    yield record_name, leaf.id.raw

    def added_between(self, old: str, new: str) -> tuple[list[tuple[str, bytes]], bool]:
        """Records in ``new``'s tree that ``old``'s lacks, and whether any record vanished."""
        added, removed = self.entries_added(old, new)
        return [(name, blob) for name, _, blob in added], removed

    def entries_added(self, old: str, new: str) -> tuple[list[tuple[str, bytes, bytes]], bool]:
        """Records in ``new``'s tree that ``old``'s lacks, as (name, blob oid, content), and
        whether any record vanished or changed.

        ``git diff-tree`` skips subtrees whose ids are equal and compares the rest in C, so
        catching up costs what was added, not the size of the store; the added blobs are then
        read by one ``git cat-file --batch``. No pygit2: a catch-up of 10,000 records spends
        its time decoding them, not walking a million tree entries in Python."""
        self.commit(new)  # a damaged ref is said as such, not as a failed diff
        out = git.run_git(
            self.paths.root, ["diff-tree", "-r", "-z", "--no-renames", old, new]
        ).stdout
        fields = out.split(b"\0")
        named: list[tuple[str, bytes]] = []
        removed = False
        for n in range(0, len(fields) - 1, 2):
            meta, path = fields[n].split(), fields[n + 1].decode("utf-8", "surrogateescape")
            if len(meta) != 5:
                continue
            record_name = record_id_of(path)
            if record_name is None:
                continue
            if meta[4] != b"A":
                removed = True  # deleted, or a record's content changed under its name
            elif meta[1] in (b"100644", b"100755", b"120000"):  # what pygit2 calls a blob
                named.append((record_name, bytes.fromhex(meta[3].decode("ascii"))))
        if removed:
            return [], True
        blobs = stream_blobs(self.paths, [oid for _, oid in named])
        added = [(name, oid, blob) for (name, oid), blob in zip(named, blobs, strict=True)]
        return added, False


def read_blobs(paths: git.RepoPaths, oids: Sequence[bytes]) -> dict[bytes, bytes]:
    """The content of each blob ``oids`` names (20-byte ids), read in one ``git cat-file
    --batch`` (no pygit2: the index reads bodies this way on queries that must stay light);
    a blob missing from the repository is left out."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return {}
    request = "".join(f"{oid.hex()}\n" for oid in wanted).encode("ascii")
    out = git.run_git(paths.root, ["cat-file", "--batch"], input=request).stdout
    found: dict[bytes, bytes] = {}
    at = 0
    for oid in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) != 3:  # "<oid> missing" (or ambiguous): nothing follows
            continue
        size = int(header[2])
        found[oid] = out[at : at + size]
        at += size + 1
    return found


def stream_blobs(paths: git.RepoPaths, oids: Sequence[bytes]) -> Iterator[bytes]:
    """The content of each blob ``oids`` names, in order, from one ``git cat-file --batch``
    fed by a thread (its output is read while it is still being asked: neither pipe fills up
    and blocks the other); a missing blob fails as a damaged repository."""
    import subprocess
    import threading

    proc = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=paths.root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None

    def ask() -> None:
        try:
            for start in range(0, len(oids), 1000):
                stdin.write(
                    b"".join(oid.hex().encode() + b"\n" for oid in oids[start : start + 1000])
                )
            stdin.close()
        except (BrokenPipeError, ValueError):  # the reader stopped early and closed the pipe
            pass

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    try:
        for oid in oids:
            header = stdout.readline().split()
            if len(header) != 3:
                raise LineageError(
                    f"record blob {oid.hex()} is missing from the repository; "
                    "run `git fsck` and fetch the records again"
                )
            size = int(header[2])
            yield stdout.read(size + 1)[:size]
    finally:
        stdout.close()
        proc.kill()
        proc.wait()
        asker.join()
