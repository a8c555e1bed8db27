"""The record store on refs/lineage/records: append, read, concurrency, and a killed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lineage.adapters import git
from lineage.records import canonical_bytes, decode, record_id
from lineage.store import REF, Store
from tests.conftest import sh

WRITER = """\
import sys
from pathlib import Path
from lineage.adapters import git
from lineage.records import canonical_bytes, record_id
from lineage.store import Store
store = Store(git.discover(Path(sys.argv[1])))
for n in range(int(sys.argv[3])):
    blob = canonical_bytes({"schema": 1, "kind": "note", "writer": sys.argv[2], "n": n})
    store.append([(record_id(blob), blob)])
"""


def blob(n: int, who: str = "t") -> tuple[str, bytes]:
    data = canonical_bytes({"schema": 1, "kind": "note", "writer": who, "n": n})
    return record_id(data), data


def test_append_read_and_idempotence(git_repo: Path) -> None:
    store = Store(git.discover(git_repo))
    name, data = blob(1)
    tip = store.append([(name, data)])
    assert store.tip() == tip and store.read(name) == data
    assert store.append([(name, data)]) == tip  # same record again: nothing new
    assert decode(name, data)["n"] == 1
    # Sharded layout: ab/cdef….json
    listing = sh("git", "ls-tree", "-r", "--name-only", REF, cwd=git_repo).stdout.split()
    assert listing == [f"{name[:2]}/{name[2:]}.json"]
    # The user's branch, index and tree are untouched.
    assert sh("git", "status", "--porcelain", cwd=git_repo).stdout == ""
    assert sh("git", "rev-list", "--count", "HEAD", cwd=git_repo).stdout.strip() == "1"


def test_store_works_before_the_first_commit(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    store = Store(git.discover(tmp_path))
    name, data = blob(2)
    store.append([(name, data)])
    assert store.read(name) == data


def test_concurrent_writers_all_land(git_repo: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(git_repo), f"w{w}", "10"])
        for w in range(8)
    ]
    assert [p.wait(timeout=300) for p in writers] == [0] * 8
    store = Store(git.discover(git_repo))
    names = {name for name, _ in store.iter_all(store.tip() or "")}
    assert names == {blob(n, f"w{w}")[0] for w in range(8) for n in range(10)}


def test_writer_killed_mid_write_leaves_a_valid_store(git_repo: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(git_repo), "k", "100000"])
    store = Store(git.discover(git_repo))
    deadline = time.monotonic() + 60
    while store.tip() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert sh("git", "fsck", "--no-dangling", "--strict", cwd=git_repo).returncode == 0
    tip = store.tip()
    assert tip is not None
    found = list(Store(git.discover(git_repo)).iter_all(tip))
    assert found and all(decode(name, data) for name, data in found)
    # Every record is a prefix of the writer's sequence: nothing half-written, nothing skipped.
    ns = sorted(decode(name, data)["n"] for name, data in found)
    assert ns == list(range(len(ns)))
    # And the store still takes writes.
    name, data = blob(10**6)
    store.append([(name, data)])
    assert store.read(name) == data
