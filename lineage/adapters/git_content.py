"""What lineage reads of the contents of commits and of the index: objects by name, sizes, the
changes a commit is making, tree differences (through the ``git`` CLI, one process per question,
for the hooks), and whole trees of past commits (in process with pygit2, for `import mlflow`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lineage.adapters.git import RepoPaths, git, run_git
from lineage.adapters.tool_stores import ToolStores


@dataclass(frozen=True)
class StagedChange:
    """One path whose staged content differs from HEAD (``git diff-index --cached --raw``)."""

    path: str
    status: str  # A, M, D, T (renames are reported as D + A)
    old_mode: str
    new_mode: str
    old_sha: str  # zeros when added
    new_sha: str  # zeros when deleted


def staged_changes(paths: RepoPaths) -> list[StagedChange]:
    """What the commit being made changes, from the index git gives a hook (GIT_INDEX_FILE)."""
    args = ["diff-index", "--cached", "--raw", "-z", "--no-renames", "--ignore-submodules"]
    proc = run_git(paths.root, [*args, "HEAD", "--"], check=False)
    if proc.returncode != 0:  # no HEAD yet: everything staged is new
        empty = run_git(paths.root, ["hash-object", "-t", "tree", "--stdin"], input=b"")
        proc = run_git(paths.root, [*args, empty.stdout.decode().strip(), "--"])
    fields = proc.stdout.split(b"\0")
    changes = []
    for meta, path in zip(fields[0:-1:2], fields[1::2], strict=False):
        old_mode, new_mode, old_sha, new_sha, status = meta.decode().lstrip(":").split(" ")
        changes.append(
            StagedChange(
                path=os.fsdecode(path),
                status=status[:1],
                old_mode=old_mode,
                new_mode=new_mode,
                old_sha=old_sha,
                new_sha=new_sha,
            )
        )
    return changes


def index_shas(paths: RepoPaths, pathspecs: Sequence[str]) -> dict[str, str]:
    """path -> blob sha of the staged entries matching ``pathspecs`` (globs)."""
    proc = run_git(paths.root, ["ls-files", "-s", "-z", "--", *pathspecs], env=_pathspec_magic())
    found = {}
    for entry in proc.stdout.split(b"\0"):
        if entry:
            meta, _, path = entry.partition(b"\t")
            found[os.fsdecode(path)] = meta.split(b" ")[1].decode()
    return found


def object_sizes(paths: RepoPaths, shas: Sequence[str]) -> dict[str, int]:
    """Size in bytes of each object, from one ``git cat-file --batch-check``."""
    if not shas:
        return {}
    proc = run_git(
        paths.root,
        ["cat-file", "--batch-check=%(objectname) %(objectsize)"],
        input="".join(f"{sha}\n" for sha in shas).encode(),
    )
    sizes = {}
    for line in proc.stdout.decode().splitlines():
        name, _, size = line.partition(" ")
        if size.isdigit():
            sizes[name] = int(size)
    return sizes


def read_objects(paths: RepoPaths, names: Sequence[str]) -> dict[str, bytes | None]:
    """The content of each object (a sha, ``REV:path`` or ``:path``), None when missing,
    from one ``git cat-file --batch``."""
    if not names:
        return {}
    proc = run_git(
        paths.root,
        ["cat-file", "--batch"],
        input="".join(f"{name}\n" for name in names).encode(),
    )
    out, pos = proc.stdout, 0
    found: dict[str, bytes | None] = {}
    for name in names:
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        pos = end + 1
        if header[-1] == b"missing" or len(header) != 3:
            found[name] = None
            continue
        size = int(header[2])
        found[name] = out[pos : pos + size]
        pos += size + 1
    return found


def tracked_under(paths: RepoPaths, directory: str) -> bool:
    """True when the index holds any file in ``directory`` (repository-relative)."""
    proc = run_git(paths.root, ["ls-files", "-z", "--", directory], check=False)
    return bool(proc.stdout.strip(b"\0"))


def tree_diff(paths: RepoPaths, a: str, b: str) -> list[str]:
    """Paths (files) whose content or mode differs between two commits' trees."""
    proc = run_git(paths.root, ["diff-tree", "-r", "-z", "--no-renames", "--name-only", a, b])
    return [os.fsdecode(p) for p in proc.stdout.split(b"\0") if p]


def commit_summary(paths: RepoPaths, commit: str) -> tuple[str, str] | None:
    """(subject, ISO date) of a commit, or None when the repository does not have it."""
    proc = run_git(paths.root, ["log", "-1", "--format=%s%x00%cI", commit, "--"], check=False)
    if proc.returncode != 0:
        return None
    subject, _, date = proc.stdout.decode(errors="replace").strip().partition("\0")
    return subject, date


def commit_summaries(paths: RepoPaths, commits: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(subject, ISO date) of many commits with one git process; missing ones are left out."""
    if not commits:
        return {}
    proc = run_git(
        paths.root,
        ["log", "--no-walk=unsorted", "--ignore-missing", "--stdin", "--format=%H%x00%s%x00%cI"],
        check=False,
        input="".join(f"{sha}\n" for sha in commits).encode(),
    )
    found: dict[str, tuple[str, str]] = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        sha, _, rest = line.partition("\0")
        subject, _, date = rest.partition("\0")
        found[sha] = (subject, date)
    return found


def diff_stat(paths: RepoPaths, a: str, b: str, stores: ToolStores | None = None) -> str | None:
    """`git diff --stat` between two commits (snapshots included), tools' stores left out (a
    committed mlflow.db is not a code change); None if either is absent."""
    excluded = (stores or ToolStores()).exclude_pathspecs()
    proc = run_git(
        paths.root,
        ["diff", "--stat=100", "--no-color", a, b, "--", *excluded],
        env=_pathspec_magic(),
        check=False,
    )
    return proc.stdout.decode(errors="replace").rstrip() if proc.returncode == 0 else None


def _pathspec_magic() -> dict[str, str]:
    """The environment with pathspec magic (``:(exclude)``) on, whatever the user set."""
    return {k: v for k, v in os.environ.items() if k != "GIT_LITERAL_PATHSPECS"}


def commit_parents(paths: RepoPaths, rev: str) -> tuple[str, list[str]]:
    """The commit ``rev`` names, and its parents (first parent first)."""
    shas = git(paths, "rev-list", "--parents", "-n", "1", rev).split()
    return shas[0], shas[1:]


class CommitTrees:
    """The trees of past commits, read in process with pygit2: ~1 ms a commit once the
    repository is open, against ~90 ms for a `git` process per question."""

    def __init__(self, paths: RepoPaths) -> None:
        self.paths = paths
        self._repo: Any = None
        self._children: dict[str, list[str]] | None = None

    def at(self, commit: str) -> CommitTree:
        if self._repo is None:
            import pygit2

            self._repo = pygit2.Repository(str(self.paths.git_dir))
        return CommitTree(self._repo[commit].peel(_pygit2().Tree))

    def children(self, commit: str) -> list[str]:
        """The commits made on top of ``commit`` (whose first parent it is), on any branch, tag
        or remote-tracking branch."""
        if self._children is None:
            self._children = _first_parent_children(self.paths)
        return self._children.get(commit, [])

    def changed(self, a: str, b: str) -> list[str]:
        """The paths whose content or mode differs between two commits' trees."""
        self.at(a)  # opens the repository
        diff = self._repo.diff(self._repo[a], self._repo[b])
        return sorted({p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)})


def _first_parent_children(paths: RepoPaths) -> dict[str, list[str]]:
    args = ["rev-list", "--parents", "--branches", "--tags", "--remotes", "HEAD", "--"]
    proc = run_git(paths.root, args, check=False)
    children: dict[str, list[str]] = {}
    for line in proc.stdout.decode().splitlines():
        commit, *parents = line.split()
        if parents:
            children.setdefault(parents[0], []).append(commit)
    return children


class CommitTree:
    """The files of one commit."""

    def __init__(self, tree: Any) -> None:
        self._tree = tree

    def files(self) -> list[str]:
        """Every file path in the tree."""
        return list(_walk(self._tree, ""))

    def _entry(self, path: str) -> Any:
        try:
            return self._tree[path]
        except (KeyError, ValueError):
            return None

    def is_file(self, path: str) -> bool:
        return isinstance(self._entry(path), _pygit2().Blob)

    def text(self, path: str) -> str | None:
        """A file's content as UTF-8 text; None when the tree has no such file."""
        entry = self._entry(path)
        return bytes(entry.data).decode("utf-8") if isinstance(entry, _pygit2().Blob) else None

    def contents(self, path: str) -> bytes | dict[str, bytes] | None:
        """A file's bytes, a directory's files (relative path -> bytes), or None."""
        entry = self._entry(path)
        pygit2 = _pygit2()
        if isinstance(entry, pygit2.Blob):
            return bytes(entry.data)
        if isinstance(entry, pygit2.Tree):
            return {rel: bytes(self._tree[f"{path}/{rel}"].data) for rel in _walk(entry, "")}
        return None


class ListedTree:
    """The files of one commit, listed by ``git ls-tree`` and read by ``git cat-file``: for a
    command that reads a handful of one commit's files (reproduce's plan), a few git processes
    cost less than importing pygit2 (~0.1 s, and ~0.5 s of TLS setup under load)."""

    def __init__(self, paths: RepoPaths, commit: str) -> None:
        self.paths = paths
        out = run_git(paths.root, ["ls-tree", "-r", "-z", "--full-tree", commit]).stdout
        self._blobs: dict[str, str] = {}  # path -> blob id
        for entry in out.split(b"\0"):
            meta, _, path = entry.partition(b"\t")
            fields = meta.split()
            if len(fields) == 3 and fields[1] == b"blob":
                self._blobs[path.decode("utf-8", "surrogateescape")] = fields[2].decode("ascii")
        self._read: dict[str, bytes | None] = {}

    def files(self) -> list[str]:
        """Every file path in the tree, in git's order (as ``CommitTree.files``)."""
        return list(self._blobs)

    def is_file(self, path: str) -> bool:
        return path in self._blobs

    def text(self, path: str) -> str | None:
        """A file's content as UTF-8 text; None when the tree has no such file."""
        blob = self._blobs.get(path)
        if blob is None:
            return None
        if blob not in self._read:
            self._read.update(read_objects(self.paths, [blob]))
        content = self._read[blob]
        return None if content is None else content.decode("utf-8")


def _pygit2() -> Any:
    import pygit2

    return pygit2


def _walk(tree: Any, prefix: str) -> Iterator[str]:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if isinstance(entry, _pygit2().Tree):
            yield from _walk(entry, path + "/")
        else:
            yield path
