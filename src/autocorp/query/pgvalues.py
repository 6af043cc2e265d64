"""PostgreSQL wire-protocol values of the lake endpoint: bind parameters in, binary result values out, errors.

Drivers that use the extended query protocol (JDBC for DBeaver, Tableau and Metabase; pg8000) send each
parameter with a type OID, in text or binary format, and may ask for results in binary.
- ``decode_param`` turns parameters into Python values DuckDB binds. Text of an unknown or unspecified
  type stays text, and DuckDB casts it from the query's context, as PostgreSQL resolves an ``unknown``
  literal.
- ``encode_binary`` writes a result value in PostgreSQL's binary format.
- ``sqlstate`` gives errors the code clients branch on.
"""

from __future__ import annotations

import json
import struct
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from autocorp.errors import QueryError, QueryRejected

_EPOCH = datetime(2000, 1, 1)  # PostgreSQL's binary date/time epoch
_INTS = {20: "!q", 21: "!h", 23: "!i", 26: "!I"}
_FLOATS = {700: "!f", 701: "!d"}
_TEXTS = {0, 18, 19, 25, 705, 1042, 1043}
_ARRAYS = {1000: bool, 1005: int, 1007: int, 1016: int, 1009: str, 1015: str, 1021: float, 1022: float}
_NUMERIC_SIGN = {0x0000: 1, 0x4000: -1}

# DuckDB error prefixes -> SQLSTATE
_STATES = (("Parser Error", "42601"), ("Catalog Error", "42P01"), ("Binder Error", "42703"),
           ("Conversion Error", "22P02"), ("Invalid Input Error", "22023"), ("Out of Memory", "53200"),
           ("statement cancelled", "57014"), ("Permission Error", "42501"))


def decode_param(oid: int, binary: bool, raw: bytes | None) -> Any:
    """One bind parameter as a Python value (None for SQL NULL).

    Raises:
        QueryError: a malformed value or a binary type the endpoint does not decode.
    """
    if raw is None:
        return None
    try:
        return _decode_binary(oid, raw) if binary else _decode_text(oid, raw.decode("utf-8"))
    except (ValueError, struct.error, ArithmeticError, UnicodeDecodeError) as exc:
        raise QueryError(f"bind parameter of type oid {oid} is malformed: {exc}") from None


def _decode_text(oid: int, text: str) -> Any:
    if oid in _INTS:
        return int(text)
    if oid in _FLOATS:
        return float(text)
    if oid == 1700:
        return Decimal(text)
    if oid == 16:
        return text.lower() in ("t", "true", "1", "y", "yes", "on")
    if oid == 1082:
        return date.fromisoformat(text)
    if oid in _ARRAYS and text.startswith("{") and text.endswith("}"):
        items = [x.strip().strip('"') for x in text[1:-1].split(",")] if len(text) > 2 else []
        return [None if x == "NULL" else _ARRAYS[oid](x) for x in items]
    return text  # text types, timestamps, unknown: DuckDB casts from the query's context


def _decode_binary(oid: int, raw: bytes) -> Any:
    if oid in _INTS:
        return struct.unpack(_INTS[oid], raw)[0]
    if oid in _FLOATS:
        return struct.unpack(_FLOATS[oid], raw)[0]
    if oid == 16:
        return raw != b"\x00"
    if oid == 1700:
        return _numeric(raw)
    if oid == 1082:
        return (_EPOCH + timedelta(days=struct.unpack("!i", raw)[0])).date()
    if oid in (1114, 1184):
        ts = _EPOCH + timedelta(microseconds=struct.unpack("!q", raw)[0])
        return ts.replace(tzinfo=UTC) if oid == 1184 else ts
    if oid in _TEXTS:
        return raw.decode("utf-8")
    if oid == 17:
        return bytes(raw)
    if oid == 2950:
        return uuid.UUID(bytes=bytes(raw))
    raise QueryError(f"binary bind parameters of type oid {oid} are not supported: send it in text format")


def _numeric(raw: bytes) -> Decimal:
    """PostgreSQL's binary numeric: ndigits, weight, sign, dscale, then base-10000 digits."""
    ndigits, weight, sign, dscale = struct.unpack("!hhHh", raw[:8])
    if sign == 0xC000:
        return Decimal("NaN")
    digits = struct.unpack(f"!{ndigits}h", raw[8:8 + 2 * ndigits])
    value = sum((Decimal(d) * Decimal(10000) ** (weight - i) for i, d in enumerate(digits)), Decimal(0))
    return (value * _NUMERIC_SIGN[sign]).quantize(Decimal(1).scaleb(-dscale)) if dscale else value * _NUMERIC_SIGN[sign]


def encode_binary(oid: int, value: Any) -> bytes:
    """``value`` in PostgreSQL's binary format for type ``oid`` (text types and unknown ones: UTF-8 text)."""
    if oid in _INTS:
        return struct.pack(_INTS[oid], int(value))
    if oid in _FLOATS:
        return struct.pack(_FLOATS[oid], float(value))
    if oid == 16:
        return b"\x01" if value else b"\x00"
    if oid == 1700:
        return _numeric_bytes(Decimal(value))
    if oid == 1082 and isinstance(value, date):
        return struct.pack("!i", (value - _EPOCH.date()).days)
    if oid in (1114, 1184) and isinstance(value, datetime):
        naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return struct.pack("!q", (naive - _EPOCH) // timedelta(microseconds=1))
    if oid == 17 and isinstance(value, bytes | bytearray):
        return bytes(value)
    if oid == 2950 and isinstance(value, uuid.UUID):
        return value.bytes
    if oid == 1083 and isinstance(value, time):
        return struct.pack("!q", ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond)
    if oid == 1186 and isinstance(value, timedelta):
        days, micros = _split(value)
        return struct.pack("!qii", micros, days, 0)
    if oid == 1186 and hasattr(value, "months"):  # Arrow's month/day/nanosecond interval
        return struct.pack("!qii", value.nanoseconds // 1000, value.days, value.months)
    if oid in _ARRAY_ITEMS and isinstance(value, list):
        return _array_bytes(_ARRAY_ITEMS[oid], value)
    return str(value).encode("utf-8")


_ARRAY_ITEMS = {1007: 23, 1016: 20, 1009: 25}  # array type -> element type


def _array_bytes(item: int, values: list[Any]) -> bytes:
    """A one-dimensional array in binary: dimensions, null flag, element type, then each element."""
    head = struct.pack("!iiiii", 1, any(v is None for v in values), item, len(values), 1)
    body = b"".join(struct.pack("!i", -1) if v is None else _sized(encode_binary(item, v)) for v in values)
    return head + body


def _sized(data: bytes) -> bytes:
    return struct.pack("!i", len(data)) + data


def duckdb_type_oid(name: str) -> int:
    """The PostgreSQL type OID for a DuckDB type name (``DECIMAL(12,2)`` -> numeric; text when unmapped)."""
    return _DUCKDB_OIDS.get(name.split("(", 1)[0].strip().upper(), 25)


_DUCKDB_OIDS = {"BOOLEAN": 16, "TINYINT": 21, "SMALLINT": 21, "INTEGER": 23, "BIGINT": 20, "HUGEINT": 1700,
                "UTINYINT": 21, "USMALLINT": 23, "UINTEGER": 20, "UBIGINT": 1700, "FLOAT": 700, "DOUBLE": 701,
                "DECIMAL": 1700, "VARCHAR": 1043, "BLOB": 17, "DATE": 1082, "TIME": 1083, "TIMESTAMP": 1114,
                "TIMESTAMP WITH TIME ZONE": 1184, "INTERVAL": 1186, "UUID": 2950}


def type_oid(typ: pa.DataType) -> int:
    """The PostgreSQL type a result column of Arrow type ``typ`` is sent as."""
    if pa.types.is_timestamp(typ):
        return 1184 if typ.tz else 1114
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        item = typ.value_type
        if pa.types.is_int32(item) or pa.types.is_int16(item):
            return 1007
        return 1016 if pa.types.is_int64(item) else 1009
    return next((oid for test, oid in _ARROW_OIDS if test(typ)), 25)


_ARROW_OIDS = (
    (pa.types.is_boolean, 16), (pa.types.is_int8, 21), (pa.types.is_int16, 21), (pa.types.is_uint8, 21),
    (pa.types.is_int32, 23), (pa.types.is_uint16, 23), (pa.types.is_int64, 20), (pa.types.is_uint32, 20),
    (pa.types.is_uint64, 1700), (pa.types.is_floating, 701), (pa.types.is_decimal, 1700),
    (pa.types.is_date, 1082), (pa.types.is_time, 1083), (pa.types.is_duration, 1186),
    (lambda t: t == pa.month_day_nano_interval(), 1186), (pa.types.is_binary, 17), (pa.types.is_large_binary, 17),
    (pa.types.is_struct, 114), (pa.types.is_map, 114),
)


def encode_text(oid: int, value: Any) -> str:
    """``value`` as PostgreSQL writes type ``oid`` in text (session time zone UTC)."""
    if oid == 16:
        return "t" if value else "f"
    if oid in (1114, 1184) and isinstance(value, datetime):
        utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return _seconds(utc.isoformat(sep=" ")) + ("+00" if oid == 1184 else "")
    if oid == 1700 and isinstance(value, Decimal):
        return "NaN" if value.is_nan() else format(value, "f")
    if oid in _FLOATS and isinstance(value, float):
        return _FLOAT_WORDS.get(repr(value), repr(value))
    if oid == 17 and isinstance(value, bytes | bytearray):
        return "\\x" + bytes(value).hex()
    if oid == 1186:
        if isinstance(value, timedelta):
            return _interval_text(0, *_split(value))
        if hasattr(value, "months"):
            return _interval_text(value.months, value.days, value.nanoseconds // 1000)
    if oid in (1007, 1009, 1016) and isinstance(value, list):
        return "{" + ",".join(_array_item(v) for v in value) + "}"
    if oid == 114:
        return json.dumps(value, default=str)
    if isinstance(value, time):
        return _seconds(value.isoformat())
    return value.isoformat() if isinstance(value, date) else str(value)


def _seconds(text: str) -> str:
    """PostgreSQL writes fractional seconds without trailing zeros."""
    return text.rstrip("0").rstrip(".") if "." in text else text


_FLOAT_WORDS = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}


def _split(value: timedelta) -> tuple[int, int]:
    """Days and microseconds of a Python interval (a negative one as microseconds only, as PostgreSQL keeps
    ``-1.5 seconds``)."""
    if value < timedelta(0):
        return 0, value // timedelta(microseconds=1)
    return value.days, (value - timedelta(days=value.days)) // timedelta(microseconds=1)


def _interval_text(months: int, days: int, micros: int) -> str:
    years, mons = divmod(months, 12)
    parts = [f"{n} {unit}{'' if abs(n) == 1 else 's'}"
             for n, unit in ((years, "year"), (mons, "mon"), (days, "day")) if n]
    if micros or not parts:
        sign, micros = ("-", -micros) if micros < 0 else ("", micros)
        secs, frac = divmod(micros, 1_000_000)
        clock = f"{sign}{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        parts.append(clock + (f".{frac:06d}".rstrip("0") if frac else ""))
    return " ".join(parts)


def _array_item(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "{" + ",".join(_array_item(v) for v in value) + "}"
    text = str(value)
    if text == "" or any(ch in text for ch in ',{}" \\') or text.upper() == "NULL":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


# types ``encode_binary`` writes in PostgreSQL's binary format; results of other types go out as text
BINARY_RESULT_OIDS = frozenset({16, 17, 18, 19, 20, 21, 23, 25, 26, 700, 701, 705, 1007, 1009, 1016, 1042, 1043,
                                1082, 1083, 1114, 1184, 1186, 1700, 2950})


def _numeric_bytes(value: Decimal) -> bytes:
    """PostgreSQL's binary numeric: base-10000 digit groups aligned on the decimal point."""
    if value.is_nan():
        return struct.pack("!hhHh", 0, 0, 0xC000, 0)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    scale = max(0, -exponent)
    whole = (text + "0" * exponent) if exponent >= 0 else text[:max(0, len(text) + exponent)]
    frac = "" if exponent >= 0 else text[max(0, len(text) + exponent):].rjust(-exponent, "0")
    whole = whole.lstrip("0")
    whole = whole.rjust(-(-len(whole) // 4) * 4, "0")
    frac = frac.ljust(-(-len(frac) // 4) * 4, "0")
    groups = [int(whole[i:i + 4]) for i in range(0, len(whole), 4)] + \
             [int(frac[i:i + 4]) for i in range(0, len(frac), 4)]
    weight = len(whole) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    return struct.pack(f"!hhHh{len(groups)}h", len(groups), weight, 0x4000 if sign else 0, scale, *groups)


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE for an error sent to a client (XX000 when nothing more specific applies)."""
    if isinstance(exc, QueryRejected):
        return "42501"
    text = str(exc)
    return next((code for prefix, code in _STATES if prefix in text), "XX000")
