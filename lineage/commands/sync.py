"""`lineage push` and `lineage pull`, and the pre-push check: lineage travels with the code.

Records live on ``refs/lineage/records``, never on a user branch, so a rebase, a squash-merge
or a deleted branch loses none. Pull fetches the remote's ref into
``refs/lineage/remotes/<remote>/records`` (so the fetch itself never moves the local ref) and
merges that into the store by union (``Store.merge``). Push is a plain fast-forward push of the
ref; when someone else pushed first, it pulls and pushes again. Nothing is ever force-pushed.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lineage import progress
from lineage.adapters import git, git_remote
from lineage.adapters.store import REF, UP_TO_DATE, Merged
from lineage.context import Context, skipped_record
from lineage.errors import LineageError
from lineage.formatting import listed, printable
from lineage.redact import redact_uri

PUSH_ATTEMPTS = 5  # push, and on a "fetch first" or lock race pull and push again, this often

Update = tuple[str, str, str, str]  # a pre-push stdin line: local ref, local sha, remote ref, sha


@dataclass(frozen=True)
class Pulled:
    remote: str
    merged: Merged | None  # None: the remote holds no lineage records
    # (record id, reason) of the records pulled that every reader skips (invalid or corrupt):
    # kept in the append-only store, never in the index.
    quarantined: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        if self.merged is None:
            return f"{self.remote} has no lineage records yet"
        if self.merged.how == UP_TO_DATE:
            return f"already up to date with {self.remote}"
        pulled = f"pulled {_records(self.merged.added)} from {self.remote} ({self.merged.how})"
        if self.quarantined:
            n = len(self.quarantined)
            pulled += (
                f"; quarantined {n} invalid record{'' if n == 1 else 's'} (kept in the store, "
                "ignored by every command)"
            )
        return pulled

    @property
    def warnings(self) -> list[str]:
        return [
            f"record {name[:12]} was held with two different contents; kept the copy that "
            "matches its name (the other is corrupt)"
            for name in (self.merged.conflicts if self.merged else ())
        ] + [skipped_record(name, reason) for name, reason in self.quarantined]


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
    with progress.bar(f"pulling records from {_shown(remote)}", unit="objects") as advance:
        found = git_remote.fetch_ref(paths, remote, REF, tracking, progress=_counting(advance))
    if not found:
        git.git(paths, "update-ref", "-d", tracking)  # forget a ref the remote no longer has
        return Pulled(remote, None)
    fetched = git.git(paths, "rev-parse", tracking)
    index = ctx.index  # level with the store before the merge, so what the merge adds is known
    skipped = {name for name, _ in index.corrupt}
    merged = ctx.store.merge(fetched, message=f"lineage: merge records from {remote}")
    index.refresh()  # the records pulled are checked now, and the invalid ones quarantined
    quarantined = tuple((name, why) for name, why in index.corrupt if name not in skipped)
    return Pulled(remote, merged, quarantined)


def push(
    ctx: Context,
    *,
    remote: str | None = None,
    attempts: int = PUSH_ATTEMPTS,
    notify: Callable[[str], None] = lambda _: None,
) -> Pushed:
    """Publish this clone's records to the remote's ``refs/lineage/records``. When the remote
    holds records this clone lacks, pull (merge) and push again, up to ``attempts`` times.
    ``notify`` hears, before anything is sent, which snapshot commits of dirty trees the remote
    gets for the first time and the files each adds to its base."""
    paths = ctx.paths
    remote = resolve_remote(paths, remote)
    store = ctx.store
    pulls: list[Pulled] = []
    announced: set[str] = set()
    for _ in range(attempts):
        tip = store.checked_tip()  # never publish a ref damaged into naming a blob
        if tip is None:
            return Pushed(remote, None)
        _announce_snapshots(ctx, remote, tip, announced, notify)
        with progress.bar(f"pushing records to {_shown(remote)}", unit="objects") as advance:
            result = git_remote.push_ref(paths, remote, tip, REF, progress=_counting(advance))
        if result.stale or result.contended:
            if result.contended:  # teammates pushing at the same instant: don't lock-step
                time.sleep(random.uniform(0.05, 0.5))
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


def _counting(advance: progress.Advance) -> progress.Advance | None:
    """git's own object count for the bar, asked of git only when a bar can show."""
    return advance if progress.enabled() else None


def _shown(remote: str) -> str:
    return printable(redact_uri(remote))


SNAPSHOTS_LISTED = 10  # snapshot commits named one by one before "and N more"


def _announce_snapshots(
    ctx: Context, remote: str, tip: str, announced: set[str], notify: Callable[[str], None]
) -> None:
    """Name the snapshot commits ``tip`` would publish that the remote is not known to hold
    (as last fetched or pushed), with the files each adds: code on no branch, going public."""
    known = git.ref_tip(ctx.paths, tracking_ref(ctx.paths, remote))
    if known is not None and not ctx.store.has_commit(known):
        known = None
    fresh = [
        s
        for s in git_remote.new_snapshots(ctx.paths, tip, [known] if known else [])
        if s.commit not in announced
    ]
    if not fresh:
        return
    announced.update(s.commit for s in fresh)
    count = len(fresh)
    notify(
        f"publishing {count} snapshot commit{'' if count == 1 else 's'} of a dirty tree to "
        f"{printable(redact_uri(remote))} for the first time:"
    )
    for snapshot in fresh[:SNAPSHOTS_LISTED]:
        base = f"based on {snapshot.base[:10]}" if snapshot.base else "before the first commit"
        adds = f"adds {listed(snapshot.added)}" if snapshot.added else "adds no files"
        notify(f"  {snapshot.commit[:10]} ({base}) {adds}")
    if count > SNAPSHOTS_LISTED:
        notify(f"  and {count - SNAPSHOTS_LISTED} more")


# -- the pre-push hook ---------------------------------------------------------------------


def pre_push(
    ctx: Context,
    remote: str,
    url: str,
    updates: Sequence[Update],
    *,
    say: Callable[[str], None] | None = None,
) -> int:
    """Git's pre-push hook: refuse (1) to publish commits whose runs need data a DVC remote
    lacks (``push_check``); when the check passes, push the lineage records along (0).

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
    if commits and _refuse(ctx, commits, remote, say):
        return 1
    if not remote or any(u[2] == REF for u in updates):
        return 0  # no remote named, or the user is pushing the records themselves
    if git.ref_tip(paths, tracking_ref(paths, remote)) == store.tip():
        return 0  # nothing new since the last push or pull
    try:
        pushed = push(ctx, remote=remote, notify=say)
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


def _refuse(ctx: Context, commits: Sequence[str], remote: str, say: Callable[[str], None]) -> bool:
    """Refuse when a DVC remote, or the Git LFS store of ``remote``, lacks data a teammate
    needs to rebuild the commits' runs."""
    runs = ctx.index.pushed_runs(commits)
    if not runs:
        ctx.close()
        return False
    from lineage.commands import push_check, push_check_lfs

    wanted = push_check.needed(ctx.paths, runs, ctx.index.readers)
    ctx.close()  # the index is not needed again: do not hold it through network calls
    if push_check.refuse(ctx.paths, wanted, say):
        return True
    return push_check_lfs.refuse(ctx.paths, remote, push_check_lfs.needed(runs), say)
