"""Split data/raw/customers.csv into data/prepared/{train,test}.csv.

Deterministic: a stratified split seeded from params.yaml (prepare.seed,
prepare.test_size); the rows keep their original column order and formatting.
"""
import os

import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

RAW = os.path.join("data", "raw", "customers.csv")
OUT_DIR = os.path.join("data", "prepared")


def main():
    with open("params.yaml", encoding="utf-8") as f:
        params = yaml.safe_load(f)["prepare"]

    # Read everything as text so the output repeats the input's formatting exactly.
    df = pd.read_csv(RAW, dtype=str, keep_default_na=False)
    train, test = train_test_split(
        df,
        test_size=float(params["test_size"]),
        random_state=int(params["seed"]),
        stratify=df["churned"],
    )

    os.makedirs(OUT_DIR, exist_ok=True)
    for name, part in (("train", train), ("test", test)):
        part.sort_values("customer_id").to_csv(
            os.path.join(OUT_DIR, f"{name}.csv"), index=False, lineterminator="\n"
        )
    print(f"prepared {len(train)} training and {len(test)} test rows in {OUT_DIR}/")


if __name__ == "__main__":
    main()
