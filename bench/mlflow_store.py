"""Build an MLflow SQLite store with N finished runs: ``python mlflow_store.py DB ARTIFACTS N OUT``.

The first SEED runs go through ``MlflowClient`` (``create_run``, ``log_batch``,
``set_terminated``), so their rows are exactly what MLflow writes. The rest are copies of those
rows under new run ids and ``lineage.record`` tags, inserted with SQL in one transaction: every
client call commits (and syncs) on its own, ~35-100 ms a run on this kind of machine, which would
make 10,000 runs take 6-17 minutes. Run as a separate process so the harness never imports
mlflow itself.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import sys
from pathlib import Path

SEED = 200
EPOCH_MS = 1_700_000_000_000
SPACING_MS = 5 * 60 * 1000
PARAMS = ("max_depth", "n_estimators", "learning_rate", "subsample", "seed", "model")
METRICS = ("auc", "f1", "log_loss", "accuracy")


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def seed_runs(db: Path, artifacts: Path, count: int, rng: random.Random) -> tuple[str, list]:
    return seed_client_runs(f"sqlite:///{db}", artifacts, count, rng)


def seed_client_runs(uri: str, artifacts: Path, count: int, rng: random.Random) -> tuple[str, list]:
    """The seed runs, through MlflowClient on the store at uri (bench/team_store.py: PostgreSQL)."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(uri)
    experiment = client.create_experiment("churn", artifact_location=artifacts.as_uri())
    seeds = []
    for i in range(count):
        t = EPOCH_MS + i * SPACING_MS
        record = _hex(rng, 256)
        data = {"data/train.csv": _hex(rng, 128), "data/test.csv": _hex(rng, 128)}
        run = client.create_run(
            experiment,
            start_time=t,
            run_name=f"run-{i}",
            tags={
                "lineage.record": record,
                "lineage.commit": _hex(rng, 160),
                "lineage.session": _hex(rng, 128),
                "lineage.dirty": "false",
                "lineage.data": json.dumps(data, sort_keys=True),
            },
        )
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(m, rng.random(), t + 1000, 0) for m in METRICS],
            params=[Param(p, str(rng.randint(1, 500))) for p in PARAMS],
        )
        client.set_terminated(run_id, end_time=t + rng.randint(20_000, 900_000))
        seeds.append((run_id, record, f"run-{i}"))
    return experiment, seeds


def clone_runs(db: Path, seeds: list, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Copy every row that belongs to a seed run, under a new run id and record tag."""
    con = sqlite3.connect(db)
    tables = [
        name
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if any(col[1] == "run_uuid" for col in con.execute(f'PRAGMA table_info("{name}")'))
    ]
    columns = {t: [c[1] for c in con.execute(f'PRAGMA table_info("{t}")')] for t in tables}
    rows = {
        t: {
            sid: con.execute(f'SELECT * FROM "{t}" WHERE run_uuid=?', (sid,)).fetchall()
            for sid, _, _ in seeds
        }
        for t in tables
    }
    made = []
    with con:
        for j in range(count):
            index = len(seeds) + j
            sid, srecord, sname = seeds[j % len(seeds)]
            new_id, new_record, new_name = _hex(rng, 128), _hex(rng, 256), f"run-{index}"
            shift = (index - j % len(seeds)) * SPACING_MS
            for t in tables:
                cols = columns[t]
                out = []
                for row in rows[t][sid]:
                    values = []
                    for col, value in zip(cols, row, strict=True):
                        if isinstance(value, str):
                            value = value.replace(sid, new_id).replace(srecord, new_record)
                            value = new_name if value == sname else value
                        elif t == "runs" and col in ("start_time", "end_time") and value:
                            value += shift
                        values.append(value)
                    out.append(values)
                marks = ", ".join("?" for _ in cols)
                con.executemany(f'INSERT INTO "{t}" VALUES ({marks})', out)
            made.append((new_id, new_record))
    con.close()
    return made


def main(argv: list[str]) -> int:
    db, artifacts, n, out = Path(argv[0]), Path(argv[1]), int(argv[2]), Path(argv[3])
    rng = random.Random(n)
    experiment, seeds = seed_runs(db, artifacts, min(n, SEED), rng)
    runs = [(sid, record) for sid, record, _ in seeds] + clone_runs(db, seeds, n - len(seeds), rng)
    run_id, record = runs[len(runs) // 2]
    out.write_text(
        json.dumps(
            {"experiment_id": experiment, "run_id": run_id, "record": record, "n": len(runs)},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
