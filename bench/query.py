"""Benchmark: the analytics queries on the lake (DuckDB) vs the same SQL on the source PostgreSQL, same run.

Builds N order lines of synthetic sales in a throwaway embedded PostgreSQL 18 and the same rows as Delta tables
(the curated zone), runs every ``queries/analytics_*.sql`` on both (best of 3 after one warm-up), prints times
and ratios; then measures the real-time view's freshness at a steady change rate (a raw CDC file per second,
as capture flushes), from a change's commit time to the moment a query over ``sales_order`` returns it.

    .venv/bin/python bench/query.py --lines 10000000      # the issue's size
    .venv/bin/python bench/query.py --lines 300000 --freshness-s 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from query_lake import TestLake  # noqa: E402

from autocorp.query.session import LakeConfig, LakeSession  # noqa: E402
from autocorp.settings import EmbeddedSettings, QuerySettings  # noqa: E402
from autocorp.source import embedded, schema  # noqa: E402
from autocorp.source.connect import connection  # noqa: E402

QUERIES = sorted((Path(__file__).parents[1] / "queries").glob("analytics_*.sql"))


def dollars(cents: np.ndarray, typ: pa.DataType) -> pa.Array:
    """Integer cents -> exact decimal dollars."""
    whole = pa.array(cents.astype(np.int64), pa.int64()).cast(pa.decimal128(19, 0))
    return pc.multiply(whole, pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))).cast(typ)


def synth(lines: int, seed: int = 7) -> dict[str, pa.Table]:
    """Source-shaped tables: 2 lines per order on average, 50 parts, 10 services, 5000 customers."""
    rng = np.random.default_rng(seed)
    n_orders, n_cust, now = max(1, lines // 2), 5000, datetime.now(UTC)
    ts = pa.timestamp("us", tz="UTC")
    money = pa.decimal128(10, 2)
    price = rng.integers(500, 20000, 50)
    parts = pa.table({"sku": [f"SKU-{i:03d}" for i in range(50)], "name": [f"Part {i}" for i in range(50)],
                      "category": [["Brakes", "Filters", "Engine", "Tires"][i % 4] for i in range(50)],
                      "brand": [["Bosch", "Denso", "Moog"][i % 3] for i in range(50)],
                      "unit_price": dollars(price, money),
                      "cost": dollars(price // 2, money),
                      "stock_quantity": pa.array(rng.integers(0, 100, 50), pa.int32())})
    cust = pa.table({"customer_id": pa.array(np.arange(1, n_cust + 1), pa.int64()),
                     "first_name": [f"F{i}" for i in range(n_cust)], "last_name": [f"L{i}" for i in range(n_cust)],
                     "email": [f"c{i}@example.com" for i in range(n_cust)],
                     "state": [["TX", "CA", "NY", "WA", "FL"][i % 5] for i in range(n_cust)]})
    order_id = np.arange(1, n_orders + 1)
    line_order = rng.integers(1, n_orders + 1, lines)
    line_part = rng.integers(0, 50, lines)
    qty = rng.integers(1, 5, lines)
    cents = price[line_part] * qty
    totals = np.bincount(line_order, weights=cents, minlength=n_orders + 1)[1:].astype(np.int64)
    dec = pa.decimal128(12, 2)
    orders = pa.table({
        "order_id": pa.array(order_id, pa.int64()),
        "customer_id": pa.array(rng.integers(1, n_cust + 1, n_orders), pa.int64()),
        "order_date": pa.array((now.timestamp() - rng.integers(0, 365 * 86400, n_orders)) * 1_000_000, pa.int64())
        .cast(ts),
        "invoice_number": [f"INV-2026-{i}" for i in order_id],
        "payment_method": pa.array(np.array(["Credit Card", "Debit Card", "Cash", "Check"])[order_id % 4]),
        "total_amount": dollars(totals, dec),
        "order_type": pa.array(np.array(["Parts"] * n_orders))})
    lines_t = pa.table({
        "line_id": pa.array(np.arange(1, lines + 1), pa.int64()), "order_id": pa.array(line_order, pa.int64()),
        "sku": pa.array(np.array(parts["sku"].to_pylist())[line_part]),
        "quantity": pa.array(qty, pa.int32()),
        "unit_price": dollars(price[line_part], money),
        "line_total": dollars(cents, dec)})
    sids = [f"{10000000 + i}" for i in range(10)]
    service = pa.table({"serviceid": sids, "service": [f"Service {i}" for i in range(10)],
                        "category": ["Brakes"] * 10, "labor_minutes": pa.array([30] * 10, pa.int32()),
                        "labor_cost": dollars(np.full(10, 4000), money)})
    empty_sp = pa.table({"serviceid": pa.array([], pa.string()), "sku": pa.array([], pa.string()),
                         "quantity": pa.array([], pa.int32())})
    empty_sos = pa.table({"line_id": pa.array([], pa.int64()), "order_id": pa.array([], pa.int64()),
                          "serviceid": pa.array([], pa.string()), "labor_minutes": pa.array([], pa.int32()),
                          "labor_cost": pa.array([], money), "parts_cost": pa.array([], money),
                          "line_total": pa.array([], dec)})
    return {"auto_parts": parts, "service": service, "service_parts": empty_sp, "customers": cust,
            "sales_order": orders, "sales_order_parts": lines_t, "sales_order_services": empty_sos}


def load_source(dsn: str, tables: dict[str, pa.Table]) -> None:
    import io

    import pyarrow.csv as pacsv

    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE sales_order_parts DROP CONSTRAINT IF EXISTS sales_order_parts_check")
        for name, t in tables.items():
            buf = io.BytesIO()
            pacsv.write_csv(t, buf, pacsv.WriteOptions(include_header=False))
            buf.seek(0)
            cur.copy_expert(f"COPY {name} ({', '.join(t.column_names)}) FROM STDIN WITH (FORMAT csv)", buf)
        cur.execute("ANALYZE")


def load_lake(root: str, tables: dict[str, pa.Table]) -> TestLake:
    from deltalake import CommitProperties, Transaction, write_deltalake

    lake = TestLake(root, "autocorp_bench")
    for name, t in tables.items():
        now = pa.array([datetime.now(UTC)] * t.num_rows, pa.timestamp("us", tz="UTC"))
        full = t.append_column("_lsn", pa.array([100] * t.num_rows, pa.int64())).append_column("_commit_ts", now)
        props = CommitProperties(app_transactions=[Transaction(f"autocorp_bench:{name}", 100)])
        write_deltalake(lake.uri(name), full, commit_properties=props)
        lake.define(name, t.schema, [t.column_names[0]])
    lake.checkpoint(100)
    return lake


def timed(run, repeat: int = 3) -> float:
    run()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def compare(session: LakeSession, dsn: str) -> list[tuple[str, float, float]]:
    out = []
    with connection(dsn) as conn, conn.cursor() as cur:
        for path in QUERIES:
            sql = path.read_text()
            try:
                lake_s = timed(lambda sql=sql: session.run(sql))
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"{path.stem}: lake failed: {exc}")
                continue

            def on_pg(sql: str = sql) -> None:
                cur.execute(sql)
                cur.fetchall()
            try:
                pg_s = timed(on_pg)
            except Exception as exc:  # noqa: BLE001
                conn.rollback()
                print(f"{path.stem}: postgres failed: {str(exc).splitlines()[0]}")
                continue
            out.append((path.stem, lake_s, pg_s))
            print(f"{path.stem:45s} lake {lake_s * 1000:9.1f} ms   postgres {pg_s * 1000:9.1f} ms   "
                  f"x{pg_s / lake_s:6.1f}", flush=True)
    return out


def freshness(lake: TestLake, seconds: float, rate: int) -> list[float]:
    """Writer: one CDC file per second holding ``rate`` updates; reader: latency until a query returns them."""
    config = LakeConfig(lake.storage, lake.pipeline, QuerySettings())
    session = LakeSession(config, sandboxed=True)
    seen: dict[int, float] = {}
    written: dict[int, float] = {}
    stop = threading.Event()

    def writer() -> None:
        lsn = 1000
        while not stop.is_set():
            lsn += 1000
            t0 = time.time()
            ids = np.random.default_rng(lsn).integers(1, 5000, rate)
            changes = [{"Op": "U", "_lsn": lsn, "order_id": int(i), "customer_id": 1, "invoice_number": "x",
                        "payment_method": "Cash", "total_amount": None, "order_type": "Parts"} for i in ids]
            lake.write_cdc("sales_order", changes)
            lake.checkpoint(lsn)
            written[lsn] = t0 - 0.5  # changes of the flush window committed 0.5 s earlier on average
            time.sleep(max(0.0, 1.0 - (time.time() - t0)))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    end = time.time() + seconds
    while time.time() < end:
        session.refresh_if_stale(0.0)
        top = session.run("SELECT max(_lsn) FROM sales_order").column(0)[0].as_py()
        now = time.time()
        for lsn, t in list(written.items()):
            if lsn <= top and lsn not in seen:
                seen[lsn] = now - t
        time.sleep(0.05)
    stop.set()
    thread.join()
    session.close()
    return sorted(seen.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--freshness-s", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=1000, help="changes per second for the freshness run")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="autocorp-bench-query-"))
    state, _ = embedded.start(root / "pg", EmbeddedSettings(port=embedded.free_port(), extra={"fsync": "off"}))
    try:
        dsn = state.url("postgres")
        schema.apply_schema(dsn)
        t0 = time.time()
        tables = synth(args.lines)
        load_source(dsn, tables)
        lake = load_lake(str(root / "lake"), tables)
        print(f"built {args.lines:,} order lines in PostgreSQL and the lake in {time.time() - t0:.0f} s")
        session = LakeSession(LakeConfig(lake.storage, lake.pipeline, QuerySettings(memory_limit="2GB")))
        results = compare(session, dsn)
        session.close()
        if results:
            ratios = [pg / lk for _, lk, pg in results]
            print(f"queries: {len(results)}; slowest lake query {max(r[1] for r in results) * 1000:.0f} ms; "
                  f"ratio postgres/lake min {min(ratios):.1f}x, median {float(np.median(ratios)):.1f}x")
        lat = freshness(lake, args.freshness_s, args.rate)
        if lat:
            print(f"real-time view freshness at {args.rate} changes/s over {len(lat)} flushes: "
                  f"p50 {np.percentile(lat, 50):.2f} s, p95 {np.percentile(lat, 95):.2f} s")
    finally:
        embedded.stop(root / "pg")


if __name__ == "__main__":
    main()
