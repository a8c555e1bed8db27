"""`lineage push` and `lineage pull`, and the pre-push check: lineage travels with the code.

Records live on ``refs/lineage/records``, never on a user branch, so a rebase, a squash-merge
or a deleted branch loses none. Pull fetches the remote's ref into
``refs/lineage/remotes/<remote>/records`` (so the fetch itself never moves the local ref) and
merges that into the store by union (``Store.merge``). Push is a plain fast-forward push of the
ref; when someone else pushed first, it pulls and pushes again. Nothing is ever force-pushed.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lineage.adapters import git, git_remote
from lineage.adapters.store import REF, UP_TO_DATE, Merged
from lineage.context import Context
from lineage.errors import LineageError

PUSH_ATTEMPTS = 5  # push, and on a "fetch first" rejection pull and push again, this often
SHOWN = 10  # missing data objects pre-push lists before "and N more"

Update = tuple[str, str, str, str]  # a pre-push stdin line: local ref, local sha, remote ref, sha


@dataclass(frozen=True)
class Pulled:
    remote: str
    merged: Merged | None  # None: the remote holds no lineage records

    def summary(self) -> str:
        if self.merged is None:
            return f"{self.remote} has no lineage records yet"
        if self.merged.how == UP_TO_DATE:
            return f"already up to date with {self.remote}"
        return f"pulled {_records(self.merged.added)} from {self.remote} ({self.merged.how})"

    @property
    def warnings(self) -> list[str]:
        return [
            f"record {name[:12]} was held with two different contents; kept the copy that "
            "matches its name (the other is corrupt)"
            for name in (self.merged.conflicts if self.merged else ())
        ]


@dataclass(frozen=True)
class Pushed:
    remote: str
    pushed: int | None  # records the remote did not hold; None: there was nothing to push
    pulls: tuple[Pulled, ...] = ()  # what was merged first because the remote had moved

    def summary(self) -> str:
        if self.pushed is None:
            return "no lineage records to push yet; record a run with `lineage run`"
        merged = sum(p.merged.added for p in self.pulls if p.merged)
        after = f" (after pulling {_records(merged)} from it)" if merged else ""
        if self.pulls and not merged:
            after = " (after merging with it)"  # same records, histories joined
        if self.pushed == 0:
            return f"{self.remote} is up to date{after}"
        return f"pushed {_records(self.pushed)} to {self.remote}{after}"

    @property
    def warnings(self) -> list[str]:
        return [w for p in self.pulls for w in p.warnings]


def _records(n: int) -> str:
    return f"{n} new record{'' if n == 1 else 's'}"


def resolve_remote(paths: git.RepoPaths, remote: str | None, *, verb: str = "push") -> str:
    """REMOTE as given, else (like git) the current branch's upstream remote, else origin."""
    if remote:
        return remote
    branch = git.head(paths).branch
    upstream = git_remote.upstream_remote(paths, branch) if branch else None
    if upstream and upstream != ".":
        return upstream
    if "origin" in git_remote.remotes(paths):
        return "origin"
    raise LineageError(
        "no Git remote to share lineage with: the current branch has no upstream and there is "
        f"no 'origin'; add one with `git remote add origin URL`, or name one: `lineage {verb} "
        "REMOTE`"
    )


def tracking_ref(paths: git.RepoPaths, remote: str) -> str:
    """Where the remote's records are fetched to: ``refs/lineage/remotes/<remote>/records``
    (for a URL rather than a configured remote, a name derived from the URL)."""
    if remote not in git_remote.remotes(paths):
        remote = "url-" + hashlib.sha256(remote.encode()).hexdigest()[:16]
    return f"refs/lineage/remotes/{remote}/records"


def pull(ctx: Context, *, remote: str | None = None) -> Pulled:
    """Fetch the remote's records and merge them into this clone's (a union: no conflicts).

    Records fetched are not added to this clone's journal of records it wrote: `lineage
    reproduce` asks before running a command taken from one of them."""
    paths = ctx.paths
    remote = resolve_remote(paths, remote, verb="pull")
    tracking = tracking_ref(paths, remote)
    if not git_remote.fetch_ref(paths, remote, REF, tracking):
        git.git(paths, "update-ref", "-d", tracking)  # forget a ref the remote no longer has
        return Pulled(remote, None)
    fetched = git.git(paths, "rev-parse", tracking)
    merged = ctx.store.merge(fetched, message=f"lineage: merge records from {remote}")
    return Pulled(remote, merged)


def push(ctx: Context, *, remote: str | None = None, attempts: int = PUSH_ATTEMPTS) -> Pushed:
    """Publish this clone's records to the remote's ``refs/lineage/records``. When the remote
    holds records this clone lacks, pull (merge) and push again, up to ``attempts`` times."""
    paths = ctx.paths
    remote = resolve_remote(paths, remote)
    store = ctx.store
    pulls: list[Pulled] = []
    for _ in range(attempts):
        tip = store.tip()
        if tip is None:
            return Pushed(remote, None)
        result = git_remote.push_ref(paths, remote, tip, REF)
        if result.stale:
            pulls.append(pull(ctx, remote=remote))
            continue
        if result.flag == "!":
            raise LineageError(
                f"{remote} refused {REF} ({result.summary}); check that the Git host accepts "
                "refs outside refs/heads and that you may push there"
            )
        git.git(paths, "update-ref", tracking_ref(paths, remote), tip)
        pushed = 0 if result.flag == "=" else store.count_new(result.old, tip)
        return Pushed(remote, pushed, tuple(pulls))
    raise LineageError(
        f"{remote}'s {REF} kept moving while pushing ({attempts} attempts); nothing was lost, "
        f"run `lineage push {remote}` again"
    )


# -- the pre-push hook ---------------------------------------------------------------------


def pre_push(
    ctx: Context,
    remote: str,
    url: str,
    updates: Sequence[Update],
    *,
    say: Callable[[str], None] | None = None,
) -> int:
    """Git's pre-push hook: refuse (1) to publish commits whose runs used data the DVC remote
    lacks; when the check passes, push the lineage records along (0).

    ``remote``, ``url`` and ``updates`` are what git hands the hook (arguments and stdin
    lines). Failing to push the records only warns: the user's push goes ahead.
    """
    say = say or _stderr
    paths, store = ctx.paths, ctx.store
    if store.tip() is None:
        return 0  # no records: nothing to check, nothing to share
    published = [u for u in updates if not _zero(u[1]) and not u[2].startswith("refs/lineage/")]
    if not published:
        return 0
    remote = remote or url  # the pre-commit framework may leave the name empty
    named = remote if remote in git_remote.remotes(paths) else None
    known = [u[3] for u in published if not _zero(u[3])]
    commits = git_remote.new_commits(paths, [u[1] for u in published], known, named)
    data = ctx.index.data_on_commits(commits) if commits else {}
    ctx.close()  # the index is not needed again: do not hold it through network calls
    if data and _refuse(paths, data, say):
        return 1
    if not remote or any(u[2] == REF for u in updates):
        return 0  # no remote named, or the user is pushing the records themselves
    if git.ref_tip(paths, tracking_ref(paths, remote)) == store.tip():
        return 0  # nothing new since the last push or pull
    try:
        pushed = push(ctx, remote=remote)
    except LineageError as exc:
        say(
            f"warning: lineage records were not pushed to {url or remote} ({exc}); run "
            f"`lineage push {remote}` later"
        )
        return 0
    for warning in pushed.warnings:
        say(f"warning: {warning}")
    say(pushed.summary())
    return 0


def _stderr(message: str) -> None:
    print(f"lineage: {message}", file=sys.stderr, flush=True)


def _zero(sha: str) -> bool:
    return set(sha) == {"0"}


def _refuse(paths: git.RepoPaths, data: dict[str, list[str]], say: Callable[[str], None]) -> bool:
    """Check the DVC remote holds ``data``; say what it lacks and return True to refuse."""
    if not data:
        return False
    from lineage.adapters import dvc_config, dvc_store

    skip = "or `git push --no-verify` to skip this check"
    if not (paths.root / ".dvc").is_dir():
        say(
            "warning: runs on these commits used DVC data, but this is not a DVC project "
            "(no .dvc/), so lineage cannot check the data was pushed to a DVC remote"
        )
        return False
    try:
        missing = dvc_store.missing_from_remote(paths.root, data)
    except dvc_store.NoRemoteError:
        say(
            "warning: runs on these commits used DVC data, but no DVC remote is configured, so "
            "lineage cannot check the data was shared; `dvc remote add -d NAME URL` to have "
            "it checked"
        )
        return False
    except LineageError as exc:
        say(
            f"refusing to push: cannot check the DVC remote ({exc}); fix that and push "
            f"again, {skip}"
        )
        return True
    if not missing:
        return False
    config = dvc_config.cache_config(paths.root)
    where = f"DVC remote '{config.default_remote}'" if config.default_remote else "the DVC remote"
    lines = [
        _missing_line(path, md5, lost, config.cache_dir)
        for md5, lost in missing.items()
        for path in data[md5]
    ]
    lines.sort()
    say(
        f"refusing to push: runs on these commits used {len(missing)} data object(s) that "
        f"{where} does not have:"
    )
    for line in lines[:SHOWN]:
        say(f"  {line}")
    if len(lines) > SHOWN:
        say(f"  and {len(lines) - SHOWN} more")
    to = f" (to remote '{config.default_remote}')" if config.default_remote else ""
    say(f"run `dvc push`{to}, then push again, {skip}")
    return True


def _missing_line(path: str, md5: str, lost: tuple[str, ...], cache_dir: Path) -> str:
    from lineage.adapters.dvc_store import object_path

    note = ""
    if lost != (md5,):
        note = f" ({len(lost)} of its files)"
    elif not object_path(cache_dir, md5).exists():
        note = " (not in this clone's DVC cache either: push it from where it was made)"
    return f"{path} {md5}{note}"
