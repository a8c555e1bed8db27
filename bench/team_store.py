"""Fill an MLflow store on PostgreSQL with N finished runs: ``python team_store.py URI ARTIFACTS N
OUT`` (URI: ``postgresql+psycopg2://user:pw@host:port/db``, an empty database).

As bench/mlflow_store.py does for SQLite: the first SEED runs go through ``MlflowClient``
against the database itself (which also creates MLflow's schema), so their rows are exactly what
MLflow writes; the rest are copies of those rows under new run ids and ``lineage.record`` tags,
inserted with psycopg2 in one transaction (a client call commits on its own, ~10 runs a second).
Run as a separate process so the harness never imports mlflow itself.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from mlflow_store import EPOCH_MS, SEED, SPACING_MS, _hex, seed_client_runs


def clone_runs(dsn: str, seeds: list, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Copy every row that belongs to a seed run, under a new run id and record tag."""
    import psycopg2
    from psycopg2.extras import execute_values

    con = psycopg2.connect(dsn)
    cur = con.cursor()
    cur.execute(
        "SELECT table_name FROM information_schema.columns "
        "WHERE column_name = 'run_uuid' AND table_schema = 'public'"
    )
    # runs first: the other tables' foreign keys point at it.
    tables = sorted({name for (name,) in cur.fetchall()}, key=lambda t: (t != "runs", t))
    columns = {}
    rows: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for t in tables:
        cur.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = %s AND table_schema = 'public' ORDER BY ordinal_position",
            (t,),
        )
        columns[t] = [c for (c,) in cur.fetchall()]
        rows[t] = {}
        for sid, _, _ in seeds:
            cur.execute(f'SELECT * FROM "{t}" WHERE run_uuid = %s', (sid,))
            rows[t][sid] = cur.fetchall()
    made = []
    out: dict[str, list[list[Any]]] = {t: [] for t in tables}
    for j in range(count):
        index = len(seeds) + j
        sid, srecord, sname = seeds[j % len(seeds)]
        new_id, new_record, new_name = _hex(rng, 128), _hex(rng, 256), f"run-{index}"
        shift = (index - j % len(seeds)) * SPACING_MS
        for t in tables:
            for row in rows[t][sid]:
                values = []
                for col, value in zip(columns[t], row, strict=True):
                    if isinstance(value, str):
                        value = value.replace(sid, new_id).replace(srecord, new_record)
                        value = new_name if value == sname else value
                    elif t == "runs" and col in ("start_time", "end_time") and value:
                        value += shift
                    values.append(value)
                out[t].append(values)
        made.append((new_id, new_record))
    for t in tables:
        names = ", ".join(f'"{c}"' for c in columns[t])
        execute_values(cur, f'INSERT INTO "{t}" ({names}) VALUES %s', out[t], page_size=5000)
    con.commit()
    con.close()
    return made


def main(argv: list[str]) -> int:
    uri, artifacts, n, out = argv[0], Path(argv[1]), int(argv[2]), Path(argv[3])
    rng = random.Random(n)
    experiment, seeds = seed_client_runs(uri, artifacts, min(n, SEED), rng)
    dsn = uri.replace("postgresql+psycopg2://", "postgresql://", 1)
    runs = [(sid, record) for sid, record, _ in seeds]
    runs += clone_runs(dsn, seeds, n - len(seeds), rng)
    run_id, record = runs[len(runs) // 2]
    out.write_text(
        json.dumps(
            {
                "experiment_id": experiment,
                "run_id": run_id,
                "record": record,
                "n": len(runs),
                "epoch_ms": EPOCH_MS,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
