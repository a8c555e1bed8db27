"""lineage.subgraph: the walk over a real index of real records (in process): directions, depth,
the moment records were made, and the facts each node carries."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineage.context import Context
from lineage.graph import BOTH, DOWNSTREAM, UPSTREAM, DataNode, ModelNode, RunNode
from lineage.records import (
    Code,
    Data,
    MlflowRun,
    ModelVersion,
    Provenance,
    ReproductionRecord,
    RunRecord,
    encode,
)
from lineage.render import label as render_label
from lineage.subgraph import build
from tests.conftest import sh

RAW, PREPARED = "a" * 32, "b" * 31 + "0.dir"
PREPARE, TRAIN, RERUN = "1" * 32, "2" * 32, "3" * 32


def at(hour: int) -> Provenance:
    return Provenance(at=f"2026-11-27T{hour:02d}:00:00.000Z", name="A", email="a@x", tool="t")


def run(run_id: str, hour: int, commit: str, **facts: object) -> RunRecord:
    mlflow = MlflowRun(
        run_id,
        "sqlite:///x",
        "1",
        "e",
        f"run-{run_id[0]}",
        "FINISHED",
        1,
        2,
        metrics={"auc": 0.5 + hour / 100},
    )
    return RunRecord("observed", run_id, Code(commit, False), at(hour), mlflow, **facts)  # type: ignore[arg-type]


@pytest.fixture
def ctx(git_repo: Path) -> Iterator[Context]:
    """prepare (10:00) read data/raw.csv and wrote data/prepared; train (11:00) read that and made
    churn/1; a reproduction (12:00) reran train, which differed."""
    from lineage.adapters import git
    from lineage.adapters.store import Store

    commit = sh("git", "rev-parse", "HEAD", cwd=git_repo).stdout.strip()
    prepared = Data("data/prepared", PREPARED, nfiles=2, size=120)
    records = [
        run(PREPARE, 10, commit, inputs=(Data("data/raw.csv", RAW, size=99),), outputs=(prepared,)),
        run(TRAIN, 11, commit, inputs=(prepared,), models=(ModelVersion("churn", 1),)),
        run(RERUN, 12, commit, inputs=(prepared,)),
        ReproductionRecord(
            "observed", at(12), TRAIN, "x", commit, ("python",), "differs", 0, 0, rerun_run=RERUN
        ),
    ]
    Store(git.discover(git_repo)).append([encode(r) for r in records])
    with Context(git_repo, dict(os.environ)) as context:
        yield context


def keys(sub: object) -> set[str]:
    return {n.key for n in sub.nodes}  # type: ignore[attr-defined]


def test_upstream_of_a_model_is_everything_that_made_it(ctx: Context) -> None:
    sub = build(ctx.index, ["model:churn/1"], direction=UPSTREAM)
    commit = sh("git", "rev-parse", "HEAD", cwd=ctx.paths.root).stdout.strip()
    assert keys(sub) == {
        f"commit:{commit}",
        f"data:{RAW}",
        f"data:{PREPARED}",
        f"run:{PREPARE}",
        f"run:{TRAIN}",
        "model:churn/1",
    }
    assert [n.kind for n in sub.nodes] == ["commit", "data", "data", "run", "run", "model"]
    train = next(n for n in sub.nodes if isinstance(n, RunNode) and n.run_key == TRAIN)
    assert (train.name, train.metric, train.reproductions) == ("run-2", ("auc", 0.61), ("differs",))
    prepared = next(n for n in sub.nodes if isinstance(n, DataNode) and n.md5 == PREPARED)
    assert (prepared.paths, prepared.nfiles, prepared.size) == (("data/prepared",), 2, 120)
    assert {(e.src, e.rel) for e in sub.edges if e.dst == f"run:{TRAIN}"} == {
        (f"commit:{commit}", "code"),
        (f"data:{PREPARED}", "input"),
    }


def test_depth_and_direction_bound_the_walk(ctx: Context) -> None:
    one_step = build(ctx.index, ["model:churn/1"], direction=UPSTREAM, depth=1)
    assert keys(one_step) == {f"run:{TRAIN}", "model:churn/1"}
    downstream = build(ctx.index, [f"data:{RAW}"], direction=DOWNSTREAM)
    assert keys(downstream) == {
        f"data:{RAW}",
        f"run:{PREPARE}",
        f"data:{PREPARED}",
        f"run:{TRAIN}",
        f"run:{RERUN}",
        "model:churn/1",
    }
    both = build(ctx.index, [f"run:{TRAIN}"], direction=BOTH, depth=1)
    assert {f"data:{PREPARED}", "model:churn/1", f"run:{RERUN}"} <= keys(both)
    assert any(e.rel == "reproduced" and e.verdict == "differs" for e in both.edges)


def test_as_of_leaves_out_what_was_recorded_later(ctx: Context) -> None:
    before_train = build(
        ctx.index, [f"data:{RAW}"], direction=DOWNSTREAM, recorded_before="2026-11-27T10:30:00Z"
    )
    assert keys(before_train) == {f"data:{RAW}", f"run:{PREPARE}", f"data:{PREPARED}"}
    model = build(ctx.index, ["model:churn/1"], direction=UPSTREAM)
    assert [n for n in model.nodes if isinstance(n, ModelNode)] == [ModelNode("churn", 1)]


def test_each_run_carries_its_own_reproductions_oldest_first_and_only_those_in_time(
    ctx: Context,
) -> None:
    """Read for all the graph's runs at once: each run still gets only its own verdicts."""
    commit = sh("git", "rev-parse", "HEAD", cwd=ctx.paths.root).stdout.strip()
    later = [
        ReproductionRecord("observed", at(hour), run_key, "x", commit, ("python",), verdict, 0, 0)
        for hour, run_key, verdict in [
            (14, TRAIN, "bit-identical"),
            (13, PREPARE, "within-tolerance"),
            (15, PREPARE, "differs"),
        ]
    ]
    ctx.store.append([encode(r) for r in later])
    ctx.index.refresh()

    def verdicts(recorded_before: str | None) -> dict[str, tuple[str, ...]]:
        sub = build(
            ctx.index, ["model:churn/1"], direction=UPSTREAM, recorded_before=recorded_before
        )
        return {n.run_key: n.reproductions for n in sub.nodes if isinstance(n, RunNode)}

    assert verdicts(None) == {
        PREPARE: ("within-tolerance", "differs"),
        TRAIN: ("differs", "bit-identical"),
    }
    assert verdicts("2026-11-27T13:30:00Z") == {PREPARE: ("within-tolerance",), TRAIN: ("differs",)}
    every = ctx.index.reproductions_of([TRAIN, PREPARE, RERUN])
    assert every == {key: ctx.index.reproductions(key) for key in (TRAIN, PREPARE)}


def test_a_data_node_is_named_by_the_path_this_graph_uses(git_repo: Path) -> None:
    """The same bytes were data/dataset.csv for one run and data/dataset_small.csv for another:
    each graph names the node by the path its own edges use, the other path second."""
    from lineage.adapters import git
    from lineage.adapters.store import Store

    commit = sh("git", "rev-parse", "HEAD", cwd=git_repo).stdout.strip()
    small = "c" * 32
    records = [
        run("4" * 32, 10, commit, inputs=(Data("data/dataset.csv", small),)),
        run(
            "5" * 32,
            11,
            commit,
            inputs=(Data("data/dataset_small.csv", small),),
            models=(ModelVersion("small", 1),),
        ),
    ]
    Store(git.discover(git_repo)).append([encode(r) for r in records])
    with Context(git_repo, dict(os.environ)) as context:
        sub = build(context.index, ["model:small/1"], direction=UPSTREAM)
    (data,) = [n for n in sub.nodes if isinstance(n, DataNode)]
    assert data.paths == ("data/dataset_small.csv", "data/dataset.csv")
    assert render_label(data)[0] == "data/dataset_small.csv (+1 paths)"
