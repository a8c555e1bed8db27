"""`lineage push` / `lineage pull` of 10,000 records to and from a local bare remote, against a
plain `git push` / `git fetch` of the same ref: the floor, what moving the objects costs.

Every sample starts from the same state, rebuilt untimed before it: an empty bare remote for
a push, a clone with no records (or with records of its own, to make `pull` merge) for a pull.
Both sides of a comparison run alternately in fresh processes (bench/timing.py).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import fixtures
from fixtures import LINEAGE, Workspace
from report import Section, ms, ratio, timing_cells
from timing import Summary, alternate, run, timed

from lineage.adapters import git
from lineage.adapters.store import REF, Store

N_RECORDS = 10_000
OWN = 100  # records of the pulling clone's own in the merge case

Log = Callable[[str], None]


def sections(ws: Workspace, *, repeats: int, warmup: int, log: Log) -> list[Section]:
    env = ws.env()
    base = ws.fresh("sync")
    rs = fixtures.records_store(ws, N_RECORDS, lambda m: log(f"  sync: {m}"))
    source = base / "source"
    shutil.move(rs.repo, source)  # records_store's scratch copy is shared with other parts
    n = Store(git.discover(source)).count_new(None, _tip(source, env))

    def bare(name: str) -> Path:
        path = base / name
        shutil.rmtree(path, ignore_errors=True)
        run(["git", "init", "-q", "--bare", path], cwd=base, env=env)
        return path

    def clone(name: str, *, own: bool) -> Path:
        """A repository with no records (or ``OWN`` of its own) and full.git as origin."""
        path = base / name
        shutil.rmtree(path, ignore_errors=True)
        run(["git", "init", "-q", path], cwd=base, env=env)
        run(["git", "remote", "add", "origin", base / "full.git"], cwd=path, env=env)
        if own:
            runs, beside = fixtures.fresh_records(OWN, rs.commit, seed=N_RECORDS * 7)
            Store(git.discover(path)).append(runs + beside)
        return path

    run(["git", "remote", "add", "empty", base / "empty.git"], cwd=source, env=env)
    bare("full.git")
    run(["git", "push", "-q", base / "full.git", "main", f"{REF}:{REF}"], cwd=source, env=env)
    run(["git", "remote", "add", "full", base / "full.git"], cwd=source, env=env)
    run([LINEAGE, "push", "full"], cwd=source, env=env)  # the tracking ref: "nothing new"

    def push(argv: Sequence[str | Path], expect: str | None) -> Callable[[], dict[str, float]]:
        def probe() -> dict[str, float]:
            bare("empty.git")
            return timed(argv, cwd=source, env=env, expect=expect)

        return probe

    def pull(
        argv: Sequence[str | Path], expect: str | None, *, own: bool
    ) -> Callable[[], dict[str, float]]:
        def probe() -> dict[str, float]:
            target = clone("target", own=own)
            values = timed(argv, cwd=target, env=env, expect=expect)
            if argv[0] == LINEAGE:  # the first query after it catches the index up
                values["log"] = timed([LINEAGE, "log", "-n", "1"], cwd=target, env=env)["wall"]
            return values

        return probe

    fetch = [
        "git",
        "fetch",
        "-q",
        "--no-tags",
        "origin",
        f"+{REF}:refs/lineage/remotes/origin/records",
    ]
    cases = {
        "push": (
            push([LINEAGE, "push", "empty"], f"pushed {n} new records"),
            push(["git", "push", "-q", "--no-verify", "empty", f"{REF}:{REF}"], None),
        ),
        "pull": (
            pull([LINEAGE, "pull"], f"pulled {n} new records", own=False),
            pull(fetch, None, own=False),
        ),
        "merge": (
            pull([LINEAGE, "pull"], "(merged)", own=True),
            pull(fetch, None, own=True),
        ),
        "up to date": (
            lambda: timed([LINEAGE, "push", "full"], cwd=source, env=env, expect="up to date"),
            lambda: timed(["git", "push", "-q", "full", f"{REF}:{REF}"], cwd=source, env=env),
        ),
    }
    probes = {
        f"{name} {side}": probe
        for name, pair in cases.items()
        for side, probe in zip(("lineage", "git"), pair, strict=True)
    }
    samples = alternate(
        probes,
        repeats=repeats,
        warmup=warmup,
        progress=lambda m: log(f"  sync: {m}"),
    )
    labels = {
        "push": f"push {n:,} records to an empty bare remote",
        "pull": f"pull {n:,} records into a clone with none",
        "merge": f"pull {n:,} records into a clone with {OWN} of its own (merge commit)",
        "up to date": "push when the remote already has everything",
    }
    section = Section(
        f"`lineage push` / `lineage pull` ({n:,} records, local bare remote)",
        "Fresh processes, alternated with the plain git command that moves the same ref (the "
        "floor: `git push REMOTE refs/lineage/records`, `git fetch REMOTE "
        "+refs/lineage/records:refs/lineage/remotes/REMOTE/records`). Each sample starts from "
        "the same state, rebuilt untimed. `lineage pull` brings the index level itself (it "
        "checks every record pulled against the record schema and quarantines the invalid "
        "ones), so the pull rows include indexing the records, and the first query afterwards "
        "(last rows) finds the index up to date.",
        ["What", "lineage median ms", "git median ms", "lineage / git", "lineage min ms", "n"],
    )
    for name, label in labels.items():
        ours = Summary.of(samples[f"{name} lineage"]["wall"])
        floor = Summary.of(samples[f"{name} git"]["wall"])
        speed = ratio(ours.median / floor.median)
        median, minimum, count = timing_cells(ours)
        section.rows.append([label, median, ms(floor.median), speed, minimum, count])
    for name in ("pull", "merge"):
        median, minimum, count = timing_cells(Summary.of(samples[f"{name} lineage"]["log"]))
        label = f"then `lineage log -n 1` (after the {name}: nothing left to index)"
        section.rows.append([label, median, "", "", minimum, count])
    section.notes.append(
        f"The records store is bench/fixtures.py's {N_RECORDS:,}-record fixture, packed, whose "
        f"records were appended {fixtures.BATCH:,} per commit; a store made by `lineage run` "
        "has one commit per run, which git walks but does not otherwise pay for."
    )
    return [section]


def _tip(repo: Path, env: dict[str, str]) -> str:
    return run(["git", "rev-parse", REF], cwd=repo, env=env).stdout.strip()


if __name__ == "__main__":  # pragma: no cover - use bench/run.py --only sync
    sys.exit("run `python bench/run.py --only sync`")
