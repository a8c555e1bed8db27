"""Issue 15's goal 2, a million records: the same measures over stores of growing size, one
table per measure with a column per size, so the growth shows.

Per size (100,000 and 1,000,000 records; 10,000 and 100,000 with ``--quick``), on a fresh copy
of the cached store (``fixtures.records_store``): ``Store.append`` of one record in process
(also on a 1,000-record store, the reference), a cold index build, the index's size, the four
queries alternated with a cold ``MlflowClient`` lookup, and the catch-up after 10,000 records
arrive.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import fixtures
from fixtures import LINEAGE, PYTHON, Workspace
from report import Section, ms, ratio, verdict
from timing import Summary, alternate, timed

from lineage.adapters import git
from lineage.adapters.store import Store

SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
SMOKE_SIZES = (1_000, 2_000)
APPEND_BASE = 1_000  # the small store appends are compared with
APPENDS = 50  # in-process Store.append samples per store
ARRIVING = 10_000  # records a pull brings before the catch-up is timed
INDEX_BYTES_BUDGET = 1024  # goal: index.sqlite bytes per record
BUILD_BUDGET_S = 60.0  # goal: cold build at the largest size
CATCH_UP_BUDGET_S = 0.5
QUERY_BUDGET = 0.05  # a query's fraction of a cold MlflowClient lookup
APPEND_BUDGET = 2.0  # an append's multiple of one on APPEND_BASE records
CLIENT_SEARCH = """\
import sys
from mlflow import MlflowClient
uri, experiment, key, value = sys.argv[1:5]
runs = MlflowClient(uri).search_runs([experiment], filter_string=f"tags.`{key}` = '{value}'")
print("found", len(runs), runs[0].info.run_id if runs else "-")
"""
QUERIES = ("show", "impact", "graph", "log")

Log = Callable[[str], None]


@dataclass
class Measured:
    """Everything timed on a store of ``n`` records."""

    n: int
    append: Summary
    append_base: Summary  # on the APPEND_BASE store, alternated with ``append``
    build_s: float  # records this clone wrote (listed in its journal)
    build_pulled_s: float  # the same records as a pull brings them (not in the journal)
    index_bytes: int
    queries: dict[str, Summary]  # QUERIES and "client"
    catch_up: Summary
    labels: dict[str, str]


@dataclass(frozen=True)
class AppendTarget:
    store: Store
    commit: str  # a commit of the store's repository the records name


def append_timings(targets: list[AppendTarget], *, seed: int) -> list[Summary]:
    """``Store.append([one record])`` in this process on each store, alternated record by
    record so load from elsewhere hits every store alike (the first 3 rounds are warm-ups)."""
    batches = []
    for target in targets:
        records, beside = fixtures.fresh_records(APPENDS + 3, target.commit, seed=seed)
        target.store.append(beside)  # the environment record the runs name
        batches.append(records)
    samples: list[list[float]] = [[] for _ in targets]
    for i in range(APPENDS + 3):
        for target, records, kept in zip(targets, batches, samples, strict=True):
            start = time.perf_counter()
            target.store.append([records[i]])
            if i >= 3:  # warm: first pygit2 open, first git calls
                kept.append(time.perf_counter() - start)
    return [Summary.of(kept) for kept in samples]


def index_bytes(repo: Path) -> int:
    """index.sqlite and its WAL, as the index leaves them on disk."""
    total = 0
    for suffix in ("", "-wal"):
        path = repo / ".git" / "lineage" / f"index.sqlite{suffix}"
        if path.exists():
            total += path.stat().st_size
    return total


def measure(
    ws: Workspace,
    n: int,
    runs: fixtures.RunsStore,
    base: AppendTarget,
    *,
    repeats: int,
    warmup: int,
    log: Log,
) -> Measured:
    rs = fixtures.records_store(ws, n, log, scratch="scale-records")
    env = ws.env()
    repo = rs.repo
    store = Store(git.discover(repo))
    log(f"scale {n:,}: Store.append of one record, alternated with {APPEND_BASE:,} ({APPENDS}x)")
    append, append_base = append_timings([AppendTarget(store, rs.commit), base], seed=10**8 + n)

    log(f"scale {n:,}: cold index build, records this clone wrote")
    fixtures.remove_index(repo)
    build_s = timed([LINEAGE, "log", "-n", "20"], cwd=repo, env=env)["wall"]
    log(f"  cold build: {build_s:.1f} s")
    size = index_bytes(repo)
    log(f"scale {n:,}: cold index build, records pulled (none in this clone's journal)")
    fixtures.remove_index(repo)
    with _pulled(store):
        build_pulled_s = timed([LINEAGE, "log", "-n", "20"], cwd=repo, env=env)["wall"]
    log(f"  cold build: {build_pulled_s:.1f} s")

    model = f"churn/{max(1, n // 20)}"
    argv = {
        "show": [LINEAGE, "show", rs.run_id],
        "impact": [LINEAGE, "impact", rs.md5, "--json"],
        "graph": [LINEAGE, "graph", model, "--format", "json", "--no-aliases"],
        "log": [LINEAGE, "log", "-n", "20"],
        "client": [
            PYTHON,
            "-c",
            CLIENT_SEARCH,
            runs.uri,
            runs.experiment_id,
            "lineage.record",
            runs.record,
        ],
    }
    expect = {"show": rs.run_id, "client": f"found 1 {runs.run_id}"}
    labels = {
        "show": "`lineage show <run id>`",
        "impact": f"`lineage impact <md5> --json` (read by {rs.runs_of_md5} runs)",
        "graph": f"`lineage graph {model} --format json --no-aliases`",
        "log": "`lineage log -n 20`",
    }

    def probe(key: str) -> Callable[[], dict[str, float]]:
        return lambda: timed(argv[key], cwd=repo, env=env, expect=expect.get(key))

    s = alternate(
        {key: probe(key) for key in argv},
        repeats=repeats,
        warmup=warmup,
        progress=lambda m: log(f"  scale {n:,}: {m}"),
    )
    queries = {k: Summary.of(v["wall"]) for k, v in s.items()}

    log(f"scale {n:,}: catch-up after {ARRIVING:,} records arrive ({repeats}x)")
    catch = []
    for i in range(repeats):
        arriving, beside = fixtures.fresh_records(ARRIVING, rs.commit, seed=2 * 10**8 + i * 10**6)
        journal = store.journal_path.stat().st_size
        store.append(arriving + beside, message=f"lineage: {ARRIVING} records pulled")  # untimed
        os.truncate(store.journal_path, journal)  # pulled: not this clone's, checked in full
        # A fetch leaves what it received as one pack (past fetch.unpackLimit's 100 objects),
        # not as the loose objects Store.append writes: pack them, untimed.
        subprocess.run(["git", "repack", "-d", "-q"], cwd=repo, check=True)
        catch.append(timed([LINEAGE, "log", "-n", "1"], cwd=repo, env=env)["wall"])
        log(f"  catch-up: {catch[-1] * 1000:.0f} ms")
    return Measured(
        n, append, append_base, build_s, build_pulled_s, size, queries, Summary.of(catch), labels
    )


@contextlib.contextmanager
def _pulled(store: Store) -> Iterator[None]:
    """The store's records as a clone that pulled them sees them: its journal (the records it
    wrote, whose schema check is skipped) moved aside for the duration."""
    aside = store.journal_path.with_name("written.bench-aside")
    store.journal_path.rename(aside)
    try:
        yield
    finally:
        aside.rename(store.journal_path)


def sections(
    ws: Workspace,
    sizes: tuple[int, ...],
    n_runs: int,
    *,
    repeats: int,
    warmup: int,
    log: Log,
) -> list[Section]:
    runs = fixtures.mlflow_runs_store(ws, n_runs, log)
    base_rs = fixtures.records_store(ws, APPEND_BASE, log, scratch="scale-records-base")
    base = AppendTarget(Store(git.discover(base_rs.repo)), base_rs.commit)
    measured = [measure(ws, n, runs, base, repeats=repeats, warmup=warmup, log=log) for n in sizes]
    return [
        _index_size(measured),
        _cold_build(measured),
        _catch_up(measured),
        _queries(measured, n_runs),
        _append(measured),
    ]


def _columns(measured: list[Measured]) -> list[str]:
    return [f"{m.n:,} records" for m in measured]


def _largest(measured: list[Measured]) -> str:
    return f"result at {measured[-1].n:,}"


def _index_size(measured: list[Measured]) -> Section:
    section = Section(
        "Scale, index size per record",
        "`.git/lineage/index.sqlite` (and its WAL) right after the cold build below, divided "
        f"by the records in the store. Goal: ≤ {INDEX_BYTES_BUDGET:,} bytes per record.",
        ["What", *_columns(measured), "goal", _largest(measured)],
    )
    last = measured[-1]
    section.rows.append(
        [
            "index bytes per record",
            *(f"{m.index_bytes / m.n:,.0f}" for m in measured),
            f"≤ {INDEX_BYTES_BUDGET:,}",
            verdict(last.index_bytes / last.n <= INDEX_BYTES_BUDGET),
        ]
    )
    section.rows.append(
        ["index size, MB", *(f"{m.index_bytes / 1e6:,.0f}" for m in measured), "", ""]
    )
    return section


def _cold_build(measured: list[Measured]) -> Section:
    section = Section(
        "Scale, cold index build",
        "`lineage log -n 20` in a fresh copy of the store with no `index.sqlite`: the command "
        "reads every record from the store's packs and builds the whole index before it "
        "answers (one sample per size). Twice: with the records listed in the clone's journal "
        "(it wrote them: only the fields the index reads are decoded, no schema check), as "
        "after an index is deleted or its format changes; and with the journal moved aside, as "
        "in a clone that pulled them all (each record decoded whole and checked against the "
        "record schema). Nothing else has the new index open, so it is filled under SQLite's "
        "rollback journal, not the WAL (`localdb.first_fill`), as any first build alone is. "
        "One sample each: on this 2-core machine, identical builds of the largest store "
        "measured by hand vary by about ±10 % from one run to the next. "
        f"Goal: ≤ {BUILD_BUDGET_S:.0f} s at the largest size.",
        ["What", *_columns(measured), "goal", _largest(measured)],
    )
    section.rows.append(
        [
            "cold build, records this clone wrote, s",
            *(f"{m.build_s:,.1f}" for m in measured),
            f"≤ {BUILD_BUDGET_S:.0f} s",
            verdict(measured[-1].build_s <= BUILD_BUDGET_S),
        ]
    )
    section.rows.append(
        [
            "cold build, records pulled, s",
            *(f"{m.build_pulled_s:,.1f}" for m in measured),
            f"≤ {BUILD_BUDGET_S:.0f} s",
            verdict(measured[-1].build_pulled_s <= BUILD_BUDGET_S),
        ]
    )
    section.rows.append(
        [
            "per 1,000 records, ms",
            *(f"{m.build_s * 1000 / (m.n / 1000):,.0f}" for m in measured),
            "",
            "",
        ]
    )
    return section


def _catch_up(measured: list[Measured]) -> Section:
    section = Section(
        f"Scale, catch-up after {ARRIVING:,} records arrive",
        f"With the index up to date, {ARRIVING:,} new run records (and the environment record "
        f"they name) are added to the store untimed, in one commit on `refs/lineage/records`, "
        "as a `lineage pull` that fast-forwards brings them (not in this clone's journal, so "
        "each is decoded whole and checked against the record schema), their objects then "
        "packed into one new pack (`git repack -d`, untimed), as a fetch of more than "
        "`fetch.unpackLimit` (100) objects leaves them; then "
        "`lineage log -n 1` is timed: "
        "it finds the tip moved, diffs the two trees, reads and indexes the new records, and "
        f"answers. A new batch before every sample. Goal: ≤ {ms(CATCH_UP_BUDGET_S)} ms.",
        ["What", *_columns(measured), "goal", _largest(measured)],
    )
    section.rows.append(
        [
            f"`lineage log -n 1` after {ARRIVING:,} arrived, median ms (min)",
            *(f"{ms(m.catch_up.median)} ({ms(m.catch_up.minimum)})" for m in measured),
            f"≤ {ms(CATCH_UP_BUDGET_S)} ms",
            verdict(measured[-1].catch_up.median <= CATCH_UP_BUDGET_S),
        ]
    )
    return section


def _queries(measured: list[Measured], n_runs: int) -> Section:
    section = Section(
        "Scale, queries",
        "Each a fresh process with the index up to date, alternated round-robin with the "
        "reference in the same session, per size: `show <run id>` of a run in the middle of "
        "history, `impact <md5> --json` of a data version in the middle (every run and model "
        "version made from it; no `--no-aliases`, as typed), `graph <model version> --format "
        "json --no-aliases` (its upstream), `log -n 20`. Reference: a cold "
        f"`MlflowClient(sqlite).search_runs` by tag over {n_runs:,} runs, from a fresh process. "
        f"Cells: median ms (ratio to that size's reference). Goal: each ≤ {QUERY_BUDGET}×.",
        ["What", *_columns(measured), "goal", _largest(measured)],
    )
    last = measured[-1]
    for key in QUERIES:
        section.rows.append(
            [
                last.labels[key],
                *(_against(m.queries[key], m.queries["client"]) for m in measured),
                f"≤ {QUERY_BUDGET}×",
                verdict(last.queries[key].median <= QUERY_BUDGET * last.queries["client"].median),
            ]
        )
    section.rows.append(
        [
            "cold `MlflowClient(sqlite).search_runs` by tag — reference",
            *(f"{ms(m.queries['client'].median)} (1×)" for m in measured),
            "",
            "",
        ]
    )
    return section


def _against(cell: Summary, reference: Summary) -> str:
    return f"{ms(cell.median)} ({ratio(cell.median / reference.median)})"


def _append(measured: list[Measured]) -> Section:
    section = Section(
        "Scale, appending one record",
        f"`Store.append([one run record])` in this process (what `lineage run` does once the "
        f"run ended: write the blob, rebuild the tree path to it, write a commit, `git "
        f"update-ref` with compare-and-swap), {APPENDS} samples after 3 warm-ups, alternated "
        f"record by record with the same on a {APPEND_BASE:,}-record store. Cells: median ms "
        f"(min), and the ratio of the medians to the {APPEND_BASE:,}-record store's. Goal: ≤ "
        f"{APPEND_BUDGET:g}× the {APPEND_BASE:,}-record cost.",
        ["What", *_columns(measured), "goal", _largest(measured)],
    )
    last = measured[-1]
    section.rows += [
        [
            "`Store.append` of 1 record, median ms (min)",
            *(f"{ms(m.append.median)} ({ms(m.append.minimum)})" for m in measured),
            "",
            "",
        ],
        [
            f"the same on {APPEND_BASE:,} records, alternated with it",
            *(f"{ms(m.append_base.median)} ({ms(m.append_base.minimum)})" for m in measured),
            "",
            "",
        ],
        [
            f"ratio to {APPEND_BASE:,} records",
            *(ratio(m.append.median / m.append_base.median) for m in measured),
            f"≤ {APPEND_BUDGET:g}×",
            verdict(last.append.median <= APPEND_BUDGET * last.append_base.median),
        ],
    ]
    return section
