"""Benchmark: source-commit -> curated-commit latency of `autocorp run` (issue 4), per sales_order size.

For each size N it creates a fresh database in its own PostgreSQL 18 (embedded wheel, temp folder, free
port), loads the catalog, bulk-fills ``sales_order`` to N orders (+ part and service lines, one SQL
statement per million orders), starts ``run_pipeline`` (capture worker + curate merges on the default
cadence: every ``curate.merge_interval_s`` or ``curate.merge_max_changes``), waits until the full load
is curated, then runs the order simulator at ``--rate`` row changes/s for ``--minutes``.

After the run, latency is measured from what the lake recorded, for EVERY captured change of the three
order tables: its source commit time is the ``_commit_ts`` the raw zone stores; its curated time is the
timestamp of the first Delta commit of that table whose ``autocorp.lsn_to`` (the txn LSN) is >= the
change's ``_lsn``. The capture share is the raw file's mtime minus ``_commit_ts``. Target: p95 <= 60 s.

    .venv/bin/python bench/run_latency.py [--sizes 100000,1000000,10000000] [--minutes 5] [--rate 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from autocorp.capture import slot as slots
from autocorp.curate.merge import CuratedTable
from autocorp.curate.runner import Curate
from autocorp.lake import layout
from autocorp.lake.checkpoint import read_checkpoint
from autocorp.lake.rawzone import committed_cdc_files
from autocorp.lake.storage import Storage
from autocorp.pipeline import RunTick, run_pipeline
from autocorp.settings import CaptureSettings, CurateSettings, EmbeddedSettings, LakeSettings, Settings
from autocorp.source import embedded, schema
from autocorp.source.connect import connection, with_database
from autocorp.source.generate import generate
from autocorp.source.load import load_seed_data
from autocorp.source.simulate import simulate

TARGET_P95_S = 60.0
ORDER_TABLES = ("sales_order", "sales_order_parts", "sales_order_services")
FILL_CHUNK = 1_000_000
WAL = {"max_wal_size": "8GB", "min_wal_size": "1GB", "checkpoint_timeout": "15min",
       "synchronous_commit": "off", "max_connections": "50"}

FILL_SQL = """
WITH cat AS (
    SELECT (SELECT array_agg(customer_id ORDER BY customer_id) FROM customers) AS cust,
           (SELECT array_agg(sku ORDER BY sku) FROM auto_parts) AS skus,
           (SELECT array_agg(unit_price ORDER BY sku) FROM auto_parts) AS prices,
           (SELECT array_agg(serviceid ORDER BY serviceid) FROM service) AS sids,
           (SELECT array_agg(labor_minutes ORDER BY serviceid) FROM service) AS mins,
           (SELECT array_agg(labor_cost ORDER BY serviceid) FROM service) AS costs),
src AS (
    SELECT g, timestamptz '2023-01-01' + g * interval '5 seconds' AS ts,
           (ARRAY['Parts', 'Service', 'Mixed'])[1 + g %% 3] AS kind, 1 + g %% 4 AS qty,
           cust[1 + (g * 7919) %% cardinality(cust)] AS customer_id,
           1 + (g * 104729) %% cardinality(skus) AS p, 1 + (g * 15485863) %% cardinality(sids) AS s,
           skus, prices, sids, mins, costs
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g, cat),
so AS (
    INSERT INTO sales_order (order_id, customer_id, order_date, invoice_number, payment_method, total_amount,
                             order_type, created_at, updated_at)
    SELECT g, customer_id, ts, 'INV-2023-' || lpad(g::text, 8, '0'),
           (ARRAY['Credit Card', 'Debit Card', 'Cash', 'Check', 'Financing', 'Gift Card'])[1 + g %% 6],
           CASE WHEN kind <> 'Service' THEN qty * prices[p] ELSE 0 END
             + CASE WHEN kind <> 'Parts' THEN costs[s] ELSE 0 END, kind, ts, ts
    FROM src),
sp AS (
    INSERT INTO sales_order_parts (order_id, sku, quantity, unit_price, line_total, created_at, updated_at)
    SELECT g, skus[p], qty, prices[p], qty * prices[p], ts, ts FROM src WHERE kind <> 'Service')
INSERT INTO sales_order_services (order_id, serviceid, labor_minutes, labor_cost, parts_cost, line_total,
                                  created_at, updated_at)
SELECT g, sids[s], mins[s], costs[s], 0, costs[s], ts, ts FROM src WHERE kind <> 'Parts'
"""


@dataclass
class Latency:
    """Latency figures of one table (seconds)."""

    table: str
    changes: int
    p50: float
    p95: float
    max: float
    capture_p50: float
    capture_p95: float


@dataclass
class SizeResult:
    size: int
    fill_s: float
    ready_s: float
    sim_changes: int
    sim_rate: float
    capture_rate: float
    merges: list[float] = field(default_factory=list)
    table_merges: list[float] = field(default_factory=list)
    model_builds: list[float] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)


# -- the source ---------------------------------------------------------------------------------
def prepare_source(server: str, root: Path, size: int) -> tuple[str, float]:
    """A fresh database with the schema, the catalog and ``size`` orders; returns (dsn, fill seconds)."""
    name = f"autocorp_{size}"
    schema.ensure_database(server, name)
    dsn = with_database(server, name)
    schema.apply_schema(dsn)
    seeds = root / "seed"
    if not (seeds / "auto-parts.csv").exists():
        generate(seeds, customers=20_000, orders=10)
    load_seed_data(dsn, seeds)
    t0 = time.monotonic()
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # rows are consistent by construction: skip FK checks
        for lo in range(1, size + 1, FILL_CHUNK):
            cur.execute(FILL_SQL, {"lo": lo, "hi": min(lo + FILL_CHUNK - 1, size)})
        cur.execute("SELECT setval(pg_get_serial_sequence('sales_order', 'order_id'), %s)", (size,))
        for t in ORDER_TABLES[1:]:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'line_id'), max(line_id)) FROM {t}")
        cur.execute("VACUUM ANALYZE")
    return dsn, time.monotonic() - t0


def drop_source(server: str, dsn: str, settings: Settings, size: int) -> None:
    """Drop the slot and the database so the next size starts clean (and WAL is released)."""
    slots.drop_slot(dsn, settings.slot_name)
    with connection(server, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "autocorp_{size}" WITH (FORCE)')


# -- one run ------------------------------------------------------------------------------------
def bench_settings(root: Path, size: int, models: bool) -> Settings:
    name = f"bench_{size}"
    return Settings(env="dev", home=root / f"home_{size}", lake=LakeSettings(root=str(root / f"lake_{size}")),
                    capture=CaptureSettings(slot=name, publication=name), curate=CurateSettings(models=models))


class Recorder:
    """on_tick callback: keeps the latest tick and every merge report after ``since`` is set."""

    def __init__(self) -> None:
        self.tick = RunTick()
        self.since: float | None = None
        self.merges: list[float] = []
        self.table_merges: list[float] = []
        self.model_builds: list[float] = []
        self._seen = 0

    def __call__(self, tick: RunTick) -> None:
        self.tick = tick
        if tick.merges != self._seen and tick.last_report is not None:
            self._seen = tick.merges
            if self.since is not None:
                self.merges.append(tick.last_report.seconds)
                self.table_merges += [t.seconds for t in tick.last_report.tables if t.table in ORDER_TABLES]
                if tick.last_report.models:
                    self.model_builds.append(sum(m.seconds for m in tick.last_report.models))


def wait_until(what: str, ready: object, timeout: float, failed: threading.Event) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if failed.is_set():
            raise RuntimeError(f"autocorp run stopped while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def run_once(dsn: str, settings: Settings, args: argparse.Namespace, result: SizeResult) -> None:
    """run_pipeline in a thread; the simulator once the full load is curated; stop after the last merge."""
    stop, rec, errors = threading.Event(), Recorder(), []

    def runner() -> None:
        try:
            run_pipeline(settings, dsn, stop, rec)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            stop.set()

    thread = threading.Thread(target=runner, name="autocorp-run", daemon=True)
    t0 = time.monotonic()
    thread.start()
    curate = Curate(settings)
    try:
        wait_until("the full load to be curated", lambda: all(curate.table_lsn(t) is not None for t in ORDER_TABLES),
                   3600, stop)
        result.ready_s = time.monotonic() - t0
        print(f"  full load captured and curated in {result.ready_s:.1f} s; simulating {args.minutes} min")
        rec.since = time.monotonic()
        base = rec.tick.captured
        sim = simulate(dsn, rate=args.rate, duration=args.minutes * 60, seed=size_seed(result.size))
        result.sim_changes, result.sim_rate = sim.row_changes, sim.row_changes_per_s
        wait_until("capture to catch up", lambda: rec.tick.captured - base >= sim.row_changes, 600, stop)
        result.capture_rate = (rec.tick.captured - base) / (time.monotonic() - rec.since)
        merges = rec.tick.merges
        wait_until("a merge after capture caught up", lambda: rec.tick.merges >= merges + 2, 600, stop)
    finally:
        stop.set()
        thread.join()
    if errors:
        raise errors[0]
    result.merges, result.table_merges, result.model_builds = rec.merges, rec.table_merges, rec.model_builds


def size_seed(size: int) -> int:
    return 7 + size % 1000


# -- measuring ----------------------------------------------------------------------------------
def commit_times(curate: Curate, table: str) -> tuple[np.ndarray, np.ndarray]:
    """(lsn_to, commit time in s) of the table's curate commits in version order, lsn_to made non-decreasing."""
    target = CuratedTable(curate.storage.uri(layout.curated_table(table)), curate.storage.storage_options())
    rows = sorted((c["version"], int(c["autocorp.lsn_to"]), c["timestamp"] / 1000) for c in target.history()
                  if c.get("autocorp.lsn_to") is not None)
    lsn_to = np.maximum.accumulate(np.array([r[1] for r in rows], dtype=np.int64))
    return lsn_to, np.array([r[2] for r in rows])


def table_latency(curate: Curate, table: str) -> Latency | None:
    """Latency of every committed CDC change of ``table`` (see the module docstring)."""
    ckpt = read_checkpoint(curate.storage, curate.pipeline)
    assert ckpt is not None
    lsns, commits, seen = [], [], []
    for f in committed_cdc_files(curate.storage, "public", table, above=-1, upto=ckpt.lsn):
        path = curate.storage.path(f.path)
        cols = pq.read_table(path, columns=["_lsn", "_commit_ts"])
        lsns.append(cols.column("_lsn").to_numpy())
        commits.append(cols.column("_commit_ts").cast("int64").to_numpy() / 1e6)
        seen.append(np.full(cols.num_rows, os.stat(path).st_mtime))
    if not lsns:
        return None
    lsn, committed, raw_at = np.concatenate(lsns), np.concatenate(commits), np.concatenate(seen)
    lsn_to, curated_at = commit_times(curate, table)
    idx = np.searchsorted(lsn_to, lsn, side="left")
    if (idx >= len(lsn_to)).any():
        raise RuntimeError(f"{(idx >= len(lsn_to)).sum()} changes of {table} never reached the curated table")
    lat, cap = curated_at[idx] - committed, raw_at - committed
    return Latency(table, len(lat), *np.percentile(lat, [50, 95]), float(lat.max()), *np.percentile(cap, [50, 95]))


def measure(settings: Settings) -> list[Latency]:
    curate = Curate(settings)
    return [lat for t in ORDER_TABLES if (lat := table_latency(curate, t)) is not None]


# -- raw-zone listing: what one curate run lists as the raw zone grows ---------------------------
def bench_listing(root: Path, days: int, per_day: int) -> None:
    """Time listing a table's unmerged CDC files in a raw folder of ``days`` x ``per_day`` files.

    Baseline (same run): a recursive listing of the whole table folder, which is what every curate run
    did before it listed only the date folders from the day of the table's committed LSN on.
    """
    storage = Storage(str(root / "lake_listing"))
    start, lsn = datetime(2026, 1, 1, tzinfo=UTC), 0x1000000
    for i in range(days * per_day):
        lsn += 0x100
        rel = layout.cdc_file("public", "t", start + timedelta(seconds=i * 86400 / per_day), lsn)
        path = Path(storage.path(rel))  # empty files, no fsync: listing never opens them
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    merged = lsn - 0x100 * (per_day // 2)  # half of the last day still to merge
    t0 = time.perf_counter()
    every = [f for f in storage.list_files(layout.raw_table_dir("public", "t"), ".parquet")
             if merged < (layout.cdc_file_lsn(f) or 0) <= lsn]
    full_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = committed_cdc_files(storage, "public", "t", above=merged, upto=lsn)
    ours_s = time.perf_counter() - t0
    assert sorted(every) == sorted(f.path for f in ours), "both listings must find the same unmerged files"
    print(f"== raw listing, {days} days x {per_day:,} files: whole folder {full_s * 1000:.0f} ms, "
          f"date folders from the committed day {ours_s * 1000:.0f} ms ({len(ours):,} unmerged files), "
          f"ratio {ours_s / full_s:.2f}x")


# -- reporting ----------------------------------------------------------------------------------
def pct(values: list[float]) -> str:
    if not values:
        return "n/a"
    p50, p95 = np.percentile(values, [50, 95])
    return f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(values):.2f} s (n={len(values)})"


def report(r: SizeResult) -> None:
    print(f"== sales_order {r.size:,} rows: fill {r.fill_s:.1f} s, full load to curated {r.ready_s:.1f} s")
    print(f"  simulator: {r.sim_changes:,} row changes at {r.sim_rate:,.0f}/s; capture: {r.capture_rate:,.0f} "
          "changes/s over the simulation + catch-up")
    print(f"  merge runs (run_once, all tables): {pct(r.merges)}")
    print(f"  merge per order table: {pct(r.table_merges)}")
    print(f"  analytics models rebuilt inside a merge run (every curate.models_interval_s): {pct(r.model_builds)}")
    for lat in r.latencies:
        print(f"  {lat.table:<21} {lat.changes:>7,} changes  latency p50 {lat.p50:6.2f} s  p95 {lat.p95:6.2f} s "
              f"(ratio to target {lat.p95 / TARGET_P95_S:.2f}x)  max {lat.max:6.2f} s  "
              f"| capture share p50 {lat.capture_p50:.2f} s p95 {lat.capture_p95:.2f} s")


def summary(results: list[SizeResult]) -> None:
    print("\n| sales_order rows | changes | latency p50 | p95 | max | p95 / 60 s target | capture p95 | "
          "merge run p50 / p95 / max |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        so = next(lat for lat in r.latencies if lat.table == "sales_order")
        worst = max(r.latencies, key=lambda lat: lat.p95)
        m50, m95 = np.percentile(r.merges, [50, 95]) if r.merges else (float("nan"),) * 2
        print(f"| {r.size:,} | {sum(lat.changes for lat in r.latencies):,} | {so.p50:.1f} s | {so.p95:.1f} s "
              f"(worst table {worst.p95:.1f} s) | {max(lat.max for lat in r.latencies):.1f} s | "
              f"{worst.p95 / TARGET_P95_S:.2f}x | {max(lat.capture_p95 for lat in r.latencies):.1f} s | "
              f"{m50:.1f} / {m95:.1f} / {max(r.merges, default=float('nan')):.1f} s |")


def bench_size(server: str, root: Path, size: int, args: argparse.Namespace) -> SizeResult:
    print(f"-- {size:,} orders: filling the source")
    dsn, fill_s = prepare_source(server, root, size)
    result = SizeResult(size, fill_s, 0.0, 0, 0.0, 0.0)
    settings = bench_settings(root, size, args.models)
    try:
        run_once(dsn, settings, args, result)
        result.latencies = measure(settings)
    finally:
        drop_source(server, dsn, settings, size)
    report(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,10000000",
                        help="comma-separated sales_order sizes ('' for none)")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="row changes/s of the simulator")
    parser.add_argument("--no-models", dest="models", action="store_false",
                        help="skip the analytics models (default: on, as `autocorp run` does)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (cluster and lakes)")
    parser.add_argument("--listing", default="10x8640", help="raw listing check: DAYSxFILES_PER_DAY, or 'off'")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-run-latency-"))
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        results = run_sizes(root, sizes, args) if sizes else []
        if args.listing != "off":
            days, per_day = (int(x) for x in args.listing.split("x"))
            bench_listing(root, days, per_day)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if results:
        summary(results)


def run_sizes(root: Path, sizes: list[int], args: argparse.Namespace) -> list[SizeResult]:
    """Start the cluster, bench every size, stop the cluster."""
    cfg = EmbeddedSettings(port=embedded.free_port(), extra=WAL)
    state, _ = embedded.start(root / "pg", cfg)
    print(f"PostgreSQL 18 on port {state.port}, temp folder {root}")
    try:
        return [bench_size(state.url("postgres"), root, size, args) for size in sizes]
    finally:
        embedded.stop(root / "pg")


if __name__ == "__main__":
    main()
