"""Benchmark: one curate batch (100k upserts + 10k deletes) into a 1M-row Delta table.

Ours: ``Curate.run_once`` end to end (list + read the raw CDC file, dedupe, one MERGE commit with
txn and metadata). Baseline, measured in the same run on an identical copy of the table: a bare
``deltalake`` MERGE of the same batch, already in memory. Target: ratio <= 1.2.

With ``--partitioning`` it also measures a sales_order-shaped table partitioned by order month
against the unpartitioned one (bare deltalake merges of the same batch of recent orders).

    .venv/bin/python bench/curate.py [--rows 1000000] [--upserts 100000] [--deletes 10000] [--partitioning]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake

from autocorp.curate.runner import Curate
from autocorp.lake import layout
from autocorp.lake.storage import Storage
from autocorp.settings import load_settings

SLOT = "autocorp_bench"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MONEY = pa.decimal128(12, 2)
META = {"autocorp.primary_key": json.dumps(["order_id"]), "autocorp.source": "public.sales_order"}


def orders(ids: np.ndarray, rng: np.random.Generator, lsn: int, op: str | np.ndarray) -> pa.Table:
    """sales_order-shaped rows in raw-zone layout."""
    n = len(ids)
    ts = pa.array([T0 + timedelta(seconds=30 * int(i)) for i in ids], pa.timestamp("us", tz="UTC"))  # ~1 year per 1M
    ops = pa.array([op] * n) if isinstance(op, str) else pa.array(op)
    return pa.table({
        "Op": ops, "_commit_ts": pa.array([T0] * n, pa.timestamp("us", tz="UTC")),
        "_lsn": pa.array(np.full(n, lsn), pa.int64()), "_seq": pa.array(np.arange(n), pa.int64()),
        "_xid": pa.nulls(n, pa.int64()), "_unchanged": pa.nulls(n, pa.list_(pa.string())),
        "order_id": pa.array(ids, pa.int64()), "customer_id": pa.array(rng.integers(1, 100_000, n), pa.int64()),
        "order_date": ts, "invoice_number": pc.binary_join_element_wise("INV-2026-", pa.array(ids.astype(str)), ""),
        "payment_method": pa.array(rng.choice(["Cash", "Credit Card", "Check"], n)),
        "total_amount": pa.array(rng.integers(100, 90_000, n), pa.int64()).cast(pa.decimal128(21, 2)).cast(MONEY),
        "order_type": pa.array(rng.choice(["Parts", "Service", "Mixed"], n)),
        "created_at": ts, "updated_at": ts,
    }).replace_schema_metadata(META)


def build(root: Path, rows: int, upserts: int, deletes: int) -> tuple[Curate, pa.Table]:
    """Raw zone with a LOAD of ``rows`` orders and one CDC file; curate the load; returns the CDC batch."""
    rng = np.random.default_rng(1)
    storage = Storage(str(root / "lake"))
    snapshot = 0x1000000
    for n, start in enumerate(range(0, rows, 250_000), 1):
        ids = np.arange(start + 1, min(start + 250_000, rows) + 1)
        storage.write_parquet(layout.load_file("public", "sales_order", n), orders(ids, rng, snapshot, "I"))
    existing = rng.choice(np.arange(1, rows + 1), upserts // 2 + deletes, replace=False)
    ids = np.concatenate([existing, np.arange(rows + 1, rows + 1 + upserts - upserts // 2)])
    ops = np.array(["U"] * (upserts // 2) + ["D"] * deletes + ["I"] * (upserts - upserts // 2))
    lsn = snapshot + 0x100
    batch = orders(ids, rng, lsn, ops)
    storage.write_parquet(layout.cdc_file("public", "sales_order", T0, lsn), batch)
    cp = {"slot": SLOT, "lsn": lsn, "snapshot_lsn": snapshot, "load_complete": True, "tables": ["public.sales_order"]}
    storage.write_bytes(layout.checkpoint_file(SLOT), json.dumps(cp).encode())
    settings = load_settings("dev", home=root / "home", lake={"root": str(root / "lake")}, capture={"slot": SLOT},
                             curate={"models": False})
    curate = Curate(settings)
    # version 0 only: hide the CDC file from the first run by a checkpoint at the snapshot
    storage.write_bytes(layout.checkpoint_file(SLOT), json.dumps({**cp, "lsn": snapshot}).encode())
    curate.run_once()
    storage.write_bytes(layout.checkpoint_file(SLOT), json.dumps(cp).encode())
    return curate, batch


def bare_merge(uri: str, batch: pa.Table) -> float:
    """The same batch through a plain deltalake MERGE (no reading, dedupe, txn or metadata)."""
    source = batch.drop_columns(["_seq", "_xid", "_unchanged"])
    cols = [c for c in source.column_names if c != "Op"]
    t0 = time.perf_counter()
    (DeltaTable(uri).merge(source, "t.order_id = s.order_id", source_alias="s", target_alias="t")
     .when_matched_delete("s.\"Op\" = 'D'")
     .when_matched_update({c: f"s.{c}" for c in cols}, "s.\"Op\" <> 'D'")
     .when_not_matched_insert({c: f"s.{c}" for c in cols}, "s.\"Op\" <> 'D'")
     .execute())
    return time.perf_counter() - t0


def compare(rows: int, upserts: int, deletes: int, repeat: int) -> None:
    ours, bare = [], []
    for i in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-curate-") as tmp:
            root = Path(tmp)
            t0 = time.perf_counter()
            curate, batch = build(root, rows, upserts, deletes)
            print(f"[{i}] setup: {rows:,}-row table loaded in {time.perf_counter() - t0:.1f}s")
            uri = curate.storage.uri(layout.curated_table("sales_order"))
            shutil.copytree(uri, root / "bare")
            bare.append(bare_merge(str(root / "bare"), batch))
            t0 = time.perf_counter()
            report = curate.run_once()
            ours.append(time.perf_counter() - t0)
            rep = report.tables[0]
            assert report.ok and rep.commits == 1, report
            same = DeltaTable(uri).to_pyarrow_table().sort_by("order_id").drop_columns(["_lsn", "_commit_ts"])
            ref = DeltaTable(str(root / "bare")).to_pyarrow_table().sort_by("order_id")
            assert same.equals(ref.select(same.column_names)), "curate and the bare merge disagree"
            print(f"[{i}] bare merge {bare[-1]:.2f}s, curate {ours[-1]:.2f}s "
                  f"(ins {rep.inserted:,} upd {rep.updated:,} del {rep.deleted:,})")
    b, o = min(bare), min(ours)
    print(f"best of {repeat}: bare deltalake merge {b:.2f}s, curate run_once {o:.2f}s, ratio {o / b:.2f}x "
          f"(target <= 1.2x)")


def partitioning(rows: int, batch_rows: int) -> None:
    """Merge recent-order changes into sales_order partitioned by month vs unpartitioned."""
    rng = np.random.default_rng(2)
    base = orders(np.arange(1, rows + 1), rng, 1, "I").drop_columns(["Op", "_seq", "_xid", "_unchanged"])
    month = pc.strftime(base.column("order_date"), "%Y-%m")
    recent = np.concatenate([np.arange(rows - batch_rows // 2 + 1, rows + 1),
                             np.arange(rows + 1, rows + 1 + batch_rows // 2)])
    src = orders(recent, rng, 2, "U").drop_columns(["_seq", "_xid", "_unchanged"])
    src = src.append_column("order_month", pc.strftime(src.column("order_date"), "%Y-%m"))
    cols = [c for c in src.column_names if c != "Op"]
    with tempfile.TemporaryDirectory(prefix="bench-part-") as tmp:
        for label, part in (("unpartitioned", None), ("by order month", ["order_month"])):
            uri = f"{tmp}/{label.replace(' ', '_')}"
            write_deltalake(uri, base.append_column("order_month", month), partition_by=part)
            pred = "t.order_id = s.order_id" + (" AND t.order_month = s.order_month" if part else "")
            t0 = time.perf_counter()
            (DeltaTable(uri).merge(src, pred, source_alias="s", target_alias="t")
             .when_matched_update({c: f"s.{c}" for c in cols})
             .when_not_matched_insert({c: f"s.{c}" for c in cols}).execute())
            print(f"partitioning: {label}: merge of {len(recent):,} recent orders into {rows:,} rows "
                  f"{time.perf_counter() - t0:.2f}s ({len(DeltaTable(uri).file_uris())} files)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--upserts", type=int, default=100_000)
    parser.add_argument("--deletes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--partitioning", action="store_true")
    args = parser.parse_args()
    compare(args.rows, args.upserts, args.deletes, args.repeat)
    if args.partitioning:
        partitioning(args.rows, args.upserts)


if __name__ == "__main__":
    main()
