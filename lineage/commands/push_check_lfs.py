"""The pre-push check's Git LFS half: which LFS objects the runs on the commits being pushed
read, and which of them the remote's LFS store lacks. git-lfs's own pre-push hook (chained
before lineage's, see hooks/install.py) uploads the objects of the commits being pushed, but
not those of a run on a dirty tree (its snapshot commit travels with the records) nor those
this clone never had; a teammate could not rebuild such a run. ``sync.pre_push`` asks and
decides, after the DVC half (``push_check.py``).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from lineage.adapters import git_lfs
from lineage.adapters.git import RepoPaths

if TYPE_CHECKING:
    from lineage.index import PushedRun

SHOWN = 10  # missing objects listed before "and N more"
SKIP = "or `git push --no-verify` to skip this check"
_NOT_HERE = "not in this clone's .git/lfs/objects either: push it from where it was made"


class LfsNeeded(NamedTuple):
    """One LFS object a run read, at the path it read it."""

    path: str
    oid: str  # bare hex
    size: int  # bytes (the Batch API asks for it)


def needed(runs: Sequence[PushedRun]) -> list[LfsNeeded]:
    """The LFS objects the runs read (every observed run's LFS inputs)."""
    found = {
        LfsNeeded(d["path"], git_lfs.oid_of(d["md5"]), d.get("size") or 0)
        for run in runs
        for d in run.record.get("inputs") or ()
        if git_lfs.is_lfs_hash(d["md5"]) and d.get("state") != "missing"
    }
    return sorted(found)


def refuse(
    paths: RepoPaths, remote: str, wanted: Sequence[LfsNeeded], say: Callable[[str], None]
) -> bool:
    """Say what the LFS remote lacks and the command that sends it; True refuses the push."""
    if not wanted:
        return False
    from lineage.adapters.git_lfs_http import LfsServerError

    oids = sorted({w.oid for w in wanted})
    try:
        missing = set(
            git_lfs.missing_on_remote(paths, remote, oids, {w.oid: w.size for w in wanted})
        )
    except git_lfs.UncheckableRemoteError:
        command = shlex.join(["git", "lfs", "push", "--object-id", remote, *oids])
        say(
            f"warning: runs on these commits used Git LFS data, and lineage does not check an "
            f"LFS store over SSH ('{remote}'); to make sure it has them, run `{command}`"
        )
        return False
    except LfsServerError as exc:
        # Like git-lfs's own pre-push, which fails the push when it cannot reach the server.
        say(f"refusing to push: {exc.problem}; {exc.step}, then push again, {SKIP}")
        return True
    lacking = [w for w in wanted if w.oid in missing]
    if not lacking:
        return False
    oids = sorted({w.oid for w in lacking})
    command = shlex.join(["git", "lfs", "push", "--object-id", remote, *oids])
    say(
        f"refusing to push: runs on these commits used {len(oids)} Git LFS object(s) that the "
        f"LFS store of '{remote}' does not have; run `{command}`:"
    )
    for item in lacking[:SHOWN]:
        here = git_lfs.object_path(paths.common_dir, item.oid).is_file()
        note = "" if here else f" ({_NOT_HERE})"
        say(f"  {item.path} sha256:{item.oid}{note}")
    if len(lacking) > SHOWN:
        say(f"  and {len(lacking) - SHOWN} more")
    say(f"then push again, {SKIP}")
    return True
