"""What lineage asks of git about remotes and branches: which remotes there are, fetching and
pushing one ref (the lineage records), which commits a push publishes, and which branches hold
a commit. Git's messages are parsed in one place
only (a remote that lacks the ref we fetch), so those calls run with the C locale.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from lineage.adapters.git import SNAPSHOT_SUBJECT, GitError, RepoPaths, git, run_git

Advance = Callable[..., None]  # a progress bar's advance(n, total=...) (lineage/progress.py)
_C_LOCALE = {"LC_ALL": "C", "LANGUAGE": "C"}
_CHECK_REMOTE = "check the remote's name or URL (`git remote -v`) and that you can reach it"


def remotes(paths: RepoPaths) -> list[str]:
    """The configured remote names (`git remote`)."""
    return git(paths, "remote").split()


def upstream_remote(paths: RepoPaths, branch: str) -> str | None:
    """The remote ``branch`` tracks (``branch.<name>.remote``), or None."""
    proc = run_git(paths.root, ["config", "--get", f"branch.{branch}.remote"], check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def fetch_ref(
    paths: RepoPaths, remote: str, src: str, dst: str, *, progress: Advance | None = None
) -> bool:
    """Force-update the local ``dst`` to the remote's ``src``; False when the remote has no
    ``src``. No tags, no FETCH_HEAD: nothing of the user's is touched. ``progress`` (a bar's
    ``advance``) hears of each object received."""
    args = ["fetch", "--no-tags", "--no-write-fetch-head", remote, f"+{src}:{dst}"]
    proc = _transfer(paths, args, progress, quiet=True)
    if proc.returncode == 0:
        return True
    stderr = proc.stderr.decode(errors="replace")
    if f"couldn't find remote ref {src}" in stderr:
        return False
    raise GitError(["fetch", remote, src], stderr, _CHECK_REMOTE)


@dataclass(frozen=True)
class RefPush:
    """How the remote took one ref (`git push --porcelain`): flag ``=`` up to date, `` `` a
    fast-forward (summary ``old..new``), ``*`` a new ref, ``!`` rejected."""

    flag: str
    summary: str

    @property
    def old(self) -> str | None:
        """The remote's previous tip for a fast-forward."""
        return self.summary.partition("..")[0] if self.flag == " " else None

    @property
    def stale(self) -> bool:
        """Rejected because the remote holds commits we lack: fetch, merge, and push again."""
        return self.flag == "!" and (
            "fetch first" in self.summary or "non-fast-forward" in self.summary
        )

    @property
    def contended(self) -> bool:
        """Rejected because another push was updating the same ref at that moment: the remote
        could not lock it, or found it moved under the lock (``[remote rejected] (failed to
        update ref)``). A race like ``stale``, not a refusal: pull, and push again."""
        return self.flag == "!" and (
            "failed to update ref" in self.summary or "failed to lock" in self.summary
        )


def push_ref(
    paths: RepoPaths, remote: str, src: str, dst: str, *, progress: Advance | None = None
) -> RefPush:
    """Push ``src`` to the remote's ``dst``, never forced. Hooks are skipped (``--no-verify``):
    a pre-push hook that pushes this ref must not run itself again. ``progress`` (a bar's
    ``advance``) hears of each object written."""
    args = ["push", "--porcelain", "--no-verify", remote, f"{src}:{dst}"]
    proc = _transfer(paths, args, progress, quiet=False)  # --quiet would hide the porcelain
    for line in proc.stdout.decode(errors="replace").splitlines():
        flag, _, rest = line.partition("\t")
        refs, _, summary = rest.partition("\t")
        if len(flag) == 1 and refs == f"{src}:{dst}":
            return RefPush(flag, summary)
    raise GitError(args, proc.stderr.decode(errors="replace"), _CHECK_REMOTE)


# git's own count of a transfer (`--progress`), redrawn in place with "\r". A fetch of fewer
# than fetch.unpackLimit (100) objects is unpacked without a count: too small to need a bar.
_COUNTED = re.compile(rb"(?:Receiving|Unpacking|Writing) objects: +\d+% \((\d+)/(\d+)\)")


def _transfer(
    paths: RepoPaths, args: list[str], progress: Advance | None, *, quiet: bool
) -> subprocess.CompletedProcess[bytes]:
    """Run a fetch or push (``quiet``: with ``--quiet``); with ``progress``, pass git's object
    count on to it instead (``--quiet`` would silence the count too)."""
    env = {**os.environ, **_C_LOCALE}
    if progress is None:
        quieted = [args[0], "--quiet", *args[1:]] if quiet else args
        return run_git(paths.root, quieted, env=env, check=False)
    command = ["git", args[0], "--progress", *args[1:]]
    with subprocess.Popen(
        command, cwd=paths.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        said = _counted(proc.stderr, progress)
        out = proc.stdout.read()  # one porcelain line per ref: never fills the pipe first
    return subprocess.CompletedProcess(command, proc.returncode, out, said)


def _counted(stream: IO[bytes], progress: Advance) -> bytes:
    """Read git's stderr to its end, advancing ``progress`` by the objects it counts; return
    the rest of what git said (for an error message)."""
    kept: list[bytes] = []
    done, pending = 0, b""
    while chunk := os.read(stream.fileno(), 65536):
        *pieces, pending = re.split(rb"[\r\n]", pending + chunk)
        for piece in pieces:
            counted = _COUNTED.search(piece)
            if counted is not None:
                now, total = int(counted.group(1)), int(counted.group(2))
                progress(now - done, total=total)
                done = now
            elif piece.strip():
                kept.append(piece)
    return b"\n".join([*kept, pending])


def new_commits(
    paths: RepoPaths, tips: Sequence[str], known: Sequence[str], remote: str | None
) -> list[str]:
    """Commits reachable from ``tips`` but neither from ``known`` (shas, which may be absent
    here) nor from the remote-tracking branches of ``remote``."""
    if not tips:
        return []
    args = ["rev-list", "--ignore-missing", *tips, "--not", *known]
    if remote is not None:
        args.append(f"--remotes={remote}")
    return git(paths, *args).split()


def remote_refs(paths: RepoPaths, remote: str) -> list[str]:
    """The remote-tracking refs of ``remote`` (as last fetched)."""
    proc = run_git(
        paths.root, ["for-each-ref", "--format=%(refname)", f"refs/remotes/{remote}/"], check=False
    )
    return proc.stdout.decode().split() if proc.returncode == 0 else []


def refs_containing(paths: RepoPaths, commit: str) -> list[str]:
    """Local and remote-tracking branches whose history contains ``commit``."""
    proc = run_git(
        paths.root,
        ["for-each-ref", "--contains", commit, "--format=%(refname)", "refs/heads", "refs/remotes"],
        check=False,
    )
    return proc.stdout.decode().split() if proc.returncode == 0 else []


@dataclass(frozen=True)
class NewSnapshot:
    """A snapshot commit of a dirty tree that a push would publish for the first time."""

    commit: str
    base: str | None  # None: snapshotted before the first commit
    added: tuple[str, ...]  # files it holds that its base lacks (the untracked ones among them)


_HEADER = re.compile(r"\x01([0-9a-f]{40,64})((?: [0-9a-f]{40,64})*)")


def new_snapshots(paths: RepoPaths, tip: str, known: Sequence[str]) -> list[NewSnapshot]:
    """Lineage's snapshot commits reachable from ``tip`` but not from ``known`` (tips the
    remote is known to hold), each with the files it adds to its base, from one ``git log``."""
    out = run_git(
        paths.root,
        [
            "log",
            "-z",
            "--format=%x01%H %P",
            "--name-status",  # not --diff-filter=A: it would drop snapshots that add nothing
            "--no-renames",
            f"--grep=^{SNAPSHOT_SUBJECT}$",
            tip,
            "--not",
            *known,
            "--",
        ],
    ).stdout.decode("utf-8", errors="surrogateescape")
    found: list[NewSnapshot] = []
    tokens = iter(out.split("\0"))
    for token in tokens:
        token = token.removeprefix("\n")  # git's one newline between a header and its paths
        header = _HEADER.fullmatch(token)
        if header:
            parents = header.group(2).split()
            found.append(NewSnapshot(header.group(1), parents[0] if parents else None, ()))
        elif token and found:
            path = next(tokens, "")  # each status letter is followed by its path
            if token == "A":
                last = found[-1]
                found[-1] = NewSnapshot(last.commit, last.base, (*last.added, path))
    return found
