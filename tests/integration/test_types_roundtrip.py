"""Real pgoutput bytes from PostgreSQL 18, decoded and batched, read back equal to the source table.

Messages come from ``pg_logical_slot_get_binary_changes`` on a pgoutput slot (one row = one
message). The calling session sets the capture GUCs, since the plugin then runs in it.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from autocorp.capture import arrowcopy
from autocorp.capture.batch import REASON_KEY, TableBatch
from autocorp.capture.pgoutput import (
    UNCHANGED,
    Begin,
    Commit,
    Delete,
    Insert,
    Relation,
    Truncate,
    TypeMsg,
    Update,
    decode,
)
from autocorp.capture.slot import PublishedTable
from autocorp.capture.snapshot import LoadResult, Snapshot, load_table
from autocorp.lake import layout
from autocorp.lake.storage import Storage
from autocorp.source.connect import connection

TYPES_DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE types_rt (
    id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
    n12 numeric(12,2), n38 numeric(38,10), n50 numeric(50,5), nu numeric,
    t text, vc varchar(20), ch char(5), u uuid, j json, jb jsonb, by bytea,
    d date, tm time, ts timestamp, tstz timestamptz, iv interval,
    ai int4[], at text[], an numeric(10,2)[], ad date[], ab bool[], aby bytea[], atz timestamptz[],
    mo mood, dom posint
);
"""

ROWS = [
    # id, b, i2, i4, i8, f4, f8, n12, n38, n50, nu, t, vc, ch, u, j, jb, by, d, tm, ts, tstz, iv,
    # ai, at, an, ad, ab, aby, atz, mo, dom
    "(1, true, -32768, -2147483648, -9223372036854775808, 'NaN', 'Infinity', -9999999999.99,"
    " '1234567890123456789012345678.9012345678', '123456789012345678901234567890123456789012345.12345', 'NaN',"
    " E'caf\\u00e9 \"quoted\" back\\\\slash ''apos'' \\n newline \U0001F600', 'x,y{z}', 'ab',"
    " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, 2.5, null, \"s\"]}', '{\"b\": 1, \"a\": \"\u00e9\"}',"
    " '\\x00ff0a5c00', '2026-11-26', '00:00:00', '2026-11-26 07:00:00.123456', '2026-11-26 07:00:00.5+02',"
    " 'P1Y2M3DT4H5M6.789S', '{1,NULL,-3}', ARRAY['a b', NULL, 'NULL', 'q\"uote', 'back\\slash', '', '{x,y}'],"
    " '{1.50,NULL,-2}', '{2026-01-01,NULL}', '{t,f,NULL}', ARRAY['\\x00'::bytea, NULL, '\\xdeadbeef'],"
    " '{\"2026-11-26 07:00:00+00\",NULL}', 'happy', 7)",
    "(2, false, 32767, 2147483647, 9223372036854775807, '-Infinity', 'NaN', 0, -0.0000000001,"
    " '-99999999999999999999999999999999999999999999.99999', '1e-30', '', '', '', NULL, 'null', '[]', '\\x',"
    " '0044-03-15 BC', '23:59:59.999999', '4713-01-01 00:00:00 BC', '1900-01-01 00:00:00+00',"
    " '-1 day', '{}', '{}', '{}', '{}', '{}', '{}', '{}', 'sad', 1)",
    "(3, NULL, NULL, NULL, NULL, '3.4028235e+38', '-1.7976931348623157e+308', NULL, NULL, NULL, "
    " '123456789012345678901234567890.123456789', NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " '5874897-12-31', NULL, '12345-06-07 08:09:10', '9999-12-31 23:59:59.999999+00', NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(4, true, 0, 0, 0, '1.17549435e-38', '5e-324', 0.01, 0, 0, '-Infinity', 'plain', 'v', 'c',"
    " '00000000-0000-0000-0000-000000000000', '1', '\"s\"', '\\x01', '1970-01-01', '12:34:56.5',"
    " '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999+00', 'PT0S', '{0}', '{\"\"}', '{0.00}', '{0001-01-01}',"
    " '{f}', '{\"\\\\x\"}', '{}', 'ok', 2147483647)",
]

# per column: the SQL expression psycopg2 reads as the expected value, and how to compare
EPOCH_US = "(extract(epoch from {c}) * 1000000)::numeric"
EXPECTED_SQL = {
    "d": "({c} - date '1970-01-01')", "tm": EPOCH_US, "ts": EPOCH_US, "tstz": EPOCH_US,
    "iv": "{c}::text", "j": "{c}::text", "jb": "{c}::text", "mo": "{c}::text", "dom": "{c}::text",
    "nu": "{c}::text",
    "ad": "CASE WHEN {c} IS NOT NULL THEN COALESCE((SELECT array_agg(e - date '1970-01-01' ORDER BY o) "
          "FROM unnest({c}) WITH ORDINALITY AS x(e, o)), '{{}}') END",
    "atz": "CASE WHEN {c} IS NOT NULL THEN COALESCE((SELECT array_agg((extract(epoch from e) * 1000000)::numeric "
           "ORDER BY o) FROM unnest({c}) WITH ORDINALITY AS x(e, o)), '{{}}') END",
}


@pytest.fixture()
def slot_db(empty_db: str) -> Iterator[tuple[str, str]]:
    """A database with a FOR ALL TABLES publication and a pgoutput slot; yields (dsn, slot)."""
    slot = f"s_{uuid.uuid4().hex[:10]}"
    with connection(empty_db, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE PUBLICATION p FOR ALL TABLES")
        cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    yield empty_db, slot
    with connection(empty_db, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                    (slot,))


@contextmanager
def writing(dsn: str) -> Iterator[Any]:
    """A cursor in one transaction whose commit flushes WAL (the test cluster runs synchronous_commit=off
    and the SQL decoding functions only read flushed WAL)."""
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("SET synchronous_commit = on")
        yield cur


def changes(dsn: str, slot: str) -> list[Any]:
    """Decode every pending pgoutput message of ``slot`` (the session's GUCs are the capture ones)."""
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT data FROM pg_logical_slot_get_binary_changes(%s, NULL, NULL, 'proto_version', '1', "
                    "'publication_names', 'p')", (slot,))
        return [decode(bytes(row[0])) for row in cur.fetchall()]


def batches(messages: list[Any]) -> dict[str, TableBatch]:
    """Feed messages into one TableBatch per table, the way the replication loop does."""
    out: dict[str, TableBatch] = {}
    by_oid: dict[int, TableBatch] = {}
    begin: Begin | None = None
    seq = 0
    for msg in messages:
        if isinstance(msg, Begin):
            begin, seq = msg, 0
        elif isinstance(msg, Relation):
            batch = by_oid[msg.oid] = out[msg.table] = TableBatch(msg, msg.key_columns)
        elif isinstance(msg, Insert | Update | Delete):
            assert begin is not None
            batch = by_oid[msg.relid]
            op = {Insert: "I", Update: "U", Delete: "D"}[type(msg)]
            values = msg.old if isinstance(msg, Delete) else msg.new
            batch.append(op, begin.commit_ts, begin.final_lsn, seq, begin.xid, values)
            seq += 1
    return out


def test_every_type_round_trips(slot_db: tuple[str, str]) -> None:
    dsn, slot = slot_db
    with writing(dsn) as cur:
        cur.execute(TYPES_DDL)
    with writing(dsn) as cur:
        cur.execute("INSERT INTO types_rt VALUES " + ", ".join(ROWS))
    messages = changes(dsn, slot)
    # a domain's Type message carries the domain's oid and its base type's name
    assert {m.name for m in messages if isinstance(m, TypeMsg)} == {"mood", "int4"}
    table = batches(messages)["types_rt"].to_table()
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM types_rt LIMIT 0")
        names = [d[0] for d in cur.description]
        cur.execute("SELECT " + ", ".join(EXPECTED_SQL.get(n, "{c}").format(c=n) for n in names)
                    + " FROM types_rt ORDER BY id")
        expected = cur.fetchall()
    assert table.num_rows == len(ROWS) == len(expected)
    got = table.sort_by("id")
    for name, col in zip(names, zip(*expected, strict=True), strict=True):
        typ = got.schema.field(name).type
        for want, have in zip(col, as_numbers(got[name]).to_pylist(), strict=True):
            assert_same(name, typ, want, have)
    meta = table.schema.metadata
    assert json.loads(meta[b"autocorp.primary_key"]) == ["id"]
    assert meta[b"autocorp.source"] == b"public.types_rt"
    assert b"unconstrained numeric" in meta[REASON_KEY.encode() + b"nu"]
    assert table.schema.field("mo").type == pa.string() and b"enum" in meta[REASON_KEY.encode() + b"mo"]
    assert table.schema.field("dom").type == pa.string() and b"domain" in meta[REASON_KEY.encode() + b"dom"]
    assert table.schema.field("n50").type == pa.decimal256(50, 5)
    assert table.schema.field("d").type == pa.date32()
    assert table.schema.field("ts").type == pa.timestamp("us")


def as_numbers(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Temporal values as their integer storage: Python cannot hold BC dates or years past 9999."""
    typ = arr.type.value_type if pa.types.is_list(arr.type) else arr.type
    target = pa.int32() if pa.types.is_date32(typ) else pa.int64()
    if not pa.types.is_temporal(typ):
        return arr
    return arr.cast(pa.list_(target) if pa.types.is_list(arr.type) else target)


def assert_same(name: str, typ: pa.DataType, want: Any, have: Any) -> None:
    """Compare a value read by psycopg2 (or its SQL helper expression) with the Arrow value."""
    if want is None or have is None:
        assert want is None and have is None, f"{name}: {want!r} != {have!r}"
    elif isinstance(want, float):
        expected = pa.scalar(want, pa.float32()).as_py() if typ == pa.float32() else want
        assert (math.isnan(expected) and math.isnan(have)) or expected == have, f"{name}: {want!r} != {have!r}"
    elif isinstance(want, memoryview):
        assert bytes(want) == have, name
    elif name == "aby":
        assert [None if v is None else bytes(v) for v in want] == have, name
    else:
        assert want == have, f"{name}: {want!r} != {have!r}"


def test_values_a_type_cannot_hold_are_kept_as_text(slot_db: tuple[str, str]) -> None:
    dsn, slot = slot_db
    with writing(dsn) as cur:
        cur.execute("CREATE TABLE edge (id int PRIMARY KEY, n numeric(12,2), ts timestamptz, d date, tm time,"
                    " big timestamp, ats timestamp[])")
        cur.execute("INSERT INTO edge VALUES (1, 'NaN', 'infinity', '-infinity', '24:00:00',"
                    " '294276-12-31 23:59:59', '{infinity,2026-01-01}'), (2, 1.5, now(), now(), now(), now(), '{}')")
        cur.execute("SELECT n::text, ts::text, d::text, tm::text, big::text FROM edge WHERE id = 1")
        want = cur.fetchone()
    table = batches(changes(dsn, slot))["edge"].to_table().sort_by("id")
    meta = table.schema.metadata
    for name, value in zip(("n", "ts", "d", "tm", "big"), want, strict=True):
        assert table.schema.field(name).type == pa.string(), name
        assert table[name][0].as_py() == value, name
        assert b"cannot hold" in meta[REASON_KEY.encode() + name.encode()], name
    assert table["n"][1].as_py() == "1.50"
    assert table["ats"][0].as_py() == ["infinity", "2026-01-01 00:00:00"]
    assert table.schema.field("ats").type == pa.list_(pa.string())


def test_unchanged_toast_delete_keys_full_identity_truncate_and_new_column(slot_db: tuple[str, str]) -> None:
    dsn, slot = slot_db
    big = uuid.uuid4().hex * 400  # 12.8 kB of hex: stored out of line
    with writing(dsn) as cur:
        cur.execute("CREATE TABLE doc (id int PRIMARY KEY, body text, n int)")
        cur.execute("ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL")  # never compressed inline
        cur.execute("CREATE TABLE full_t (id int, v text)")
        cur.execute("ALTER TABLE full_t REPLICA IDENTITY FULL")
        cur.execute("INSERT INTO doc VALUES (1, %s, 1)", (big,))
        cur.execute("INSERT INTO full_t VALUES (1, 'a')")
    with writing(dsn) as cur:
        cur.execute("UPDATE doc SET n = 2 WHERE id = 1")
        cur.execute("DELETE FROM doc WHERE id = 1")
        cur.execute("UPDATE full_t SET v = 'b'")
        cur.execute("DELETE FROM full_t")
    with writing(dsn) as cur:
        cur.execute("TRUNCATE doc, full_t RESTART IDENTITY")
        cur.execute("ALTER TABLE doc ADD COLUMN extra date")
        cur.execute("INSERT INTO doc VALUES (2, 'x', 3, '2026-11-26')")
    msgs = changes(dsn, slot)
    doc_oid = next(m.oid for m in msgs if isinstance(m, Relation) and m.table == "doc")

    upd = next(m for m in msgs if isinstance(m, Update) and m.relid == doc_oid)
    assert upd.old is None and upd.new == (b"1", UNCHANGED, b"2")
    dele = next(m for m in msgs if isinstance(m, Delete) and m.relid == doc_oid)
    assert dele.old_kind == "K" and dele.old == (b"1", None, None)
    full_upd = next(m for m in msgs if isinstance(m, Update) and m.relid != doc_oid)
    assert (full_upd.old_kind, full_upd.old, full_upd.new) == ("O", (b"1", b"a"), (b"1", b"b"))
    full_del = next(m for m in msgs if isinstance(m, Delete) and m.relid != doc_oid)
    assert (full_del.old_kind, full_del.old) == ("O", (b"1", b"b"))
    trunc = next(m for m in msgs if isinstance(m, Truncate))
    assert set(trunc.relids) == {doc_oid, full_upd.relid} and trunc.restart_identity and not trunc.cascade
    relations = [m for m in msgs if isinstance(m, Relation) and m.oid == doc_oid]
    assert [c.name for c in relations[-1].columns] == ["id", "body", "n", "extra"]
    assert [c.is_key for c in relations[-1].columns] == [True, False, False, False]
    commits = [m for m in msgs if isinstance(m, Commit)]
    assert len(commits) == 3 and commits == sorted(commits, key=lambda c: c.commit_lsn)

    first_doc = TableBatch(relations[0], relations[0].key_columns)
    first_doc.append("U", commits[1].commit_ts, commits[1].commit_lsn, 0, 1, upd.new)
    first_doc.append("D", commits[1].commit_ts, commits[1].commit_lsn, 1, 1, dele.old)
    table = first_doc.to_table()
    assert table.to_pydict() | {"_commit_ts": None} == {
        "Op": ["U", "D"], "_commit_ts": None, "_lsn": [commits[1].commit_lsn] * 2, "_seq": [0, 1],
        "_xid": [1, 1], "_unchanged": [["body"], None], "id": [1, 1], "body": [None, None], "n": [2, None]}
    new_doc = batches(msgs)["doc"].to_table()
    assert new_doc.column_names[-1] == "extra" and new_doc["extra"].to_pylist()[-1].isoformat() == "2026-11-26"


def load_files_table(dsn: str, table: str, tmp_path: Path) -> tuple[pa.Table, LoadResult]:
    """Full-load ``table`` from an exported snapshot into LOAD files; read them back."""
    storage = Storage(str(tmp_path / "lake"))
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute("SELECT pg_export_snapshot()")
        snap = Snapshot(cur.fetchone()[0], 1, datetime.now(UTC))
        res = load_table(dsn, snap, storage, PublishedTable("public", table, "d", ("id",)), 1000)
    files = [f for f in storage.list_files(layout.raw_table_dir("public", table)) if layout.is_load_file(f)]
    assert len(files) == res.files
    return pa.concat_tables(pq.read_table(storage.path(f)) for f in files), res


@pytest.mark.parametrize(("reader", "row_ids", "fallback"), [
    ("adbc", (1, 2, 3, 4), False),  # binary COPY: BC dates and 5-digit years are typed too
    ("csv", (1, 4), False),  # pyarrow's CSV parser (no ADBC): rows 2 and 3 have dates it cannot parse
    ("adbc", (1, 2, 3, 4, 5), True),  # row 5: an infinity timestamptz - the table is read again as text
], ids=["typed-by-adbc", "typed-by-csv-parser", "text-fallback"])
def test_load_files_equal_change_files(slot_db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       reader: str, row_ids: tuple[int, ...], fallback: bool) -> None:
    """LOAD files hold exactly what CDC files hold for the same rows: values, types and string reasons."""
    dsn, slot = slot_db
    if reader == "csv":
        monkeypatch.setattr(arrowcopy, "available", lambda: False)
    with writing(dsn) as cur:
        cur.execute(TYPES_DDL)
    with writing(dsn) as cur:
        cur.execute("INSERT INTO types_rt VALUES " + ", ".join(ROWS[i - 1] for i in row_ids if i <= len(ROWS)))
        if 5 in row_ids:
            cur.execute("INSERT INTO types_rt (id, tstz) VALUES (5, 'infinity')")
    cdc = batches(changes(dsn, slot))["types_rt"].to_table().sort_by("id")
    load, res = load_files_table(dsn, "types_rt", tmp_path)
    load = load.sort_by("id")
    assert res.text_fallback is fallback
    assert res.rows == len(row_ids) and res.files == 1
    assert len(set(load["_seq"].to_pylist())) == len(row_ids) and set(load["Op"].to_pylist()) == {"I"}
    data = [n for n in cdc.column_names if not n.startswith("_") and n != "Op"]
    assert load.select(data).schema == cdc.select(data).schema
    for name in data:  # repr: NaN equals NaN; as_numbers: Python cannot hold BC dates
        assert [repr(v) for v in as_numbers(load[name]).to_pylist()] == \
            [repr(v) for v in as_numbers(cdc[name]).to_pylist()], name
    reasons = {k: v for k, v in cdc.schema.metadata.items() if k.startswith(REASON_KEY.encode())}
    assert {k: v for k, v in load.schema.metadata.items() if k.startswith(REASON_KEY.encode())} == reasons
