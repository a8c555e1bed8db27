"""Everything lineage asks of Git.

Reads go through the ``git`` CLI where one call answers a question (cheap, and it keeps pygit2's
~100 ms import off the paths of ``log``, ``show`` and hooks); object writing goes through pygit2
in the store. Two things only the CLI does safely: ``git update-ref NEW OLD`` is an atomic
compare-and-swap (pygit2 1.21 has none), and ``git add`` into a temporary index snapshots the
working tree without touching the user's index, as ``git stash create`` does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import hexdigits as HEXDIGITS

from lineage.adapters.tool_stores import ToolStores
from lineage.errors import LineageError, NotARepositoryError, printable

SNAPSHOT_SUBJECT = "lineage snapshot of a dirty working tree"  # what `lineage push` looks for


@dataclass(frozen=True)
class RepoPaths:
    root: Path  # the work tree
    git_dir: Path  # this work tree's git dir (differs from common_dir in a linked worktree)
    common_dir: Path  # shared by all worktrees: refs, objects, and lineage's index

    @property
    def lineage_dir(self) -> Path:
        return self.common_dir / "lineage"


@dataclass(frozen=True)
class Head:
    commit: str | None  # None before the first commit
    branch: str | None  # None when detached


@dataclass(frozen=True)
class Dirt:
    """How the working tree differs from HEAD: tracked changes and untracked source files.
    Tools' stores (``adapters/tool_stores.py``) are never dirt."""

    changed: tuple[str, ...]  # tracked paths modified, added, deleted or renamed
    untracked: tuple[str, ...]  # untracked files under directories that hold tracked files
    # Tracked files of tools' stores that differ from HEAD (someone committed mlflow.db): not
    # dirt, and a snapshot keeps them as HEAD has them.
    tool_changes: tuple[str, ...] = ()

    @property
    def dirty(self) -> bool:
        return bool(self.changed or self.untracked)


class GitError(LineageError):
    def __init__(self, args: Sequence[str], stderr: str, next_step: str = "") -> None:
        self.args_ = tuple(args)
        self.stderr = stderr
        then = f"; {next_step}" if next_step else ""
        super().__init__(printable(f"`git {' '.join(args)}` failed: {git_message(stderr)}{then}"))


def git_message(stderr: str) -> str:
    """The line of git's stderr that says what went wrong: its first ``fatal:`` or ``error:``
    line (the lines after it are advice, e.g. "...and the repository exists."), else the last."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else "no message"


def run_git(
    cwd: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        input=input,
    )
    if check and proc.returncode != 0:
        raise GitError(args, proc.stderr.decode(errors="replace"))
    return proc


def git(paths: RepoPaths, *args: str, env: Mapping[str, str] | None = None) -> str:
    return run_git(paths.root, args, env=env).stdout.decode().strip()


_LOCATIONS = ("--show-toplevel", "--absolute-git-dir", "--git-common-dir")


def discover(cwd: Path) -> RepoPaths:
    """Find the repository containing ``cwd`` with one ``git rev-parse`` call."""
    try:
        proc = run_git(cwd, ["rev-parse", *_LOCATIONS], check=False)
    except FileNotFoundError:
        raise LineageError("git is not installed or not on PATH; install git first") from None
    except NotADirectoryError:
        raise NotARepositoryError(str(cwd)) from None
    if proc.returncode != 0:
        raise _no_work_tree(cwd)
    lines = os.fsdecode(proc.stdout).splitlines()
    if len(lines) != 3:  # a path holding a newline: ask for each alone, where it is unambiguous
        lines = [_rev_parse_one(cwd, option) for option in _LOCATIONS]
    root, git_dir, common = (Path(x) for x in lines)
    if not common.is_absolute():
        common = (cwd / common).resolve()
    return RepoPaths(root=root, git_dir=git_dir, common_dir=common)


def _rev_parse_one(cwd: Path, option: str) -> str:
    out = os.fsdecode(run_git(cwd, ["rev-parse", option]).stdout)
    return out[:-1] if out.endswith("\n") else out  # only git's own newline: a path may hold one


class NoWorkTreeError(LineageError):
    """``cwd`` is in a Git repository that has no working tree there (bare, or inside .git)."""

    def __init__(self, cwd: Path, message: str) -> None:
        self.cwd = cwd
        super().__init__(message)


def _no_work_tree(cwd: Path) -> LineageError:
    """Why ``git rev-parse --show-toplevel`` failed in ``cwd``: no repository at all, a bare
    one, or the inside of a .git directory (each needs a different next step)."""
    proc = run_git(
        cwd,
        ["rev-parse", "--is-bare-repository", "--is-inside-git-dir", "--absolute-git-dir"],
        check=False,
    )
    lines = os.fsdecode(proc.stdout).split("\n", 2)
    if proc.returncode != 0 or len(lines) != 3:
        return NotARepositoryError(shown_path(cwd))
    bare, inside, git_dir = lines[0], lines[1], lines[2].removesuffix("\n")
    if bare == "true":
        return NoWorkTreeError(
            cwd,
            f"{shown_path(cwd)} is a bare Git repository, with no working tree to run or record "
            f"in; run lineage in a clone of it that has one (`git clone {shown_path(git_dir)} "
            "DIR`)",
        )
    if inside == "true":
        return NoWorkTreeError(
            cwd,
            f"{shown_path(cwd)} is inside the .git directory {shown_path(git_dir)}; run lineage "
            "in the working tree instead",
        )
    return NoWorkTreeError(
        cwd,
        f"{shown_path(cwd)} is in a Git repository with no working tree here; run lineage "
        "in a clone that has one",
    )


def shown_path(path: Path | str) -> str:
    """A path as a message shows it: as is, or quoted with escapes when it holds a newline or
    another control character (never printed raw to a terminal)."""
    text = str(path)
    return repr(text) if any(ord(c) < 32 or ord(c) == 127 for c in text) else text


def head(paths: RepoPaths) -> Head:
    proc = run_git(paths.root, ["rev-parse", "-q", "--verify", "HEAD^{commit}"], check=False)
    commit = proc.stdout.decode().strip() or None
    branch_proc = run_git(paths.root, ["symbolic-ref", "-q", "--short", "HEAD"], check=False)
    branch = branch_proc.stdout.decode().strip() or None
    return Head(commit=commit if proc.returncode == 0 else None, branch=branch)


def ref_tip(paths: RepoPaths, ref: str) -> str | None:
    """The commit ``ref`` points at, or None. Every query asks this first, so the common case
    (a loose or packed ref in the files backend) is read directly rather than through a git
    process; anything unusual (reftable, a symbolic or peeled ref) goes through git."""
    direct = _read_ref_file(paths.common_dir, ref)
    if direct is not None:
        return direct or None
    proc = run_git(paths.root, ["rev-parse", "-q", "--verify", f"{ref}^{{commit}}"], check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def object_kind(paths: RepoPaths, sha: str) -> str | None:
    """``commit``, ``tree``, ``blob`` or ``tag``; None when the repository lacks the object
    (never fetched from a partial clone's promisor remote for this)."""
    proc = run_git(
        paths.root,
        ["cat-file", "-t", sha],
        env={**os.environ, "GIT_NO_LAZY_FETCH": "1"},
        check=False,
    )
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def _read_ref_file(common_dir: Path, ref: str) -> str | None:
    """A ref's sha from the files backend; "" when it surely does not exist; None: ask git."""
    if (common_dir / "reftable").exists():
        return None
    try:
        text = (common_dir / ref).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError):
        return None
    if text:
        return text if len(text) in (40, 64) and all(c in HEXDIGITS for c in text) else None
    try:
        packed = (common_dir / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError:
        return None
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name == ref:
            return sha
    return ""


def update_ref(paths: RepoPaths, ref: str, new: str, old: str | None, message: str) -> bool:
    """Atomically move ``ref`` from ``old`` to ``new``; False when someone else moved it first."""
    proc = run_git(
        paths.root,
        ["update-ref", "-m", message, ref, new, old or ""],
        check=False,
    )
    return proc.returncode == 0


def identity(paths: RepoPaths) -> tuple[str, str]:
    """The git identity records are attributed to (user.name / user.email, or the env)."""
    proc = run_git(paths.root, ["var", "GIT_AUTHOR_IDENT"], check=False)
    ident = proc.stdout.decode().strip()
    if proc.returncode == 0 and "<" in ident:
        name, _, rest = ident.partition("<")
        return name.strip(), rest.partition(">")[0].strip()
    return "unknown", "unknown"


def status(paths: RepoPaths, stores: ToolStores | None = None) -> tuple[Head, Dirt]:
    """HEAD, branch, and how the working tree differs from HEAD, from one ``git status`` (two
    while nothing is tracked).

    Dirt is tracked changes, and untracked files whose directory already holds tracked files.
    Untracked files in directories with nothing tracked (scratch/, outputs/) are not code the
    run depends on as far as anyone can tell, so they neither make the tree dirty nor enter the
    snapshot; ignored files never do. In a repository with nothing tracked yet, every untracked
    file counts. Tools' stores (``stores``; the fixed names when None) never count, gitignored
    or not: untracked ones are dropped, tracked ones that changed are set apart in
    ``Dirt.tool_changes``.
    """
    # `normal`, not `all`: an untracked directory is one entry, so git does not walk a store
    # of thousands of artifacts (./mlruns) or a scratch directory file by file. Its files could
    # not count anyway: a wholly untracked directory holds no tracked file.
    head, changed, untracked = _status_entries(paths, "normal")
    stores = stores or ToolStores()
    changed, tool_changes = stores.split(changed)
    # Stores first: often mlflow.db is the only untracked file, and then ls-files is not needed.
    untracked = [p for p in untracked if not stores.holds(p)]
    if untracked:
        dirs = {os.path.dirname(p) for p in tracked_files(paths)}
        if dirs:
            untracked = [p for p in untracked if os.path.dirname(p) in dirs]
        elif any(p.endswith("/") for p in untracked):
            # Nothing tracked yet: every untracked file counts, so list them one by one (a
            # directory entry would bring a store inside it into the snapshot).
            untracked = [p for p in _status_entries(paths, "all")[2] if not stores.holds(p)]
    return (
        head,
        Dirt(
            changed=tuple(sorted(changed)),
            untracked=tuple(sorted(untracked)),
            tool_changes=tuple(sorted(tool_changes)),
        ),
    )


def _status_entries(paths: RepoPaths, untracked_files: str) -> tuple[Head, list[str], list[str]]:
    """HEAD, the tracked paths that differ from it, and the untracked paths, from ``git status``."""
    out = run_git(
        paths.root,
        [
            "status",
            "--porcelain=v2",
            "-z",
            "--branch",
            f"--untracked-files={untracked_files}",
            "--no-renames",
        ],
    ).stdout.decode("utf-8", errors="surrogateescape")
    commit: str | None = None
    branch: str | None = None
    changed: list[str] = []
    untracked: list[str] = []
    for entry in out.split("\0"):
        if entry.startswith("# branch.oid "):
            oid = entry[len("# branch.oid ") :]
            commit = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            head_name = entry[len("# branch.head ") :]
            branch = None if head_name == "(detached)" else head_name
        elif entry.startswith("? "):
            untracked.append(entry[2:])
        elif entry.startswith("1 "):
            changed.append(entry.split(" ", 8)[8])
        elif entry.startswith("u "):
            changed.append(entry.split(" ", 10)[10])
    return Head(commit=commit, branch=branch), changed, untracked


def tracked_files(paths: RepoPaths) -> set[str]:
    """Every path in the index."""
    out = run_git(paths.root, ["ls-files", "-z"]).stdout.decode("utf-8", errors="surrogateescape")
    return {p for p in out.split("\0") if p}


def ignore_rules(paths: RepoPaths, candidates: Sequence[str]) -> dict[str, str]:
    """For each candidate path that some ignore rule matches (any .gitignore, info/exclude, the
    user's excludes file), that rule's pattern (``!…`` when it re-includes the path). Patterns
    only: a tracked path is answered like an untracked one. A trailing ``/`` asks about a
    directory."""
    if not candidates:
        return {}
    proc = run_git(
        paths.root,
        ["check-ignore", "--no-index", "--verbose", "--non-matching", "-z", "--stdin"],
        input="\0".join(candidates).encode("utf-8", errors="surrogateescape") + b"\0",
        check=False,
    )
    if proc.returncode not in (0, 1):  # 1: nothing matched
        raise GitError(["check-ignore"], proc.stderr.decode(errors="replace"))
    fields = proc.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    found = {}
    for source, _line, pattern, path in zip(*[iter(fields)] * 4, strict=False):
        if source:
            found[path] = pattern
    return found


def snapshot(paths: RepoPaths, base: str | None, dirt_: Dirt, message: str) -> str:
    """Commit the exact working tree (tracked files + ``dirt_.untracked``) without touching the
    user's index, work tree or branches; return the commit sha (its parent is ``base``). The
    tracked tool-store files in ``dirt_.tool_changes`` keep their version in ``base``."""
    import tempfile  # ~4 ms, and only snapshots need it (hooks import this module)

    fd, tmp_index = tempfile.mkstemp(prefix="lineage-index-", dir=paths.git_dir)
    os.close(fd)
    try:
        real_index = paths.git_dir / "index"
        if real_index.exists():
            # Start from the user's index so git can trust its stat data and skip re-hashing.
            with open(real_index, "rb") as src, open(tmp_index, "wb") as dst:
                dst.write(src.read())
        else:
            os.unlink(tmp_index)
        env = {**os.environ, "GIT_INDEX_FILE": tmp_index}
        if base is not None:
            if not real_index.exists():
                run_git(paths.root, ["read-tree", base], env=env)
            run_git(paths.root, ["add", "--update", "--", "."], env=env)
        elif real_index.exists():
            run_git(paths.root, ["add", "--update", "--", "."], env=env)
        if dirt_.untracked:
            run_git(
                paths.root,
                ["add", "--pathspec-from-file=-", "--pathspec-file-nul"],
                env=env,
                input="\0".join(dirt_.untracked).encode("utf-8", errors="surrogateescape"),
            )
        if dirt_.tool_changes and Path(tmp_index).exists():
            _keep_as_in_base(paths, base, dirt_.tool_changes, env)
        if not Path(tmp_index).exists():
            # Nothing tracked and nothing to add: an empty tree.
            tree = run_git(paths.root, ["hash-object", "-t", "tree", "-w", "--stdin"], input=b"")
            tree_sha = tree.stdout.decode().strip()
        else:
            tree_sha = git(paths, "write-tree", env=env)
        parents = ["-p", base] if base else []
        return git(paths, "commit-tree", tree_sha, *parents, "-m", message)
    finally:
        if os.path.exists(tmp_index):
            os.unlink(tmp_index)


def _keep_as_in_base(
    paths: RepoPaths, base: str | None, files: Sequence[str], env: Mapping[str, str]
) -> None:
    """Put ``files`` back in the temporary index as ``base`` has them (absent before the first
    commit): whatever a tool wrote into a tracked store is not code."""
    listed = "\0".join(files).encode("utf-8", errors="surrogateescape")
    literal = {**env, "GIT_LITERAL_PATHSPECS": "1"}  # paths, not patterns
    if base is None:
        run_git(
            paths.root, ["update-index", "--force-remove", "-z", "--stdin"], env=env, input=listed
        )
    else:
        run_git(
            paths.root,
            ["reset", "-q", "--pathspec-from-file=-", "--pathspec-file-nul", base],
            env=literal,
            input=listed,
        )


def resolve_commit_prefix(paths: RepoPaths, prefix: str) -> str | None:
    proc = run_git(paths.root, ["rev-parse", "-q", "--verify", f"{prefix}^{{commit}}"], check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def has_commit(paths: RepoPaths, sha: str) -> bool:
    """True when the object database holds this exact commit."""
    proc = run_git(paths.root, ["cat-file", "-e", f"{sha}^{{commit}}"], check=False)
    return proc.returncode == 0


# Hooks are switched off for worktree commands: a post-checkout hook (DVC's runs `dvc checkout`)
# would fill the new worktree with whatever the commit's pointers say, not the recorded data.
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def worktree_add(paths: RepoPaths, dest: Path, commit: str) -> None:
    """A detached worktree of ``commit`` at ``dest``; no branch, index or tree of the user's
    is touched (git keeps the new worktree's HEAD and index under .git/worktrees/)."""
    # Git LFS files stay pointers: reproduce puts the recorded objects there itself, and a
    # smudge that cannot download would fail the checkout (adapters/git_lfs.py restore).
    env = {**os.environ, "GIT_LFS_SKIP_SMUDGE": "1"}
    run_git(paths.root, [*_NO_HOOKS, "worktree", "add", "--detach", str(dest), commit], env=env)


def worktree_remove(paths: RepoPaths, dest: Path) -> None:
    """Remove a worktree ``worktree_add`` made, and git's bookkeeping of it."""
    run_git(
        paths.root, [*_NO_HOOKS, "worktree", "remove", "--force", "--force", str(dest)], check=False
    )
    if dest.exists():
        import shutil

        shutil.rmtree(dest, ignore_errors=True)
    run_git(paths.root, ["worktree", "prune"], check=False)


def config_value(paths: RepoPaths, key: str) -> str | None:
    proc = run_git(paths.root, ["config", "--get", key], check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None
