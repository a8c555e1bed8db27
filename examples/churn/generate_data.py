#!/usr/bin/env python
"""Generate a synthetic, deterministic customer-churn table.

Same arguments -> byte-identical CSV: the random numbers come from a seeded
numpy Generator and every float is written with a fixed format.

    python generate_data.py                      # 5000 rows, seed 7
    python generate_data.py --rows 20000 --seed 3 --out data/raw/customers.csv
"""
import argparse
import os

import numpy as np

CONTRACTS = ("month-to-month", "one-year", "two-year")
INTERNET = ("dsl", "fiber-optic", "none")
COLUMNS = (
    "customer_id",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "contract",
    "support_calls",
    "internet_service",
    "churned",
)


def generate(rows, seed):
    rng = np.random.default_rng(seed)

    contract = rng.choice(3, size=rows, p=[0.55, 0.25, 0.20])
    # Longer contracts go with longer-standing customers.
    tenure_mean = np.array([14.0, 30.0, 45.0])[contract]
    tenure = np.clip(np.rint(rng.exponential(tenure_mean)), 1, 72).astype(np.int64)

    internet = rng.choice(3, size=rows, p=[0.35, 0.45, 0.20])
    base = np.array([55.0, 85.0, 25.0])[internet]
    monthly = np.clip(base + rng.normal(0.0, 12.0, size=rows), 18.0, 120.0)
    monthly = np.round(monthly, 2)
    total = np.round(monthly * tenure * rng.uniform(0.95, 1.05, size=rows), 2)

    support_calls = rng.poisson(np.where(internet == 1, 1.8, 1.1))

    # Churn: logistic in tenure, contract, support calls, charges and service.
    logit = (
        -0.3
        - 0.045 * tenure
        + np.array([0.0, -1.3, -2.4])[contract]
        + 0.38 * support_calls
        + 0.022 * (monthly - 65.0)
        + np.array([0.0, 0.35, -0.4])[internet]
        + rng.normal(0.0, 0.6, size=rows)
    )
    churned = (rng.uniform(size=rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    return {
        "customer_id": [f"C{i:06d}" for i in range(1, rows + 1)],
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "contract": [CONTRACTS[c] for c in contract],
        "support_calls": support_calls,
        "internet_service": [INTERNET[i] for i in internet],
        "churned": churned,
    }


def write_csv(table, path):
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    rows = len(table["customer_id"])
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(",".join(COLUMNS) + "\n")
        for i in range(rows):
            f.write(
                f"{table['customer_id'][i]},"
                f"{int(table['tenure_months'][i])},"
                f"{float(table['monthly_charges'][i]):.2f},"
                f"{float(table['total_charges'][i]):.2f},"
                f"{table['contract'][i]},"
                f"{int(table['support_calls'][i])},"
                f"{table['internet_service'][i]},"
                f"{int(table['churned'][i])}\n"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="number of customers (default 5000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--out", default=os.path.join("data", "raw", "customers.csv"), help="output CSV path"
    )
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be positive")
    table = generate(args.rows, args.seed)
    write_csv(table, args.out)
    churn_rate = float(np.mean(table["churned"]))
    print(f"wrote {args.rows} rows to {args.out} (churn rate {churn_rate:.3f})")


if __name__ == "__main__":
    main()
