"""The SQLite index is derived: it catches up incrementally and is rebuilt when lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lineage.adapters import git
from lineage.adapters.store import Store
from lineage.index import Index
from lineage.records import (
    Code,
    MlflowRun,
    ModelVersion,
    Provenance,
    RunRecord,
    encode,
)


class CountingStore(Store):
    """The real store, counting how many records each catch-up reads."""

    read_all = 0
    read_added = 0

    def entries(self, tip: str) -> Iterator[tuple[str, bytes, bytes]]:
        for item in super().entries(tip):
            self.read_all += 1
            yield item

    def entries_added(self, old: str, new: str) -> tuple[list[tuple[str, bytes, bytes]], bool]:
        added, removed = super().entries_added(old, new)
        self.read_added += len(added)
        return added, removed


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
