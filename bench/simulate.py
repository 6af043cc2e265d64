"""Benchmark of the order workload simulator against a throwaway embedded PostgreSQL 18.

Starts its own cluster (default settings: fsync and synchronous_commit on) in a temp dir on a
free port, applies the schema, inserts a catalog the size of the design's (400 parts, 110
services, ~1,074 service_parts, 1,149 customers), then measures:

1. the maximum row changes/s with 1 worker and with ``--workers`` workers (rate 0), and
2. with ``--rate N``, the achieved rate against the target.

    .venv/bin/python bench/simulate.py [--seconds 10] [--workers 4] [--rate 1000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from pathlib import Path

from autocorp.settings import EmbeddedSettings
from autocorp.source import embedded, schema
from autocorp.source.connect import connection, execute_values
from autocorp.source.simulate import SimulationReport, simulate


def insert_catalog(dsn: str, *, parts: int = 400, services: int = 110, customers: int = 1149) -> None:
    """A synthetic catalog with the design's sizes (the real seed loader is not needed here)."""
    rng = random.Random(7)
    skus = [f"SKU-{i:05d}" for i in range(parts)]
    sids = [f"{10000000 + i * 7919:08d}" for i in range(services)]
    with connection(dsn) as conn, conn.cursor() as cur:
        execute_values(cur, "INSERT INTO auto_parts (sku, name, category, brand, unit_price, cost, stock_quantity)"
                       " VALUES %s", [(s, f"Part {s}", "Brakes", "Acme", round(rng.uniform(2, 400), 2), 1, 50)
                                      for s in skus])
        execute_values(cur, "INSERT INTO service (serviceid, service, category, labor_minutes, labor_cost) VALUES %s",
                       [(s, f"Service {s}", "Brakes", rng.randint(15, 240), round(rng.uniform(20, 600), 2))
                        for s in sids])
        execute_values(cur, "INSERT INTO service_parts (serviceid, sku, quantity) VALUES %s",
                       [(s, sku, rng.randint(1, 4)) for s in sids for sku in rng.sample(skus, rng.randint(5, 14))])
        execute_values(cur, "INSERT INTO customers (first_name, last_name, email, state) VALUES %s",
                       [("Ann", f"Lee{i}", f"c{i}@example.com", "TX") for i in range(customers)])


def show(label: str, r: SimulationReport) -> None:
    print(f"{label:<34} {r.row_changes_per_s:>9,.0f} row changes/s  {r.transactions_per_s:>7,.0f} tx/s  "
          f"{r.orders_per_s:>7,.0f} orders/s  ({r.row_changes:,} rows in {r.elapsed_s:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    ap.add_argument("--workers", type=int, default=4, help="workers for the multi-connection measurement")
    ap.add_argument("--rate", type=float, default=1000.0, help="target row changes/s for the paced run")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="autocorp-bench-sim-"))
    try:
        state, _ = embedded.start(root / "pg", EmbeddedSettings(port=embedded.free_port()))
        dsn = state.url("autocorp")
        schema.init_database(dsn)
        insert_catalog(dsn)
        print(f"PostgreSQL 18 embedded (default durability), {args.seconds:g} s per run, "
              "update share 0.10, delete share 0.05")
        one = simulate(dsn, duration=args.seconds, workers=1)
        show("max, 1 worker", one)
        many = simulate(dsn, duration=args.seconds, workers=args.workers)
        show(f"max, {args.workers} workers", many)
        print(f"  ratio {args.workers} workers / 1 worker: {many.row_changes_per_s / one.row_changes_per_s:.2f}x;"
              f" 1 worker / 1,000 target: {one.row_changes_per_s / 1000:.2f}x")
        paced = simulate(dsn, rate=args.rate, duration=args.seconds, workers=args.workers)
        show(f"paced at {args.rate:,.0f}/s, {args.workers} workers", paced)
        print(f"  achieved / target: {paced.row_changes_per_s / args.rate:.3f}")
    finally:
        embedded.stop(root / "pg")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
