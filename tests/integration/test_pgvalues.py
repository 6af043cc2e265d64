"""The endpoint's PostgreSQL binary formats agree with a real PostgreSQL's own send/receive functions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from autocorp.errors import QueryError, QueryRejected
from autocorp.query.pgvalues import decode_param, encode_binary, encode_text, sqlstate
from autocorp.source.connect import connection

NUMERICS = ["10.5", "-0.0001", "123456789.12", "0", "0.00", "1000000", "-98765.4321", "5477.61", "0.1234567",
            "99999999999999999999.999999", "-1"]
# (oid, PostgreSQL send function, SQL literal, Python value)
VALUES = [(20, "int8send", "-9000000000::int8", -9000000000), (23, "int4send", "42::int4", 42),
          (21, "int2send", "-7::int2", -7), (701, "float8send", "2.5::float8", 2.5), (16, "boolsend", "true", True),
          (1082, "date_send", "'2026-11-26'::date", date(2026, 11, 26)),
          (1184, "timestamptz_send", "'2026-11-26 08:30:01.123456+00'::timestamptz",
           datetime(2026, 11, 26, 8, 30, 1, 123456, tzinfo=UTC)),
          (1114, "timestamp_send", "'1999-12-31 23:59:59'::timestamp", datetime(1999, 12, 31, 23, 59, 59)),
          (2950, "uuid_send", "'12345678-1234-5678-1234-567812345678'::uuid",
           uuid.UUID("12345678-1234-5678-1234-567812345678")),
          (1043, "varcharsend", "'Bremsbeläge'::varchar", "Bremsbeläge"),
          (1083, "time_send", "'13:14:15.5'::time", time(13, 14, 15, 500000)),
          (1186, "interval_send", "'3 days 04:05:06.000007'::interval", timedelta(days=3, hours=4, minutes=5,
                                                                                seconds=6, microseconds=7)),
          (1186, "interval_send", "'-00:00:01.5'::interval", timedelta(seconds=-1.5)),
          (1007, "array_send", "ARRAY[1, NULL, 3]::int4[]", [1, None, 3]),
          (1009, "array_send", "ARRAY['a', 'b c']::text[]", ["a", "b c"])]


def _sent(dsn: str, sql: str) -> bytes:
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {sql}")
        return bytes(cur.fetchone()[0])


@pytest.mark.parametrize("text", NUMERICS)
def test_numeric_binary_matches_postgresql(server_url: str, text: str) -> None:
    wire = _sent(server_url, f"numeric_send({text}::numeric)")
    assert encode_binary(1700, Decimal(text)) == wire
    assert decode_param(1700, True, wire) == Decimal(text)


@pytest.mark.parametrize(("oid", "send", "literal", "value"), VALUES, ids=[v[1] for v in VALUES])
def test_binary_values_match_postgresql(server_url: str, oid: int, send: str, literal: str, value: object) -> None:
    wire = _sent(server_url, f"{send}({literal})")
    assert encode_binary(oid, value) == wire
    if oid not in (1083, 1186, 1007, 1009):  # result-only binary types: clients send these as text
        assert decode_param(oid, True, wire) == value


def test_text_parameters_take_their_declared_type_and_unknown_stays_text() -> None:
    assert decode_param(20, False, b"42") == 42 and decode_param(1700, False, b"-1.50") == Decimal("-1.50")
    assert decode_param(16, False, b"t") is True and decode_param(1082, False, b"2026-01-02") == date(2026, 1, 2)
    assert decode_param(0, False, b"2026-01-02 10:00:00+00") == "2026-01-02 10:00:00+00"  # DuckDB casts it
    assert decode_param(1016, False, b"{1,2,NULL}") == [1, 2, None]
    assert decode_param(25, True, None) is None
    with pytest.raises(QueryError, match="oid 23 is malformed"):
        decode_param(23, False, b"forty-two")
    with pytest.raises(QueryError, match="not supported: send it in text format"):
        decode_param(600, True, b"\x00" * 16)  # a binary point


def test_sqlstate() -> None:
    assert sqlstate(QueryRejected("DELETE statements are not allowed")) == "42501"
    assert sqlstate(QueryError("Binder Error: Referenced column \"x\" not found")) == "42703"
    assert sqlstate(QueryError("Catalog Error: Table with name y does not exist!")) == "42P01"
    assert sqlstate(RuntimeError("boom")) == "XX000"


@pytest.mark.parametrize(("oid", "literal", "value"), [
    (1186, "'3 days 04:00:00'::interval", timedelta(days=3, hours=4)),
    (1186, "'-00:00:01.5'::interval", timedelta(seconds=-1.5)),
    (1186, "'0'::interval", timedelta(0)),
    (1007, "ARRAY[1, 2, NULL]::int4[]", [1, 2, None]),
    (1009, """ARRAY['a b', 'x,y', 'q"', NULL, 'ok', '']::text[]""", ["a b", "x,y", 'q"', None, "ok", ""])])
def test_text_forms_match_postgresql(server_url: str, oid: int, literal: str, value: object) -> None:
    with connection(server_url) as conn, conn.cursor() as cur:
        cur.execute("SET IntervalStyle = postgres")  # what clients of `serve` get (our adapter uses iso_8601)
        cur.execute(f"SELECT ({literal})::text")
        assert encode_text(oid, value) == cur.fetchone()[0]


@pytest.mark.parametrize(("oid", "literal", "value"), [
    (1184, "'2026-11-26 08:30:01.123456+00'::timestamptz", datetime(2026, 11, 26, 8, 30, 1, 123456, tzinfo=UTC)),
    (1184, "'2026-11-26 10:30:00+02'::timestamptz", datetime(2026, 11, 26, 8, 30, tzinfo=UTC)),
    (1184, "'2026-11-26 08:30:01.5+00'::timestamptz", datetime(2026, 11, 26, 8, 30, 1, 500000, tzinfo=UTC)),
    (1114, "'1999-12-31 23:59:59'::timestamp", datetime(1999, 12, 31, 23, 59, 59)),
    (1700, "100000::numeric", Decimal("1E+5")), (1700, "-0.0001::numeric", Decimal("-0.0001")),
    (701, "'Infinity'::float8", float("inf")), (701, "0.1::float8", 0.1), (16, "true", True),
    (17, "'\\xdeadbeef'::bytea", b"\xde\xad\xbe\xef"), (1082, "'2026-01-02'::date", date(2026, 1, 2)),
    (1083, "'13:14:15.5'::time", time(13, 14, 15, 500000))])
def test_text_output_matches_postgresql(server_url: str, oid: int, literal: str, value: object) -> None:
    """What clients parse (psycopg 3 and asyncpg strictly): PostgreSQL's output functions, session time zone UTC."""
    with connection(server_url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT CASE WHEN {oid} = 16 THEN left(({literal})::text, 1) ELSE ({literal})::text END")
        assert encode_text(oid, value) == cur.fetchone()[0]
