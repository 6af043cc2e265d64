"""Benchmark: generate the full default seed dataset (1.2M customers) and read the customer file back.

Baseline, measured in the same run: the naive way, one Faker call per customer field written with
the csv module, on a slice of rows, extrapolated to rows/s.

    .venv/bin/python bench/generate.py [--seed 42] [--baseline-rows 10000]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from faker import Faker

from autocorp.source import seedfiles
from autocorp.source.generate import generate


def naive_customers(path: Path, rows: int, seed: int) -> float:
    """Per-row Faker customers, the approach the generator avoids; returns seconds."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    started = time.perf_counter()
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(seedfiles.CUSTOMERS.column_names)
        for _ in range(rows):
            writer.writerow([fake.first_name(), fake.last_name(), fake.email(), fake.phone_number(),
                             fake.street_address(), fake.city(), fake.state_abbr(), fake.zipcode()])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--baseline-rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autocorp-bench-") as tmp:
        out = Path(tmp) / "data"
        res = generate(out, seed=args.seed)
        total = sum(res.rows.values())
        size = sum((out / name).stat().st_size for name in res.rows)
        started = time.perf_counter()
        sf = seedfiles.read_seed_file(out / seedfiles.CUSTOMERS.name, seedfiles.CUSTOMERS)
        read_s = time.perf_counter() - started
        naive_s = naive_customers(Path(tmp) / "naive.csv", args.baseline_rows, args.seed)

    print(f"seed files (seed {args.seed}):")
    for name, rows in res.rows.items():
        print(f"  {name:<18} {rows:>10,} rows")
    print(f"generate, all files:       {res.seconds:8.2f} s  {total / res.seconds:>12,.0f} rows/s  "
          f"({size / 1e6:,.0f} MB)  budget 60 s")
    print(f"read+validate customers:   {read_s:8.2f} s  {sf.records / read_s:>12,.0f} rows/s")
    naive_rate = args.baseline_rows / naive_s
    print(f"baseline per-row Faker:    {naive_s:8.2f} s  {naive_rate:>12,.0f} rows/s  "
          f"({args.baseline_rows:,} customers; 1.2M would take ~{1_200_000 / naive_rate:,.0f} s)")
    customers_rate = res.rows[seedfiles.CUSTOMERS.name] / res.seconds
    print(f"ratio (customer rows/s, whole generation time, vs baseline): {customers_rate / naive_rate:,.1f}x")


if __name__ == "__main__":
    main()
