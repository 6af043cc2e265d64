"""Crash stress for capture: kill -9 `autocorp capture --follow` at random moments under a steady writer.

    .venv/bin/python bench/capture_crash.py --kills 50 --changes 500000

Starts its own PostgreSQL; afterwards checks that the committed raw zone holds every change exactly
once: unique (_lsn, _seq), row count == changes made, table rebuilt from the raw zone == source.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds

from autocorp.capture import slot as slots
from autocorp.lake import layout
from autocorp.lake.checkpoint import read_checkpoint
from autocorp.lake.storage import Storage
from autocorp.settings import EmbeddedSettings
from autocorp.source import embedded
from autocorp.source.connect import connection


def writer(dsn: str, target: int, stop: threading.Event, counter: list[int]) -> None:
    rng, next_id = random.Random(3), 1
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        while counter[0] < target and not stop.is_set():
            n, op = rng.randint(1, 400), rng.random()
            lo = rng.randrange(1, max(2, next_id - n))
            if op < 0.5:
                cur.execute("INSERT INTO ev SELECT g, g %% 97 FROM generate_series(%s, %s) g",
                            (next_id, next_id + n - 1))
                next_id += n
            elif op < 0.85:
                cur.execute("UPDATE ev SET v = v + 1 WHERE id BETWEEN %s AND %s", (lo, lo + n - 1))
            else:
                cur.execute("DELETE FROM ev WHERE id BETWEEN %s AND %s", (lo, lo + n - 1))
            counter[0] += cur.rowcount
            time.sleep(0.002)


def check(dsn: str, lake: str, slot: str, changes: int) -> None:
    storage = Storage(lake)
    cp = read_checkpoint(storage, slot)
    assert cp is not None
    files = [storage.path(f) for f in storage.list_files(layout.raw_table_dir("public", "ev"), ".parquet")
             if (layout.cdc_file_lsn(f) or 0) <= cp.lsn or layout.is_load_file(f)]
    t = ds.dataset(files, format="parquet").to_table().sort_by([("_lsn", "ascending"), ("_seq", "ascending")])
    keys = pc.add(pc.multiply(t["_lsn"], 1 << 20), t["_seq"])
    unique = len(pc.unique(keys))
    state: dict[int, int] = {}
    for op, k, v in zip(t["Op"].to_pylist(), t["id"].to_pylist(), t["v"].to_pylist(), strict=True):
        if op == "D":
            state.pop(k, None)
        else:
            state[k] = v
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, v FROM ev")
        source = dict(cur.fetchall())
    print(f"raw rows {t.num_rows:,}, unique (_lsn,_seq) {unique:,}, changes made {changes:,}, "
          f"rebuild == source: {state == source}")
    assert unique == t.num_rows == changes and state == source, "EXACTLY-ONCE VIOLATED"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=50)
    p.add_argument("--changes", type=int, default=500_000)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="autocorp-bench-crash-"))
    state, _ = embedded.start(root / "pg", EmbeddedSettings(port=embedded.free_port(),
                                                            extra={"synchronous_commit": "off"}))
    dsn, lake, slot = state.url("postgres"), str(root / "lake"), "crash"
    env = {**os.environ, "AUTOCORP_SOURCE__DSN": dsn, "AUTOCORP_SOURCE__DATABASE": "postgres",
           "AUTOCORP_LAKE__ROOT": lake, "AUTOCORP_CAPTURE__SLOT": slot, "AUTOCORP_CAPTURE__PUBLICATION": slot,
           "AUTOCORP_CAPTURE__FLUSH_INTERVAL_S": "0.05", "AUTOCORP_CAPTURE__FLUSH_MAX_ROWS": "5000"}
    cmd = [sys.executable, "-c", "from autocorp.cli.main import main; main()", "capture"]
    try:
        with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE ev (id bigint PRIMARY KEY, v int)")
        subprocess.run(cmd, env=env, check=True, capture_output=True)  # empty full load
        stop, counter = threading.Event(), [0]
        w = threading.Thread(target=writer, args=(dsn, args.changes, stop, counter), daemon=True)
        w.start()
        rng = random.Random(5)
        for i in range(args.kills):
            proc = subprocess.Popen([*cmd, "--follow"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.2, 4.0))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            print(f"kill {i + 1}/{args.kills}: {counter[0]:,} changes so far", flush=True)
        stop.set()
        w.join()
        subprocess.run([*cmd, "--until-caught-up"], env=env, check=True, capture_output=True)
        check(dsn, lake, slot, counter[0])
        slots.drop_slot(dsn, slot)
    finally:
        embedded.stop(root / "pg")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
