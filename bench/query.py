"""Benchmark: the analytics queries on the lake (DuckDB) vs the same SQL on the source PostgreSQL, same run.

Builds N order lines of synthetic sales in a throwaway embedded PostgreSQL 18 and the same rows as Delta tables
(the curated zone), runs every ``queries/analytics_*.sql`` on both — same SQL, answers checked equal, one
warm-up then ``--repeat`` alternating runs per side, median — and prints times and ratios: first with every
change merged, then with ``--unmerged`` seconds of order updates only in the raw zone (the real-time views
merge them at read time; PostgreSQL holds the same updates). Last, the real-time view's freshness at a steady
change rate (a raw CDC file per second, as capture flushes), from a change's commit time to the moment a
query over ``sales_order`` returns it.

    .venv/bin/python bench/query.py --lines 10000000      # the issue's size
    .venv/bin/python bench/query.py --lines 300000 --freshness-s 20
    .venv/bin/python bench/query.py --ceiling   # plus the queries on DuckDB in-memory tables (an upper bound)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from query_lake import TestLake  # noqa: E402

from autocorp.lake import layout  # noqa: E402
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
    """Source-shaped tables shaped like the order simulator's: orders placed in time order (``order_date``
    rises with ``order_id``), 1-3 lines each, stored next to each other (80 % part lines, 20 % service lines),
    header totals equal to the sum of the lines; 50 parts, 10 services with 3 parts each, 5000 customers."""
    rng = np.random.default_rng(seed)
    n_orders, n_cust, now = max(1, lines // 2), 5000, datetime.now(UTC)
    money, dec = pa.decimal128(10, 2), pa.decimal128(12, 2)
    price = rng.integers(500, 20000, 50)
    skus = np.array([f"SKU-{i:03d}" for i in range(50)])
    parts = pa.table({"sku": skus, "name": [f"Part {i}" for i in range(50)],
                      "category": [["Brakes", "Filters", "Engine", "Tires"][i % 4] for i in range(50)],
                      "brand": [["Bosch", "Denso", "Moog"][i % 3] for i in range(50)],
                      "unit_price": dollars(price, money), "cost": dollars(price // 2, money),
                      "stock_quantity": pa.array(rng.integers(0, 100, 50), pa.int32())})
    cust = pa.table({"customer_id": pa.array(np.arange(1, n_cust + 1), pa.int64()),
                     "first_name": [f"F{i}" for i in range(n_cust)], "last_name": [f"L{i}" for i in range(n_cust)],
                     "email": [f"c{i}@example.com" for i in range(n_cust)],
                     "state": [["TX", "CA", "NY", "WA", "FL"][i % 5] for i in range(n_cust)]})
    sids = np.array([f"{10000000 + i}" for i in range(10)])
    labor, svc_parts = np.full(10, 4000) + 500 * np.arange(10), 1500 + 250 * np.arange(10)
    service = pa.table({"serviceid": sids, "service": [f"Service {i}" for i in range(10)],
                        "category": ["Brakes", "HVAC", "Tires & Wheels", "Cooling System", "Fluids & Filters"] * 2,
                        "labor_minutes": pa.array([30 + 5 * i for i in range(10)], pa.int32()),
                        "labor_cost": dollars(labor, money)})
    service_parts = pa.table({"serviceid": np.repeat(sids, 3), "sku": skus[(np.arange(30) * 7) % 50],
                              "quantity": pa.array(np.tile([1, 2, 4], 10), pa.int32())})
    order_id = np.arange(1, n_orders + 1)
    line_order = np.repeat(order_id, rng.integers(1, 4, n_orders))
    is_svc = rng.random(len(line_order)) < 0.2
    p_order, s_order = line_order[~is_svc], line_order[is_svc]
    p_part, qty = rng.integers(0, 50, len(p_order)), rng.integers(1, 5, len(p_order))
    p_cents, s_svc = price[p_part] * qty, rng.integers(0, 10, len(s_order))
    s_cents = labor[s_svc] + svc_parts[s_svc]
    totals = (np.bincount(p_order, weights=p_cents, minlength=n_orders + 1)
              + np.bincount(s_order, weights=s_cents, minlength=n_orders + 1))[1:].astype(np.int64)
    has_p = np.bincount(p_order, minlength=n_orders + 1)[1:] > 0
    has_s = np.bincount(s_order, minlength=n_orders + 1)[1:] > 0
    start = now.timestamp() - 365 * 86400
    dates = np.sort(start + rng.random(n_orders) * 365 * 86400) * 1_000_000
    orders = pa.table({
        "order_id": pa.array(order_id, pa.int64()),
        "customer_id": pa.array(rng.integers(1, n_cust + 1, n_orders), pa.int64()),
        "order_date": pa.array(dates.astype(np.int64), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "invoice_number": [f"INV-2026-{i}" for i in order_id],
        "payment_method": pa.array(np.array(["Credit Card", "Debit Card", "Cash", "Check"])[order_id % 4]),
        "total_amount": dollars(totals, dec),
        "order_type": pa.array(np.where(has_p & has_s, "Mixed", np.where(has_s, "Service", "Parts")))})
    part_lines = pa.table({
        "line_id": pa.array(np.arange(1, len(p_order) + 1), pa.int64()), "order_id": pa.array(p_order, pa.int64()),
        "sku": pa.array(skus[p_part]), "quantity": pa.array(qty, pa.int32()),
        "unit_price": dollars(price[p_part], money), "line_total": dollars(p_cents, dec)})
    service_lines = pa.table({
        "line_id": pa.array(np.arange(1, len(s_order) + 1), pa.int64()), "order_id": pa.array(s_order, pa.int64()),
        "serviceid": pa.array(sids[s_svc]), "labor_minutes": pa.array(30 + 5 * s_svc, pa.int32()),
        "labor_cost": dollars(labor[s_svc], money), "parts_cost": dollars(svc_parts[s_svc], money),
        "line_total": dollars(s_cents, dec)})
    return {"auto_parts": parts, "service": service, "service_parts": service_parts, "customers": cust,
            "sales_order": orders, "sales_order_parts": part_lines, "sales_order_services": service_lines}


KEYS = {"service_parts": ["serviceid", "sku"]}
PG_SETTINGS = {"fsync": "off", "shared_buffers": "2GB", "work_mem": "64MB", "effective_cache_size": "8GB"}


def load_source(dsn: str, tables: dict[str, pa.Table]) -> None:
    """COPY the rows into PostgreSQL (its schema and indexes), then VACUUM ANALYZE so plans use fresh stats."""
    import io

    import pyarrow.csv as pacsv

    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE sales_order_parts DROP CONSTRAINT IF EXISTS sales_order_parts_check")
        for name, t in tables.items():
            buf = io.BytesIO()
            pacsv.write_csv(t, buf, pacsv.WriteOptions(include_header=False))
            buf.seek(0)
            cur.copy_expert(f"COPY {name} ({', '.join(t.column_names)}) FROM STDIN WITH (FORMAT csv)", buf)
        cur.execute("VACUUM ANALYZE")


def load_lake(root: str, tables: dict[str, pa.Table], files: int = 1) -> TestLake:
    """The same rows as curated Delta tables at committed LSN 100 (what `autocorp curate` leaves); tables of
    over a million rows in ``files`` files of consecutive keys (as merges and compaction leave them)."""
    from deltalake import CommitProperties, Transaction, write_deltalake

    lake = TestLake(root, "autocorp_bench")
    for name, t in tables.items():
        now = pa.array([datetime.now(UTC)] * t.num_rows, pa.timestamp("us", tz="UTC"))
        full = t.append_column("_lsn", pa.array([100] * t.num_rows, pa.int64())).append_column("_commit_ts", now)
        props = CommitProperties(app_transactions=[Transaction(layout.curated_app_id(lake.pipeline, name), 100)])
        parts = files if t.num_rows > 1_000_000 else 1
        step = -(-t.num_rows // parts)
        for start in range(0, t.num_rows, step):
            last = start + step >= t.num_rows
            write_deltalake(lake.uri(name), full.slice(start, step), mode="append",
                            commit_properties=props if last else None)
        lake.define(name, t.schema, KEYS.get(name, [t.column_names[0]]))
    lake.checkpoint(100)
    return lake


def add_unmerged(lake: TestLake, dsn: str, orders: pa.Table, files: int, per_file: int, hot: float = 1.0) -> int:
    """Update ``files * per_file`` orders at the source and only in the raw zone of the lake (not merged):
    the real-time view then reads Delta + those changes, and both sides hold the same rows. The updates hit
    the newest ``hot`` share of the orders (1.0: any order). Returns the LSN."""
    rng = np.random.default_rng(11)
    lsn = 1000
    first = int(orders.num_rows * (1 - hot))
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for _ in range(files):
            lsn += 1000
            rows = orders.take(rng.integers(first, orders.num_rows, per_file)).to_pylist()
            changes = [{**r, "Op": "U", "_lsn": lsn, "payment_method": "Financing"} for r in rows]
            lake.write_cdc("sales_order", changes)
            cur.execute("UPDATE sales_order SET payment_method = 'Financing' WHERE order_id = ANY(%s)",
                        ([r["order_id"] for r in rows],))
        cur.execute("VACUUM ANALYZE sales_order")
    lake.checkpoint(lsn)
    return files * per_file


def normalised(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    def one(v: object) -> object:
        if isinstance(v, Decimal | float):
            return round(float(v), 4)
        return v.astimezone(UTC) if isinstance(v, datetime) else v
    return [tuple(one(v) for v in r) for r in rows]


def timed_pair(on_lake, on_pg, repeat: int) -> tuple[float, float]:
    """Median seconds of each side; one warm-up run each, then the sides alternate so load hits both alike."""
    on_lake()
    on_pg()
    lake_t, pg_t = [], []
    for _ in range(repeat):
        for run, out in ((on_lake, lake_t), (on_pg, pg_t)):
            start = time.perf_counter()
            run()
            out.append(time.perf_counter() - start)
    return float(np.median(lake_t)), float(np.median(pg_t))


def compare(session: LakeSession, dsn: str, repeat: int) -> list[tuple[str, float, float]]:
    """Every analytics query on both sides: same SQL, answers checked equal, median times and ratio."""
    out = []
    with connection(dsn) as conn, conn.cursor() as cur:
        conn.set_session(readonly=True, autocommit=True)
        for path in QUERIES:
            sql = path.read_text()

            def on_lake(sql: str = sql) -> list[tuple[object, ...]]:
                return [tuple(r.values()) for r in session.run(sql).to_pylist()]

            def on_pg(sql: str = sql) -> list[tuple[object, ...]]:
                cur.execute(sql)
                return list(cur.fetchall())
            same = normalised(on_lake()) == normalised(on_pg())
            lake_s, pg_s = timed_pair(on_lake, on_pg, repeat)
            out.append((path.stem, lake_s, pg_s))
            print(f"{path.stem:42s} lake {lake_s * 1000:8.1f} ms   postgres {pg_s * 1000:8.1f} ms   "
                  f"x{pg_s / lake_s:6.1f}{'' if same else '   ANSWERS DIFFER'}", flush=True)
    ratios = [pg / lk for _, lk, pg in out]
    print(f"queries: {len(out)}; slowest lake query {max(r[1] for r in out) * 1000:.0f} ms; ratio postgres/lake "
          f"min {min(ratios):.1f}x, median {float(np.median(ratios)):.1f}x, max {max(ratios):.1f}x", flush=True)
    return out


def ceiling(lake: TestLake, merged: list[tuple[str, float, float]], repeat: int) -> None:
    """The same queries on DuckDB's own in-memory tables holding the same rows: the fastest any lake file
    layout could make DuckDB on this machine (no Parquet decoding, full statistics), against the PostgreSQL
    medians of the merged run."""
    config = LakeConfig(lake.storage, lake.pipeline, QuerySettings(memory_limit="4GB"))
    with closing(LakeSession(config)) as session:
        native = session.cursor()
        native.execute("CREATE SCHEMA native")
        for table in session.tables:
            native.execute(f'CREATE TABLE native."{table}" AS SELECT * FROM "{table}"')
        native.execute("SET search_path = 'native'")
        ratios = []
        for path, (name, lake_s, pg_s) in zip(QUERIES, merged, strict=True):
            sql = path.read_text()
            native.arrow(sql)
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                native.arrow(sql)
                times.append(time.perf_counter() - start)
            best = float(np.median(times))
            ratios.append(pg_s / best)
            print(f"{name:42s} in-memory {best * 1000:8.1f} ms   lake {lake_s * 1000:8.1f} ms   "
                  f"postgres {pg_s * 1000:8.1f} ms   x{pg_s / best:6.1f}", flush=True)
    print(f"in-memory DuckDB tables: ratio postgres/in-memory median {float(np.median(ratios)):.1f}x", flush=True)


def freshness(lake: TestLake, seconds: float, rate: int, start_lsn: int) -> list[float]:
    """Writer: one CDC file per second holding ``rate`` updates; reader: latency until a query returns them."""
    config = LakeConfig(lake.storage, lake.pipeline, QuerySettings())
    session = LakeSession(config, sandboxed=True)
    seen: dict[int, float] = {}
    written: dict[int, float] = {}
    stop = threading.Event()

    def writer() -> None:
        lsn = start_lsn
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
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per query and side (median reported)")
    ap.add_argument("--unmerged", type=int, default=20, help="raw CDC files of 1000 order updates for the "
                    "real-time run (20 = 20 s of changes at 1k/s that curate has not merged yet)")
    ap.add_argument("--freshness-s", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=1000, help="changes per second for the freshness run")
    ap.add_argument("--files", type=int, default=1, help="Delta files per table of over a million rows")
    ap.add_argument("--hot", type=float, default=1.0, help="the unmerged updates hit the newest HOT share of the "
                    "orders (the simulator updates recent orders; 1.0 = any order, the worst case)")
    ap.add_argument("--ceiling", action="store_true", help="also time the queries on DuckDB in-memory copies of "
                    "the tables: the best any lake file layout could do with DuckDB on this machine")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="autocorp-bench-query-"))
    cfg = EmbeddedSettings(port=embedded.free_port(), extra=PG_SETTINGS)
    state, _ = embedded.start(root / "pg", cfg)
    try:
        dsn = state.url("postgres")
        schema.apply_schema(dsn)
        t0 = time.time()
        tables = synth(args.lines)
        load_source(dsn, tables)
        lake = load_lake(str(root / "lake"), tables, args.files)
        lines = tables["sales_order_parts"].num_rows + tables["sales_order_services"].num_rows
        print(f"built {lines:,} order lines ({tables['sales_order'].num_rows:,} orders) in PostgreSQL and the "
              f"lake in {time.time() - t0:.0f} s; PostgreSQL {PG_SETTINGS}, DuckDB threads "
              f"{os.cpu_count()}; median of {args.repeat} alternating runs after a warm-up", flush=True)
        config = LakeConfig(lake.storage, lake.pipeline, QuerySettings(memory_limit="4GB"))
        print("\n-- every change merged (the real-time views are the Delta tables)")
        with closing(LakeSession(config)) as session:
            merged = compare(session, dsn, args.repeat)
        if args.ceiling:
            print("\n-- ceiling: the same rows in DuckDB in-memory tables (no files), same PostgreSQL times")
            ceiling(lake, merged, args.repeat)
        start_lsn = 1000
        if args.unmerged:
            n = add_unmerged(lake, dsn, tables["sales_order"], args.unmerged, 1000, args.hot)
            start_lsn = 1000 * (args.unmerged + 2)
            print(f"\n-- real-time views: {n:,} order updates (newest {args.hot:.0%} of the orders) in "
                  f"{args.unmerged} raw files not merged yet (PostgreSQL has them too)")
            with closing(LakeSession(config)) as session:
                compare(session, dsn, args.repeat)
        lat = freshness(lake, args.freshness_s, args.rate, start_lsn)
        if lat:
            print(f"\nreal-time view freshness at {args.rate} changes/s over {len(lat)} flushes: "
                  f"p50 {np.percentile(lat, 50):.2f} s, p95 {np.percentile(lat, 95):.2f} s")
    finally:
        embedded.stop(root / "pg")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
