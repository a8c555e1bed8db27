"""The SQLite index is derived: it catches up incrementally and is rebuilt when lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

import pytest

from lineage.adapters import git
from lineage.adapters.store import Arrivals, Store
from lineage.index import Index
from lineage.records import (
    Code,
    MlflowRun,
    ModelVersion,
    Provenance,
    RunRecord,
    encode,
)
from tests import helpers as h
from tests.scenarios import Recorded


class CountingStore(Store):
    """The real store, counting how many records each catch-up reads."""

    read_all = 0
    read_added = 0

    def entries(
        self, tip: str, leaves: Sequence[tuple[str, bytes]] | None = None
    ) -> Iterator[tuple[str, bytes, bytes]]:
        for item in super().entries(tip, leaves):
            self.read_all += 1
            yield item

    def arrivals(self, old: str, new: str) -> Arrivals:
        counting = self

        class Counted(Arrivals):
            def __iter__(self) -> Generator[tuple[str, bytes, bytes], None, None]:
                for item in super().__iter__():
                    counting.read_added += 1
                    yield item

        arrivals = super().arrivals(old, new)
        return Counted(arrivals.paths, arrivals.pairs, rewritten=arrivals.rewritten)


def run_record(n: int) -> tuple[str, bytes]:
    return encode(
        RunRecord(
            evidence="observed",
            session=f"s{n}",
            code=Code(commit="c" * 40, dirty=False),
            created=Provenance(
                at=f"2026-01-01T00:00:{n:02d}.000Z", name="A", email="a@x", tool="t"
            ),
            run=MlflowRun(
                run_id=f"{n:032x}",
                tracking_uri="sqlite:///x",
                experiment_id="1",
                experiment_name="e",
                name=None,
                status="FINISHED",
                start_ms=n,
                end_ms=n,
            ),
            models=(ModelVersion("m", n),),
        )
    )


def test_index_catches_up_reading_only_new_records(git_repo: Path) -> None:
    store = CountingStore(git.discover(git_repo))
    store.append([run_record(n) for n in range(1, 51)])
    index = Index(store)
    index.refresh()
    assert store.read_all == 50 and store.read_added == 0
    store.append([run_record(51)])
    index.refresh()
    assert store.read_all == 50 and store.read_added == 1
    assert [doc["run"]["run_id"] for _, doc in index.runs(limit=2)] == [f"{51:032x}", f"{50:032x}"]
    assert index.model_versions("m") == list(range(1, 52))
    index.refresh()  # tip unchanged: nothing read
    assert store.read_all == 50 and store.read_added == 1
    index.close()


def _record_of(run: int, evidence: str, second: int) -> tuple[str, bytes]:
    return encode(
        RunRecord(
            evidence=evidence,
            session=f"s{run}-{evidence}-{second}",
            code=Code(commit="c" * 40, dirty=False),
            created=Provenance(
                at=f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}.000Z",
                name="A",
                email="a@x",
                tool="t",
            ),
            run=MlflowRun(
                run_id=f"{run:032x}",
                tracking_uri="sqlite:///x",
                experiment_id="1",
                experiment_name="e",
                name=None,
                status="FINISHED",
                start_ms=run,
                end_ms=run,
            ),
        )
    )


def test_the_records_of_many_runs_come_in_one_read_ordered_as_for_one(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """records_for_runs answers what records_for_run answers run by run (the representative
    record first, observed before inferred, newest first), across query chunks, with one git
    read for all the bodies."""
    store = Store(git.discover(git_repo))
    store.append(
        [_record_of(1, "inferred", 5), _record_of(1, "observed", 1), _record_of(1, "inferred", 9)]
        + [_record_of(2, "inferred", 3), _record_of(2, "inferred", 7)]
        + [_record_of(n, "inferred", n % 3000) for n in range(10, 1110)]
    )
    index = Index(store)
    index.refresh()
    keys = [f"{n:032x}" for n in (1, 2, 3, *range(10, 1110))]  # run 3 has no record

    trace = git_repo.parent / "git-trace"
    with monkeypatch.context() as traced:
        traced.setenv("GIT_TRACE", str(trace))
        found = index.records_for_runs(keys)

    reads = [line for line in trace.read_text().splitlines() if "cat-file --batch" in line]
    assert len(reads) == 1
    assert f"{3:032x}" not in found and len(found) == 1102
    first = [(doc["evidence"], doc["created"]["at"][-6:-5]) for _, doc in found[f"{1:032x}"]]
    assert first == [("observed", "1"), ("inferred", "9"), ("inferred", "5")]
    for key in (f"{1:032x}", f"{2:032x}", f"{10:032x}", f"{1109:032x}"):
        assert found[key] == index.records_for_run(key)
    assert index.records_for_run(f"{3:032x}") == []
    index.close()


def test_deleted_or_damaged_index_is_rebuilt_with_the_same_answers(git_repo: Path) -> None:
    store = Store(git.discover(git_repo))
    store.append([run_record(n) for n in range(1, 4)])
    index = Index(store)
    index.refresh()
    before = list(index.runs())
    index.close()
    path = git_repo / ".git" / "lineage" / "index.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rebuilt = Index(store)
    rebuilt.refresh()
    assert list(rebuilt.runs()) == before
    rebuilt.close()


def test_a_record_this_lineage_cannot_read_is_skipped_like_a_corrupted_one(
    git_repo: Path,
) -> None:
    from lineage.records import canonical_bytes, record_id

    foreign = canonical_bytes(
        {"schema": 1, "kind": "run", "session": "x", "models": [{"name": "m", "version": "v2"}]}
    )
    store = Store(git.discover(git_repo))
    store.append([run_record(1), (record_id(foreign), foreign)])
    index = Index(store)
    try:
        index.refresh()
        assert [doc["session"] for _, doc in index.runs()] == ["s1"]  # the good one answers
        assert index.corrupt == [
            (
                record_id(foreign),
                "malformed ValueError: invalid literal for int() with base 10: 'v2'",
            )
        ]
    finally:
        index.close()


@pytest.mark.parametrize("pulled", [False, True])
def test_a_start_time_past_64_bits_is_indexed_without_it(git_repo: Path, pulled: bool) -> None:
    """The schema bounds no integer, and SQLite holds 64 bits: a run saying it started at
    2**70 ms is indexed with no start time, by a catch-up and by a rebuild, whether this clone
    wrote it or pulled it (then it is decoded whole), never an internal error of every query."""
    far = RunRecord(
        evidence="observed",
        session="s-far",
        code=Code(commit="c" * 40, dirty=False),
        created=Provenance(at="2026-01-02T00:00:00.000Z", name="A", email="a@x", tool="t"),
        run=MlflowRun("f" * 32, "sqlite:///x", "1", "e", None, "FINISHED", 2**70, 2**70 + 1),
    )
    store = Store(git.discover(git_repo))
    store.append([run_record(1)])
    index = Index(store)
    index.refresh()
    journal = store.journal_path.stat().st_size
    store.append([encode(far)])
    if pulled:
        os.truncate(store.journal_path, journal)
    index.refresh()  # a catch-up
    caught_up = sorted(doc["session"] for _, doc in index.runs())
    index.close()
    _forget_index(git_repo)
    rebuilt = Index(store)
    rebuilt.refresh()
    try:
        assert caught_up == sorted(doc["session"] for _, doc in rebuilt.runs()) == ["s-far", "s1"]
        assert rebuilt.corrupt == []
    finally:
        rebuilt.close()


def test_reruns_are_known_by_their_mark_or_by_an_older_reproduction_record(
    git_repo: Path,
) -> None:
    from dataclasses import replace

    from lineage.records import ReproductionRecord, decode, run_record_from_dict

    def marked(n: int, reproduces: str | None) -> tuple[str, bytes]:
        name, blob = run_record(n)
        record = replace(run_record_from_dict(decode(name, blob)), reproduces=reproduces)
        return encode(record)

    original, old_rerun = f"{1:032x}", f"{3:032x}"
    # A rerun recorded before the `reproduces` field: only its reproduction record says so.
    reproduction = ReproductionRecord(
        evidence="observed",
        created=Provenance(at="2026-01-01T00:01:00.000Z", name="A", email="a@x", tool="t"),
        original_run=original,
        original_record="r" * 64,
        code="c" * 40,
        command=("python", "train.py"),
        verdict="reproduced",
        rtol=0.0,
        atol=0.0,
        rerun_run=old_rerun,
    )
    store = Store(git.discover(git_repo))
    store.append([run_record(1), marked(2, original), run_record(3), encode(reproduction)])
    index = Index(store)
    try:
        index.refresh()
        assert [doc["run"]["run_id"] for _, doc in index.runs(reruns=False)] == [original]
        assert len(list(index.runs())) == 3 and index.rerun_count() == 2
        assert index.reruns_among([original, f"{2:032x}", old_rerun]) == {
            f"{2:032x}": original,
            old_rerun: original,
        }
        # Every run registered "m/N" in these records; a rerun is never a model's producer.
        assert index.producers("model:m/1") == [original]
        assert index.producers("model:m/2") == []
    finally:
        index.close()


def test_a_full_disk_during_catch_up_is_said_as_such_not_as_a_failed_rollback(
    git_repo: Path,
) -> None:
    import pytest

    from lineage.index import IndexFullError

    store = Store(git.discover(git_repo))
    store.append([run_record(1)])
    index = Index(store)
    index.refresh()
    pages = index.db.execute("PRAGMA page_count").fetchone()[0]
    index.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    store.append([run_record(n) for n in range(2, 200)])
    with pytest.raises(IndexFullError) as raised:
        index.refresh()
    assert str(raised.value) == (
        f"the disk holding the index {index.path} is full (database or disk is full); free some "
        "space there and run the command again"
    )
    assert [doc["session"] for _, doc in index.runs()] == ["s1"]  # rolled back, still readable
    index.close()


def test_an_index_it_cannot_open_is_never_deleted(git_repo: Path) -> None:
    store = Store(git.discover(git_repo))
    store.append([run_record(1)])
    path = git_repo / ".git" / "lineage" / "index.sqlite"
    path.mkdir(parents=True)
    index = Index(store)
    index.refresh()
    assert [doc["session"] for _, doc in index.runs()] == ["s1"]
    assert index.notes == [
        f"cannot use the index {path} (a directory is in its place); answering from a "
        "temporary index, thrown away afterwards (remove that directory to keep the index)"
    ]
    temporary = Path(index.db.execute("PRAGMA database_list").fetchone()[2])
    index.close()
    assert path.is_dir() and not temporary.exists()


def _index_path(repo: Path) -> Path:
    return repo / ".git" / "lineage" / "index.sqlite"


def _forget_index(repo: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{_index_path(repo)}{suffix}").unlink(missing_ok=True)


def _answers(recorded: Recorded) -> list[str]:
    entry = recorded.json("log")[-1]
    run, commit = entry["run"], entry["commit"]
    md5 = recorded.json("show", run)["record"]["inputs"][0]["md5"]
    asked = [
        ("log", "-n", "20", "--json"),
        ("show", run, "--json"),
        ("show", commit, "--json"),
        ("show", md5, "--json"),
        ("impact", md5, "--json"),
        ("graph", run, "--format", "json"),
        ("graph", "churn/1", "--format", "json"),
        ("log",),
        ("show", run),
    ]
    return [recorded.lineage(*args).stdout for args in asked]


def test_queries_answer_the_same_from_a_rebuilt_index_which_holds_no_record_body(
    recorded: Recorded, tmp_path: Path
) -> None:
    mine = recorded.copy(tmp_path)
    before = _answers(mine)
    _forget_index(mine.repo)
    assert _answers(mine) == before  # rebuilt on the first query, bodies read from git
    tip = git.git(git.discover(mine.repo), "rev-parse", "refs/lineage/records")
    body = git.git(git.discover(mine.repo), "cat-file", "-p", f"{tip}^{{tree}}")
    assert "tracking_uri" not in body  # the tree lists names, not bodies: sanity of the check
    stored = _index_path(mine.repo).read_bytes()
    assert b"tracking_uri" not in stored and b'"schema":1' not in stored


def _on_terminal(repo: Path, env: dict[str, str], *args: str) -> str:
    """What `lineage ARGS` prints on a 24x100 pseudo-terminal (stdout and stderr)."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: give the terminal a size (tqdm draws nothing on 0 columns)
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
            os.chdir(repo)
            os.execvpe("lineage", ["lineage", *args], env)
        finally:
            os._exit(127)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child exited and the terminal is drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode(errors="replace")


def test_a_build_shows_a_bar_on_a_terminal_and_nothing_in_a_pipe_or_json(
    recorded: Recorded, tmp_path: Path
) -> None:
    mine = recorded.copy(tmp_path)
    env = {**mine.env, "LINEAGE_PROGRESS_DELAY": "0"}
    _forget_index(mine.repo)
    shown = _on_terminal(mine.repo, env, "log")
    assert "indexing records" in shown and "records/s" in shown
    assert "churn" in shown  # and then the answer
    for args in (("log",), ("log", "--json")):
        _forget_index(mine.repo)
        piped = h.lineage(mine.repo, *args, env=env)
        assert "indexing records" not in piped.stdout + piped.stderr
    _forget_index(mine.repo)
    assert "indexing records" not in _on_terminal(mine.repo, env, "log", "--json")


def _tables(repo: Path) -> dict[str, list[tuple[object, ...]]]:
    import sqlite3

    db = sqlite3.connect(_index_path(repo))
    try:
        return {
            table: sorted(db.execute(f"SELECT * FROM {table}"), key=repr)
            for table in (
                "records",
                "nodes",
                "paths",
                "links",
                "corrupt",
                "runs",
                "reproductions",
                "reruns",
            )
        }
    finally:
        db.close()


def _every_kind() -> list[tuple[str, bytes]]:
    """Records of every kind, with every field the index reads set somewhere."""
    from lineage.records import (
        Attachment,
        Data,
        Registration,
        ReproductionRecord,
        WandbArtifact,
        WandbFile,
        WandbRun,
    )

    at = Provenance(at="2026-01-02T00:00:00.000Z", name="A", email="a@x", tool="t")
    base = RunRecord(
        evidence="observed",
        session="s-parent",
        code=Code(commit="a" * 40, dirty=True, snapshot="b" * 40),
        created=at,
        run=MlflowRun("p" * 32, "sqlite:///x", "1", "e", None, "FINISHED", 5, 9),
        inputs=(Data("data/train.csv", "1" * 32), Data("data/dir", "2" * 32 + ".dir")),
        outputs=(Data("model.pkl", "3" * 32),),
        models=(ModelVersion("m", 1),),
    )
    child = RunRecord(
        evidence="inferred",
        session="s-child",
        code=Code(commit=None, dirty=None, snapshot="c" * 40),
        created=at,
        run=MlflowRun("q" * 32, "sqlite:///x", "1", "e", None, "FINISHED", None, None, "p" * 32),
        reproduces="p" * 32,
    )
    local = RunRecord(
        evidence="observed", session="s-local", code=Code("d" * 40, False), created=at
    )
    files = (WandbFile("raw.csv", "4" * 32), WandbFile("a.csv", "1" * 32))  # a.csv also read
    wandb = RunRecord(
        evidence="observed",
        session="s-wandb",
        code=Code("d" * 40, False),
        created=at,
        inputs=(Data("data/train.csv", "1" * 32),),
        wandb=WandbRun(
            run_id="p7cj45nh",
            project="churn",
            entity="acme",
            name="depth-5",
            group=None,
            job_type="train",
            tags=("lineage:s-wandb",),
            sweep_id=None,
            offline=True,
            directory="wandb/offline-run-20260102_000000-p7cj45nh",
            git_commit="d" * 40,
            start_ms=7,
            exit_code=0,
            artifacts=(
                WandbArtifact("raw", "dataset", None, files=files),
                WandbArtifact("in", "dataset", None, (), (WandbFile("b.csv", "5" * 32),), True),
                WandbArtifact("churn-model", "model", "6" * 32, ("best",), files[:1]),
            ),
        ),
    )
    return [
        encode(base),
        encode(child),
        encode(local),
        encode(wandb),
        run_record(7),
        encode(
            ReproductionRecord(
                evidence="observed",
                created=at,
                original_run="p" * 32,
                original_record="r" * 64,
                code="b" * 40,
                command=("python", "train.py"),
                verdict="bit-identical",
                rtol=0.0,
                atol=0.0,
                model=ModelVersion("m", 1),
                inputs=(Data("data/train.csv", "1" * 32),),
                rerun_run="q" * 32,
                rerun_record="s" * 64,
            )
        ),
        encode(Attachment("observed", at, "p" * 32, "b" * 40, "e" * 40)),
        encode(Registration("observed", at, "p" * 32, ModelVersion("m", 2), at.at, "sqlite:///x")),
    ]


def test_records_this_clone_wrote_index_the_same_from_their_indexed_fields_alone(
    git_repo: Path, tmp_path: Path
) -> None:
    """A rebuild reads only the indexed fields of the records this clone wrote (msgspec,
    lineage/index_fields.py) and whole documents of the others: both give the same rows, for
    records of every kind."""
    from lineage.index_fields import index_fields

    store = Store(git.discover(git_repo))
    records = _every_kind()
    store.append(records)
    assert all(index_fields(name, blob) is not None for name, blob in records)  # the fast path

    def rebuilt() -> dict[str, list[tuple[object, ...]]]:
        _forget_index(git_repo)
        index = Index(store)
        index.refresh()
        index.close()
        return _tables(git_repo)

    trusted = rebuilt()
    store.journal_path.rename(tmp_path / "written")  # none is this clone's any more
    assert rebuilt() == trusted
    assert len(trusted["records"]) == len(records) and not trusted["corrupt"]
    assert {row[1] for row in trusted["links"]} == {
        "code",
        "snapshot",
        "input",
        "output",
        "produced",
        "parent",
        "reproduced",
    }
    assert trusted["reproductions"] and trusted["reruns"] and len(trusted["runs"]) == 5
    keys = {row[1] for row in trusted["nodes"]}
    assert {"run:wandb:churn/p7cj45nh", f"data:{'4' * 32}", f"data:{'5' * 32}"} <= keys
    assert f"model:wandb:churn/churn-model:{'6' * 32}" in keys  # a W&B model artifact


def _rows_by_name(repo: Path) -> dict[str, list[tuple[object, ...]]]:
    """The index's rows with their integer ids replaced by what they stand for: a rebuild and
    a catch-up hand out ids in different orders."""
    import sqlite3

    db = sqlite3.connect(_index_path(repo))
    queries = {
        "records": "SELECT id, oid, kind, evidence, created_at, substr(n.key, 5), session, "
        "rerun_record, reproduces, unbased FROM records LEFT JOIN nodes n ON n.nid = records.run",
        "nodes": "SELECT key FROM nodes",
        "paths": "SELECT path FROM paths",
        "edges": "SELECT src, rel, dst, path, record_id, evidence FROM edges",
        "runs": "SELECT substr(n.key, 5), records.id, rank, started_ms FROM runs "
        "JOIN records ON records.rid = runs.rid JOIN nodes n ON n.nid = runs.nid",
        "corrupt": "SELECT * FROM corrupt",
        "reproductions": "SELECT * FROM reproductions",
        "reruns": "SELECT * FROM reruns",
    }
    try:
        return {name: sorted(db.execute(sql), key=repr) for name, sql in queries.items()}
    finally:
        db.close()


def test_a_rebuild_and_record_by_record_catch_ups_give_the_same_rows(git_repo: Path) -> None:
    """A rebuild hands SQLite each batch as JSON and ranks a run's records once at the end; a
    catch-up inserts row by row and ranks them as they come: both must index the same. The
    inferred record of run p (older, written after the observed one) must not win."""
    store = Store(git.discover(git_repo))
    inferred = RunRecord(
        evidence="inferred",
        session="s-import",
        code=Code(commit="a" * 40, dirty=None),
        created=Provenance(at="2026-01-03T00:00:00.000Z", name="A", email="a@x", tool="t"),
        run=MlflowRun("p" * 32, "sqlite:///x", "1", "e", None, "FINISHED", 5, 9),
    )
    records = [*_every_kind(), encode(inferred)]
    index = Index(store)
    for record in records:  # a catch-up per record, each a tip the index has not seen
        store.append([record])
        index.refresh()
    index.close()
    caught_up = _rows_by_name(git_repo)
    _forget_index(git_repo)
    rebuilt = Index(store)
    rebuilt.refresh()
    rebuilt.close()
    assert _rows_by_name(git_repo) == caught_up
    assert len(caught_up["records"]) == len(records) and len(caught_up["runs"]) == 5
    run_p = next(row for row in caught_up["runs"] if row[0] == "p" * 32)
    assert run_p[2].startswith("1|")  # the observed record represents it


def _off_schema(n: int) -> tuple[str, bytes]:
    """A run record whose environment is a number: the schema check refuses it, the indexed
    fields alone read fine. Indexed, it was trusted; marked corrupt, it was checked whole."""
    import json

    from lineage.records import record_id

    doc = json.loads(run_record(n)[1])
    doc["environment"] = 5
    blob = json.dumps(doc, sort_keys=True).encode()
    return record_id(blob), blob


def test_a_catch_up_trusts_what_this_clone_wrote_since_the_last_reading_only_the_new_lines(
    git_repo: Path,
) -> None:
    """A catch-up reads the journal from where the last one stopped: a record this clone
    wrote since is still trusted (no schema check), one pulled is still checked whole, and a
    journal rewritten shorter is read from the start again."""
    import os

    store = Store(git.discover(git_repo))
    index = Index(store)
    store.append([run_record(1)])
    index.refresh()
    mine = _off_schema(2)
    store.append([mine])
    index.refresh()
    assert not index.corrupt  # trusted: journaled after the last catch-up's reading
    size = store.journal_path.stat().st_size
    pulled = _off_schema(3)
    store.append([pulled])
    os.truncate(store.journal_path, size)  # as if another clone wrote it
    index.refresh()
    assert [name for name, _ in index.corrupt] == [pulled[0]]
    store.append([_off_schema(4)])
    store.journal_path.write_text(f"{_off_schema(4)[0]}\n")  # rewritten, shorter
    index.refresh()
    assert [name for name, _ in index.corrupt] == [pulled[0]]
    index.close()


def test_a_data_path_that_is_not_utf8_is_indexed_and_found_both_ways(git_repo: Path) -> None:
    """A file name with a non-UTF-8 byte is recorded with a lone surrogate (records.py); SQLite
    cannot hold one, and indexing it failed with a traceback on every command. Now it is kept
    as its escape, by a catch-up and a rebuild alike, and looked up the same way."""
    from lineage.records import Data

    path = "data/caf\udce9.csv"
    record = RunRecord(
        evidence="observed",
        session="s-latin1",
        code=Code(commit="c" * 40, dirty=False),
        created=Provenance(at="2026-01-01T00:00:00.000Z", name="A", email="a@x", tool="t"),
        inputs=(Data(path, "1" * 32),),
    )
    store = Store(git.discover(git_repo))
    store.append([run_record(1)])
    Index(store).refresh()  # level with the store: the next record is caught up
    store.append([encode(record)])
    for _ in ("caught up", "rebuilt"):
        index = Index(store)
        index.refresh()
        assert index.md5s_at_path(path) == ["1" * 32]
        assert [md5 for md5, _ in index.data_versions(path)] == ["1" * 32]
        assert index.data_paths() == ["data/caf\\udce9.csv"]
        assert not index.corrupt
        index.close()
        _forget_index(git_repo)


def test_a_sqlite_without_json_rebuilds_row_by_row_to_the_same_rows(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild hands each batch to SQLite as JSON; a SQLite built without its JSON functions
    (an option before 3.38) gets the same rows inserted one by one."""
    import lineage.index as index_module

    store = Store(git.discover(git_repo))
    store.append(_every_kind())
    Index(store).refresh()
    with_json = _rows_by_name(git_repo)
    _forget_index(git_repo)
    monkeypatch.setattr(index_module, "_has_json", lambda db: False)
    Index(store).refresh()
    assert _rows_by_name(git_repo) == with_json and with_json["edges"]


def _journal_mode(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        db.close()


def test_a_first_build_writes_its_pages_once_and_leaves_the_index_in_wal_mode(
    git_repo: Path,
) -> None:
    """Alone with a fresh index, the build goes through SQLite's rollback journal, not the
    WAL (whose pages a checkpoint would copy into the file a second time)."""
    store = Store(git.discover(git_repo))
    store.append([run_record(n) for n in range(1, 201)])
    index = Index(store)
    index.refresh()
    wal = Path(f"{index.path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # the build never went through it
    assert len(list(index.runs(limit=500))) == 200
    store.append([run_record(201)])
    index.refresh()  # a catch-up: through the WAL, as before
    assert wal.stat().st_size > 0
    index.close()
    assert _journal_mode(index.path) == "wal"


def test_a_first_build_while_another_connection_has_the_index_open_uses_the_wal(
    git_repo: Path,
) -> None:
    store = Store(git.discover(git_repo))
    store.append([run_record(n) for n in range(1, 201)])
    index = Index(store)
    other = sqlite3.connect(index.path)  # another process's reader, say
    other.execute("SELECT count(*) FROM records").fetchone()
    index.refresh()
    assert Path(f"{index.path}-wal").stat().st_size > 0
    assert other.execute("SELECT count(*) FROM records").fetchone()[0] == 200
    other.close()
    index.close()
    assert _journal_mode(index.path) == "wal"


_KILLED_MID_FILL = """
import os, signal, sys
from lineage.adapters import git
from lineage.adapters.store import Store
from lineage.index import Index
from lineage.localdb import first_fill

index = Index(Store(git.discover(sys.argv[1])))
with first_fill(index.db, timeout=5.0) as alone:
    assert alone
    index.db.execute("PRAGMA cache_size=10")  # pages spill into the file before any COMMIT
    index.db.execute("BEGIN IMMEDIATE")
    index.db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) "
        "INSERT INTO nodes(key) SELECT printf('data:%032d', i) FROM n"
    )
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_first_build_killed_midway_leaves_an_intact_empty_index(git_repo: Path) -> None:
    """The rollback journal of a first fill undoes what a killed build spilled into the
    file: the next command finds a sound, empty index and builds it."""
    store = Store(git.discover(git_repo))
    store.append([run_record(n) for n in range(1, 4)])
    killed = subprocess.run([sys.executable, "-c", _KILLED_MID_FILL, str(git_repo)], check=False)
    assert killed.returncode == -signal.SIGKILL
    path = git_repo / ".git" / "lineage" / "index.sqlite"
    assert Path(f"{path}-journal").stat().st_size > 0  # the hot journal the kill left
    assert path.stat().st_size > 1_000_000  # and the pages it spilled
    index = Index(store)
    assert index.notes == []  # not damaged: rolled back
    assert index.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert index.db.execute("SELECT count(*) FROM nodes").fetchone()[0] == 0
    index.refresh()
    assert len(list(index.runs())) == 3
    index.close()
