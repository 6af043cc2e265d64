"""The pgoutput decoder and TableBatch without a server: hand-built messages, malformed input, text rows."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from autocorp.capture import typemap
from autocorp.capture.batch import REASON_KEY, TableBatch
from autocorp.capture.pgoutput import (
    UNCHANGED,
    Begin,
    Column,
    Commit,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    Relation,
    Truncate,
    TypeMsg,
    Update,
    decode,
    fill_unchanged,
)
from autocorp.errors import DecodeError

TS = datetime(2026, 11, 26, 7, 0, 0, 123456, tzinfo=UTC)
PG_TS = 848_991_600_123_456  # TS as microseconds since 2000-01-01


def tup(*values: bytes | None | object) -> bytes:
    out = struct.pack("!H", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v is UNCHANGED:
            out += b"u"
        else:
            assert isinstance(v, bytes)
            out += b"t" + struct.pack("!I", len(v)) + v
    return out


def insert(relid: int, *values: bytes | None) -> bytes:
    return b"I" + struct.pack("!I", relid) + b"N" + tup(*values)


def relation_msg() -> bytes:
    cols = [(1, "id", 20, -1), (0, "name", 25, -1), (0, "amount", 1700, (12 << 16 | 2) + 4)]
    body = b"".join(struct.pack("!B", f) + n.encode() + b"\0" + struct.pack("!Ii", t, m) for f, n, t, m in cols)
    return b"R" + struct.pack("!I", 16384) + b"public\0orders\0d" + struct.pack("!H", len(cols)) + body


def test_every_message_type_decodes() -> None:
    assert decode(b"B" + struct.pack("!QqI", 0x1_0000_0010, PG_TS, 771)) == Begin(0x1_0000_0010, TS, 771)
    assert decode(b"C" + struct.pack("!BQQq", 0, 10, 20, PG_TS)) == Commit(10, 20, TS)
    assert decode(b"O" + struct.pack("!Q", 5) + b"node_a\0") == Origin(5, "node_a")
    assert decode(b"Y" + struct.pack("!I", 99999) + b"public\0mood\0") == TypeMsg(99999, "public", "mood")
    rel = decode(relation_msg())
    assert isinstance(rel, Relation) and (rel.oid, rel.schema, rel.table, rel.replica_identity) == (
        16384, "public", "orders", "d")
    assert rel.columns[2] == Column("amount", 1700, (12 << 16 | 2) + 4, False) and rel.key_columns == ("id",)
    assert decode(insert(7, b"1", None, "é".encode())) == Insert(7, (b"1", None, "é".encode()))
    upd = b"U" + struct.pack("!I", 7) + b"K" + tup(b"1", None) + b"N" + tup(b"2", UNCHANGED)
    assert decode(upd) == Update(7, "K", (b"1", None), (b"2", UNCHANGED))
    assert decode(b"U" + struct.pack("!I", 7) + b"N" + tup(b"2")) == Update(7, None, None, (b"2",))
    assert decode(memoryview(b"D" + struct.pack("!I", 7) + b"O" + tup(b"1", b"x"))) == Delete(7, "O", (b"1", b"x"))
    assert decode(b"T" + struct.pack("!IBII", 2, 3, 7, 8)) == Truncate((7, 8), True, True)
    msg = b"M" + struct.pack("!BQ", 1, 42) + b"pfx\0" + struct.pack("!I", 3) + b"abc"
    assert decode(msg) == LogicalMessage("pfx", b"abc", True, 42)
    assert decode(insert(7)) == Insert(7, ())


def test_fill_unchanged_takes_old_values() -> None:
    assert fill_unchanged((b"1", UNCHANGED, b"3"), (b"1", b"big", b"2")) == (b"1", b"big", b"3")
    assert fill_unchanged((b"1", UNCHANGED), None) == (b"1", UNCHANGED)


@pytest.mark.parametrize(("buf", "words"), [
    (b"", ["empty"]),
    (b"Z\0\0", ["unknown message type", "'Z'", "offset 0"]),
    (b"B" + b"\0" * 10, ["Begin", "21 bytes"]),
    (b"C" + b"\0" * 30, ["Commit", "26 bytes"]),
    (insert(7, b"abc")[:-1], ["Insert", "'I'", "truncated value of column 0", "offset 13"]),
    (insert(7, b"abc") + b"x", ["Insert", "1 unexpected trailing bytes", "offset 16"]),
    (b"I" + struct.pack("!I", 7) + b"N" + struct.pack("!H", 1) + b"x", ["unknown column kind b'x'", "offset 8"]),
    (b"I" + struct.pack("!I", 7) + b"N" + struct.pack("!H", 1) + b"b", ["binary format"]),
    (b"I" + struct.pack("!I", 7) + b"Q", ["expected new tuple marker 'N'", "offset 5"]),
    (b"I\0\0", ["truncated relation oid", "offset 1"]),
    (b"U" + struct.pack("!I", 7) + b"K" + tup(b"1"), ["Update", "truncated new tuple marker"]),
    (b"U" + struct.pack("!I", 7) + b"K" + tup(b"1") + b"K", ["Update", "expected new tuple marker 'N'"]),
    (b"D" + struct.pack("!I", 7) + b"N" + tup(b"1"), ["Delete", "expected old tuple marker 'K' or 'O'"]),
    (relation_msg()[:12], ["Relation", "unterminated relation name"]),
    (relation_msg()[:-3], ["Relation", "truncated type modifier of column amount"]),
    (b"T" + struct.pack("!IBI", 2, 0, 7), ["Truncate", "truncated relation oid 1", "offset 10"]),
    (b"Y" + struct.pack("!I", 1) + b"s\0\xff\xfe\0", ["Type", "type name is not valid UTF-8"]),
    (b"M" + struct.pack("!BQ", 0, 1) + b"p\0" + struct.pack("!I", 9) + b"ab", ["Message", "truncated content"]),
])
def test_malformed_messages_name_type_and_offset(buf: bytes, words: list[str]) -> None:
    with pytest.raises(DecodeError) as err:
        decode(buf)
    for word in words:
        assert word in str(err.value)


def test_every_truncation_and_corruption_raises_decode_error_only() -> None:
    valid = [insert(7, b"1", None, b"abc"), relation_msg(),
             b"U" + struct.pack("!I", 7) + b"O" + tup(b"1", b"x") + b"N" + tup(b"2", UNCHANGED),
             b"D" + struct.pack("!I", 7) + b"K" + tup(b"1", None), b"T" + struct.pack("!IBII", 2, 3, 7, 8)]
    for msg in valid:
        decode(msg)
        for cut in range(len(msg)):
            with pytest.raises(DecodeError):
                decode(msg[:cut])
    rng = random.Random(7)
    for _ in range(3000):
        msg = bytearray(rng.choice(valid))
        msg[rng.randrange(len(msg))] = rng.randrange(256)
        try:
            decode(bytes(msg))
        except DecodeError:
            pass


# --------------------------------------------------------------------------- TableBatch

def orders() -> Relation:
    return Relation(16384, "public", "orders", "d", (
        Column("id", 20, -1, True), Column("name", 25, -1, False),
        Column("amount", 1700, (12 << 16 | 2) + 4, False), Column("at", 1184, -1, False),
        Column("tags", 1009, -1, False), Column("raw", 17, -1, False), Column("ok", 16, -1, False)))


def test_stream_rows_become_typed_columns_and_batch_empties() -> None:
    batch = TableBatch(orders(), ["id"])
    batch.append("I", TS, 100, 0, 5, (b"1", b"a", b"12.50", b"2026-11-26 07:00:00.5+00", b'{x,"y z",NULL}',
                                      b"\\x00ff", b"t"))
    batch.append("U", TS, 100, 1, 5, (b"1", UNCHANGED, b"13.00", None, b"{}", None, b"f"))
    batch.append("D", TS, 200, 0, 6, (b"1", None, None, None, None, None, None))
    batch.append("T", TS, 300, 0, 7, ())
    assert len(batch) == 4 and batch.nbytes > 0
    table = batch.to_table()
    assert len(batch) == 0 and batch.to_table().num_rows == 0
    assert table.column_names[:6] == ["Op", "_commit_ts", "_lsn", "_seq", "_xid", "_unchanged"]
    assert table.schema == batch.schema()
    rows = table.to_pylist()
    assert [r["Op"] for r in rows] == ["I", "U", "D", "T"] and [r["_lsn"] for r in rows] == [100, 100, 200, 300]
    assert [r["_unchanged"] for r in rows] == [None, ["name"], None, None]
    assert rows[0]["amount"] == pa.scalar("12.50").cast(pa.decimal128(12, 2)).as_py()
    assert rows[0]["at"] == datetime(2026, 11, 26, 7, 0, 0, 500000, tzinfo=UTC)
    assert rows[0]["tags"] == ["x", "y z", None] and rows[1]["tags"] == []
    assert rows[0]["raw"] == b"\x00\xff" and rows[0]["ok"] is True and rows[1]["ok"] is False
    assert rows[1]["name"] is None and all(v is None for k, v in rows[3].items() if not k.startswith(("_", "O")))
    assert table.schema.metadata[b"autocorp.primary_key"] == b'["id"]'


def test_load_rows_from_csv_share_the_stream_schema() -> None:
    # COPY ... (FORMAT csv): NULL is an unquoted empty field, an empty string is ""
    csv = b'1,a,12.50,2026-11-26 07:00:00+00,"{x,y}",\\x41,t\n2,"",,,,,\n'
    names = [c.name for c in orders().columns]
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
                                   quoted_strings_can_be_null=False)
    read = pacsv.read_csv(pa.BufferReader(csv), read_options=pacsv.ReadOptions(column_names=names),
                          convert_options=convert)
    batch = TableBatch(orders(), ["id"])
    batch.append_text_rows({n: read[n] for n in names}, "I", TS, 55, 1)
    batch.append("I", TS, 60, 0, 9, (b"3", b"c", b"1.00", None, None, None, None))
    table = batch.to_table()
    assert table.schema == batch.schema()
    assert table["_seq"].to_pylist() == [1, 2, 0] and table["_xid"].to_pylist() == [None, None, 9]
    assert table["amount"].to_pylist()[0] == pa.scalar("12.50").cast(pa.decimal128(12, 2)).as_py()
    assert table["raw"].to_pylist()[:2] == [b"A", None] and table["tags"].to_pylist()[:2] == [["x", "y"], None]
    assert table["name"].to_pylist() == ["a", "", "c"]
    with pytest.raises(DecodeError, match="not in the relation"):
        batch.append_text_rows({"nope": pa.array(["1"])}, "I", TS, 1, 0)


def test_bad_values_raise_decode_errors() -> None:
    batch = TableBatch(orders(), ["id"])
    with pytest.raises(DecodeError, match="2 values but the relation has 7 columns"):
        batch.append("I", TS, 1, 0, 1, (b"1", b"2"))
    batch.append("I", TS, 1, 0, 1, (b"x1", None, None, None, None, None, None))
    with pytest.raises(DecodeError, match=r"public\.orders\.id"):
        batch.to_table()


def test_static_and_per_file_string_reasons() -> None:
    rel = Relation(1, "s", "t", "f", (Column("n", 1700, -1, False), Column("ts", 1114, -1, False),
                                      Column("x", 600001, -1, False), Column("big", 1700, (50 << 16 | 5) + 4, False)))
    fields = [typemap.arrow_field(c) for c in rel.columns]
    assert fields[0][0].type == pa.string() and "unconstrained" in fields[0][1]
    assert fields[2][1] is not None and "600001" in fields[2][1]
    assert fields[3] == (pa.field("big", pa.decimal256(50, 5)), None)
    batch = TableBatch(rel, [])
    batch.append("I", TS, 1, 0, 1, (b"NaN", b"infinity", b"v", b"1.5"))
    table = batch.to_table()
    assert table["ts"].to_pylist() == ["infinity"] and table.schema.field("ts").type == pa.string()
    assert b"cannot hold" in table.schema.metadata[(REASON_KEY + "ts").encode()]
    batch.append("I", TS, 1, 0, 1, (b"NaN", b"0044-03-15 10:00:00 BC", b"v", b"1.5"))
    ts = batch.to_table()["ts"]
    assert ts.type == pa.timestamp("us") and ts.cast(pa.int64())[0].as_py() == -63_517_788_000_000_000


@pytest.mark.parametrize(("text", "days"), [
    ("1970-01-01", 0), ("2000-03-01", 11017), ("0001-01-01", -719162), ("0001-12-31 BC", -719163),
    ("4714-11-24 BC", -2440588), ("5874897-12-31", 2145042905),
])
def test_date_parser_matches_the_proleptic_calendar(text: str, days: int) -> None:
    assert typemap.parse_date(text) == days


def test_array_literals_with_quotes_escapes_and_bounds() -> None:
    parsed = typemap.parse_arrays(['{"a\\"b","c\\\\d",NULL,"NULL",""}', None, "{}", "{1,2}"])
    assert parsed == ([0, 5, 5, 5, 7], ['a"b', "c\\d", None, "NULL", "", "1", "2"])
    assert typemap.parse_arrays(["{{1,2},{3,4}}"]) is None and typemap.parse_arrays(["[0:1]={1,2}"]) is None


def test_unchanged_values_are_null_with_names_listed_for_any_op_but_insert() -> None:
    batch = TableBatch(orders(), ["id"])
    batch.append("U", TS, 1, 0, 1, (b"1", UNCHANGED, None, None, UNCHANGED, None, None), unchanged=["name", "tags"])
    batch.append("D", TS, 1, 1, 1, (b"1", UNCHANGED, None, None, None, None, None))
    table = batch.to_table()
    assert table["_unchanged"].to_pylist() == [["name", "tags"], None]
    assert table["name"].to_pylist() == [None, None] and table["tags"].to_pylist() == [None, None]


def _row_messages(rng: random.Random, n: int) -> list[tuple[str, bytes, tuple[bytes | None | object, ...]]]:
    """Random Insert / plain Update / Delete messages of ``orders`` with what they decode to."""
    out = []
    for i in range(n):
        op = rng.choice("IUD")
        values: list[bytes | None | object] = [str(i).encode(), rng.choice([b"", b"a,b", "é\n".encode(), None]),
                                               rng.choice([b"1.50", None]), b"2026-11-26 07:00:00+00",
                                               rng.choice([b"{}", b'{x,"y z"}', None]), b"\\x00ff", b"t"]
        if op == "U" and rng.random() < 0.3:
            values[1] = UNCHANGED
        if op == "D":
            values = [values[0]] + [None] * 6
        marker = b"K" if op == "D" else b"N"
        out.append((op, op.encode() + struct.pack("!I", 16384) + marker + tup(*values), tuple(values)))
    return out


def test_raw_messages_parsed_column_wise_equal_decoded_rows() -> None:
    messages = _row_messages(random.Random(3), 2000)
    decoded, raw = TableBatch(orders(), ["id"]), TableBatch(orders(), ["id"])
    for seq, (op, payload, values) in enumerate(messages):
        assert decode(payload) in (Insert(16384, values), Update(16384, None, None, values),
                                   Delete(16384, "K", values))
        lsn = 100 + seq // 7  # several changes per transaction
        decoded.append(op, TS, lsn, seq, 5, values)
        raw.append_raw(op, TS, lsn, seq, 5, payload)
        if seq == 1500:  # a Truncate in between: both segment kinds in one batch
            decoded.append("T", TS, lsn, seq, 5, ())
            raw.append("T", TS, lsn, seq, 5, ())
    assert len(raw) == len(decoded) == 2001 and raw.nbytes > 2001 * 48
    want, got = decoded.to_table(), raw.to_table()
    assert got.equals(want) and got.schema.metadata == want.schema.metadata
    assert got["_unchanged"].drop_null().to_pylist() and len(raw) == 0


@pytest.mark.parametrize("cut", [b"I" + struct.pack("!I", 16384) + b"N" + tup(b"1", b"x"),  # too few columns
                                 insert(16384, b"1", None, None, None, None, None, b"t")[:-1],  # truncated
                                 insert(16384, b"1", None, None, None, None, None, b"t") + b"?"])  # trailing byte
def test_malformed_raw_messages_raise_decode_errors_at_conversion(cut: bytes) -> None:
    batch = TableBatch(orders(), ["id"])
    batch.append_raw("I", TS, 1, 0, 1, insert(16384, b"2", None, None, None, None, None, b"f"))
    batch.append_raw("I", TS, 1, 1, 1, cut)
    with pytest.raises(DecodeError):
        batch.to_table()
