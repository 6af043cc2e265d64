"""Decoder benchmark (issue 3): pgoutput decode, decode + TableBatch + to_table, and raw rows + to_table.

    .venv/bin/python bench/decode.py                 # 20k real changes, replayed to 300k
    .venv/bin/python bench/decode.py --txn-rows 1           # one insert per transaction
    .venv/bin/python bench/decode.py --changes 500000 --dsn postgresql://postgres@127.0.0.1:5432/x

Captures real pgoutput messages for a sales_order-like table (9 columns: bigint, timestamptz,
varchar, text, numeric(12,2)) from PostgreSQL 18 with ``pg_logical_slot_get_binary_changes``,
replays them and prints changes/s (best of --repeat runs). The baseline measured in the same
run is PostgreSQL's own pgoutput rate (``pg_logical_slot_peek_binary_changes`` of the same
slot), which bounds what pg_recvlogical can stream. Starts its own embedded cluster unless --dsn
is given. Not a timed test.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autocorp.capture.batch import TableBatch
from autocorp.capture.pgoutput import Begin, Delete, Insert, Relation, Update, decode
from autocorp.settings import EmbeddedSettings
from autocorp.source import embedded
from autocorp.source.connect import connection, with_database

DDL = """
CREATE TABLE bench_sales_order (
    order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, order_date timestamptz NOT NULL,
    invoice_number varchar(20) NOT NULL, payment_method text NOT NULL, total_amount numeric(12,2) NOT NULL,
    order_type varchar(10) NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)
"""
INSERT = """
INSERT INTO bench_sales_order
SELECT g, 1 + g %% 5000, now() - g * interval '37 seconds', 'INV-2026-' || g,
       (ARRAY['Credit Card','Debit Card','Cash','Check','Financing','Gift Card'])[1 + g %% 6],
       round((random() * 5000)::numeric, 2), (ARRAY['Parts','Service','Mixed'])[1 + g %% 3],
       clock_timestamp(), clock_timestamp()
FROM generate_series(%s, %s) g
"""
PEEK = ("SELECT data FROM pg_logical_slot_{}_binary_changes(%s, NULL, NULL, 'proto_version', '1', "
        "'publication_names', 'bench_p')")
FLUSH_ROWS = 50_000  # rows per to_table, like the writer's max rows per file


@contextmanager
def database(dsn: str | None) -> Iterator[str]:
    """The given DSN, or a fresh database in a throwaway embedded cluster."""
    if dsn:
        yield dsn
        return
    root = Path(tempfile.mkdtemp(prefix="autocorp-bench-decode-"))
    cfg = EmbeddedSettings(port=embedded.free_port(), extra={"fsync": "off"})
    try:
        state, _ = embedded.start(root / "pg", cfg)
        with connection(state.url("postgres"), autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE bench")
        yield with_database(state.url("postgres"), "bench")
    finally:
        embedded.stop(root / "pg")
        shutil.rmtree(root, ignore_errors=True)


def capture(dsn: str, rows: int, txn_rows: int) -> tuple[list[bytes], float]:
    """Make ``rows`` inserts (``txn_rows`` per transaction) + rows/5 updates + rows/10 deletes; return their
    pgoutput messages and the server-side pgoutput rate (changes/s of a peek of the same slot)."""
    slot = f"bench_{uuid.uuid4().hex[:8]}"
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_sales_order; DROP PUBLICATION IF EXISTS bench_p")
        cur.execute(DDL)
        cur.execute("CREATE PUBLICATION bench_p FOR TABLE bench_sales_order")
        cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
        cur.execute("SET synchronous_commit = on")  # the SQL functions read flushed WAL only
        for lo in range(1, rows + 1, txn_rows):
            cur.execute(INSERT, (lo, min(rows, lo + txn_rows - 1)))
        cur.execute("UPDATE bench_sales_order SET updated_at = clock_timestamp(), total_amount = total_amount + 1 "
                    "WHERE order_id % 5 = 0")
        cur.execute("DELETE FROM bench_sales_order WHERE order_id % 10 = 1")
        started = time.perf_counter()
        cur.execute(PEEK.format("peek"), (slot,))
        server = time.perf_counter() - started
        messages = [bytes(r[0]) for r in cur.fetchall()]
        cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    changes = sum(1 for m in messages if m[:1] in (b"I", b"U", b"D"))
    return messages, changes / server


def decode_only(messages: list[bytes]) -> int:
    changes = 0
    for m in messages:
        if isinstance(decode(m), Insert | Update | Delete):
            changes += 1
    return changes


def decode_and_batch(messages: list[bytes]) -> int:
    """The replication loop's work minus I/O: decode, append per table, to_table every FLUSH_ROWS rows."""
    batches: dict[int, TableBatch] = {}
    begin: Begin | None = None
    seq = changes = 0
    for m in messages:
        msg = decode(m)
        kind = type(msg)
        if kind is Insert or kind is Update:
            batch = batches[msg.relid]  # type: ignore[union-attr]
            batch.append("I" if kind is Insert else "U", begin.commit_ts, begin.final_lsn, seq,  # type: ignore[union-attr]
                         begin.xid, msg.new)  # type: ignore[union-attr]
        elif kind is Delete:
            batch = batches[msg.relid]  # type: ignore[union-attr]
            batch.append("D", begin.commit_ts, begin.final_lsn, seq, begin.xid, msg.old)  # type: ignore[union-attr]
        elif kind is Begin:
            begin, seq = msg, 0  # type: ignore[assignment]
            continue
        elif kind is Relation:
            batches[msg.oid] = TableBatch(msg, msg.key_columns)  # type: ignore[union-attr]
            continue
        else:
            continue
        seq += 1
        changes += 1
        if len(batch) >= FLUSH_ROWS:
            batch.to_table()
    for batch in batches.values():
        batch.to_table()
    return changes


def raw_and_batch(messages: list[bytes]) -> int:
    """What the replication loop does now: row messages kept raw (``append_raw``), parsed per batch."""
    batches: dict[int, TableBatch] = {}
    begin: Begin | None = None
    seq = changes = 0
    ops = {73: "I", 85: "U", 68: "D"}
    for m in messages:
        kind = m[0]
        op = ops.get(kind)
        if op is not None and (kind != 85 or m[5] == 78):
            batch = batches[int.from_bytes(m[1:5], "big")]
            batch.append_raw(op, begin.commit_ts, begin.final_lsn, seq, begin.xid, m)  # type: ignore[union-attr]
            seq += 1
            changes += 1
            if len(batch) >= FLUSH_ROWS:
                batch.to_table()
            continue
        msg = decode(m)
        if isinstance(msg, Begin):
            begin, seq = msg, 0
        elif isinstance(msg, Relation):
            batches[msg.oid] = TableBatch(msg, msg.key_columns)
    for batch in batches.values():
        batch.to_table()
    return changes


def best_rate(work, messages: list[bytes], repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        changes = work(messages)
        best = max(best, changes / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="database to use (default: a throwaway embedded cluster)")
    parser.add_argument("--rows", type=int, default=15_000, help="rows inserted to capture real messages")
    parser.add_argument("--changes", type=int, default=300_000, help="changes replayed per timed run")
    parser.add_argument("--txn-rows", type=int, default=1000, help="inserted rows per transaction")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with database(args.dsn) as dsn:
        captured, server_rate = capture(dsn, args.rows, args.txn_rows)
    real = sum(1 for m in captured if m[:1] in (b"I", b"U", b"D"))
    relation = next(m for m in captured if m[:1] == b"R")
    body = [m for m in captured if m[:1] != b"R"]
    messages = [relation] + body * max(1, round(args.changes / real))
    total = sum(1 for m in messages if m[:1] in (b"I", b"U", b"D"))
    print(f"captured {len(captured)} pgoutput messages ({real} changes), replaying {total} changes")
    decode_rate = best_rate(decode_only, messages, args.repeat)
    batch_rate = best_rate(decode_and_batch, messages, args.repeat)
    raw_rate = best_rate(raw_and_batch, messages, args.repeat)
    print(f"PostgreSQL pgoutput (peek, same slot):  {server_rate:>10,.0f} changes/s   (baseline)")
    print(f"decode only:                            {decode_rate:>10,.0f} changes/s   "
          f"{decode_rate / server_rate:.2f}x baseline")
    print(f"decode + TableBatch + to_table:         {batch_rate:>10,.0f} changes/s   "
          f"{batch_rate / server_rate:.2f}x baseline, {batch_rate / 150_000:.2f}x the 150k/s target")
    print(f"raw rows + TableBatch + to_table:       {raw_rate:>10,.0f} changes/s   "
          f"{raw_rate / server_rate:.2f}x baseline (the replication loop's path)")


if __name__ == "__main__":
    main()
