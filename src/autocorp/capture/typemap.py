"""PostgreSQL column types -> Arrow types, and the per-batch converters from PostgreSQL text.

Values arrive in PostgreSQL's text output format under ``TimeZone=UTC DateStyle=ISO
IntervalStyle=iso_8601 bytea_output=hex``. Each column is converted once per batch with
vectorised pyarrow casts; only values pyarrow cannot parse (BC dates, years past 9999, arrays)
go through Python.

Lossless policy (see docs/raw-zone.md "Types"): a type with no Arrow equivalent is stored as its
text with a *static* reason; a batch holding a value its column's Arrow type cannot hold (numeric
NaN, ``infinity`` dates/timestamps, timestamps after 294247-01-10, ``24:00:00``) stores that column
as text in that one file, with a reason. Nothing is ever turned into NULL.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from autocorp.capture.pgoutput import Column
from autocorp.errors import DecodeError

Converted = tuple[pa.Array, str | None]
Converter = Callable[[pa.Array], Converted]


@dataclass(frozen=True, slots=True)
class ColumnType:
    """How one column is stored: its nominal Arrow type, why it is text (if so), and its converter.

    ``convert`` takes a binary or string array of PostgreSQL text values and returns the typed
    array plus ``None``, or a string array plus the reason this batch could not be typed.
    """

    arrow_type: pa.DataType
    reason: str | None
    convert: Converter


# --------------------------------------------------------------------------- PostgreSQL text parsing

_DATE = re.compile(r"(\d{4,})-(\d\d)-(\d\d)( BC)?")
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
_TIMESTAMP = re.compile(
    r"(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
    r"(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?")
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1
_MICROS_PER_DAY = 86_400_000_000


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (astronomical year: 1 BC is year 0)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _year(digits: str, bc: str | None) -> int:
    return 1 - int(digits) if bc else int(digits)


def parse_date(text: str) -> int | None:
    """Days since the Unix epoch of an ISO date (``'0044-03-15 BC'`` too); None if not representable."""
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    days = _days_from_civil(_year(m[1], m[4]), int(m[2]), int(m[3]))
    return days if -_INT32_MAX <= days <= _INT32_MAX else None


def parse_time(text: str) -> int | None:
    """Microseconds since midnight; None for ``24:00:00`` (time64 ends at 23:59:59.999999)."""
    m = _TIME.fullmatch(text)
    if m is None:
        return None
    micros = ((int(m[1]) * 60 + int(m[2])) * 60 + int(m[3])) * 1_000_000 + int((m[4] or "").ljust(6, "0"))
    return micros if micros < _MICROS_PER_DAY else None


def parse_timestamp(text: str) -> int | None:
    """Microseconds since the Unix epoch (UTC when an offset is given); None if not representable."""
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None  # 'infinity', '-infinity'
    days = _days_from_civil(_year(m[1], m[12]), int(m[2]), int(m[3]))
    seconds = ((days * 24 + int(m[4])) * 60 + int(m[5])) * 60 + int(m[6])
    if m[8]:
        offset = (int(m[9]) * 60 + int(m[10] or 0)) * 60 + int(m[11] or 0)
        seconds -= offset if m[8] == "+" else -offset
    micros = seconds * 1_000_000 + int((m[7] or "").ljust(6, "0"))
    return micros if -_INT64_MAX <= micros <= _INT64_MAX else None


_ELEMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|([^,{}"]*)', re.S)
_UNESCAPE = re.compile(r"\\(.)", re.S)


def _parse_array(text: str, flat: list[str | None]) -> bool:
    """Append the elements of a one-dimensional array literal to ``flat``; False if not 1-D."""
    if len(text) < 2 or text[0] != "{" or text[-1] != "}" or text[1:2] == "{":
        return False  # explicit bounds '[0:1]={..}' or multi-dimensional
    body = text[1:-1]
    if not body:
        return True
    if '"' not in body:
        flat.extend(None if e == "NULL" else e for e in body.split(","))
        return True
    pos, end = 0, len(body)
    while True:
        m = _ELEMENT.match(body, pos)
        if m is None:
            return False
        quoted = m[1]
        if quoted is not None:
            flat.append(_UNESCAPE.sub(r"\1", quoted))
        else:
            flat.append(None if m[2] == "NULL" else m[2])
        pos = m.end()
        if pos >= end:
            return True
        if body[pos] != ",":
            return False
        pos += 1


def parse_arrays(texts: list[str | None]) -> tuple[list[int], list[str | None]] | None:
    """Parse PostgreSQL array literals into list offsets and flat elements; None if any is not 1-D."""
    offsets = [0]
    flat: list[str | None] = []
    for text in texts:
        if text is not None and not _parse_array(text, flat):
            return None
        offsets.append(len(flat))
    return offsets, flat


# --------------------------------------------------------------------------- converters

def _as_string(arr: pa.Array) -> pa.Array:
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def _to_text(arr: pa.Array) -> Converted:
    return _as_string(arr), None


def _cast(target: pa.DataType) -> Converter:
    def convert(arr: pa.Array) -> Converted:
        return _as_string(arr).cast(target), None
    return convert


def _to_bool(arr: pa.Array) -> Converted:
    return pc.equal(_as_string(arr), "t"), None


def _to_bytea(arr: pa.Array) -> Converted:
    out = []
    try:
        for v in arr.to_pylist():
            out.append(None if v is None else binascii.unhexlify(v[2:]))
    except (binascii.Error, ValueError):
        raise DecodeError(f"bytea value {str(v)[:40]!r} is not in hex format: the capture session must set "
                          "bytea_output=hex - restart capture") from None
    return pa.array(out, pa.binary()), None


def _fallback(text: pa.Array, target: pa.DataType, what: str) -> Converted:
    return text, f"{what} that {target} cannot hold are in this file: the column is kept as PostgreSQL text"


def _to_decimal(target: pa.DataType) -> Converter:
    def convert(arr: pa.Array) -> Converted:
        text = _as_string(arr)
        try:
            return text.cast(target), None
        except pa.ArrowInvalid:
            return _fallback(text, target, "values (NaN)")
    return convert


def _to_temporal(target: pa.DataType, fast: Callable[[pa.Array], pa.Array],
                 slow: Callable[[str], int | None]) -> Converter:
    """Vectorised cast, then a Python parse for what pyarrow rejects (BC, big years, infinity)."""
    def convert(arr: pa.Array) -> Converted:
        text = _as_string(arr)
        try:
            return fast(text), None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        values = [None if v is None else slow(v) for v in text.to_pylist()]
        if any(n is None and v is not None for n, v in zip(values, text.to_pylist(), strict=True)):
            return _fallback(text, target, "values (infinity or out of range)")
        storage = pa.int32() if target == pa.date32() else pa.int64()
        return pa.array(values, storage).cast(target), None
    return convert


def _time_fast(text: pa.Array) -> pa.Array:
    full = pc.binary_join_element_wise("1970-01-01 ", text, "")
    return full.cast(pa.timestamp("us")).cast(pa.int64()).cast(pa.time64("us"))


_TS_UTC = pa.timestamp("us", tz="UTC")
_TEXT = ColumnType(pa.string(), None, _to_text)

_SIMPLE: dict[int, ColumnType] = {
    16: ColumnType(pa.bool_(), None, _to_bool),
    17: ColumnType(pa.binary(), None, _to_bytea),
    20: ColumnType(pa.int64(), None, _cast(pa.int64())),
    21: ColumnType(pa.int16(), None, _cast(pa.int16())),
    23: ColumnType(pa.int32(), None, _cast(pa.int32())),
    26: ColumnType(pa.int64(), None, _cast(pa.int64())),  # oid is unsigned 32-bit
    700: ColumnType(pa.float32(), None, _cast(pa.float32())),
    701: ColumnType(pa.float64(), None, _cast(pa.float64())),
    1082: ColumnType(pa.date32(), None, _to_temporal(pa.date32(), lambda t: t.cast(pa.date32()), parse_date)),
    1083: ColumnType(pa.time64("us"), None, _to_temporal(pa.time64("us"), _time_fast, parse_time)),
    1114: ColumnType(pa.timestamp("us"), None, _to_temporal(
        pa.timestamp("us"), lambda t: t.cast(pa.timestamp("us")), parse_timestamp)),
    1184: ColumnType(_TS_UTC, None, _to_temporal(_TS_UTC, lambda t: t.cast(_TS_UTC), parse_timestamp)),
}
# natural text types: stored as string with no reason
for _oid in (18, 19, 25, 114, 1042, 1043, 1186, 2950, 3802):
    _SIMPLE[_oid] = _TEXT

_NO_ARROW_TYPE: dict[int, str] = {
    142: "xml", 650: "cidr", 774: "macaddr8", 790: "money", 829: "macaddr", 869: "inet", 1266: "timetz",
    1560: "bit", 1562: "varbit", 3220: "pg_lsn", 4072: "jsonpath", 600: "point", 718: "circle",
    3904: "int4range", 3926: "int8range", 3906: "numrange", 3910: "tstzrange", 3908: "tsrange",
    3912: "daterange", 3614: "tsvector", 3615: "tsquery", 28: "xid", 5069: "xid8",
}

# array type oid -> element type oid
_ARRAYS: dict[int, int] = {
    1000: 16, 1001: 17, 1002: 18, 1003: 19, 1005: 21, 1007: 23, 1009: 25, 1014: 1042, 1015: 1043,
    1016: 20, 1021: 700, 1022: 701, 1028: 26, 199: 114, 1182: 1082, 1183: 1083, 1115: 1114,
    1185: 1184, 1187: 1186, 1231: 1700, 2951: 2950, 3807: 3802,
}


def _numeric(type_mod: int) -> ColumnType:
    if type_mod < 4:
        return ColumnType(pa.string(), "unconstrained numeric (no precision/scale): kept as PostgreSQL text",
                          _to_text)
    precision = ((type_mod - 4) >> 16) & 0xFFFF
    scale = (type_mod - 4) & 0x7FF
    scale = scale - 0x800 if scale & 0x400 else scale  # PostgreSQL 15+: scale is a signed 11-bit value
    if precision > 76 or scale < 0 or scale > precision:
        return ColumnType(pa.string(), f"numeric({precision},{scale}) has no Arrow decimal equivalent: "
                          "kept as PostgreSQL text", _to_text)
    target = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    return ColumnType(target, None, _to_decimal(target))


def _scalar(type_oid: int, type_mod: int) -> ColumnType:
    simple = _SIMPLE.get(type_oid)
    if simple is not None:
        return simple
    if type_oid == 1700:
        return _numeric(type_mod)
    name = _NO_ARROW_TYPE.get(type_oid)
    if name is not None:
        return ColumnType(pa.string(), f"PostgreSQL type {name} has no Arrow equivalent: kept as its text",
                          _to_text)
    return ColumnType(pa.string(), f"type oid {type_oid} is not a built-in type we map (a domain, enum or "
                      "extension type): kept as its text", _to_text)


def _list_converter(elem: ColumnType) -> Converter:
    def convert(arr: pa.Array) -> Converted:
        text = _as_string(arr)
        parsed = parse_arrays(text.to_pylist())
        if parsed is None:
            return text, "multi-dimensional arrays or arrays with explicit bounds are in this file: " \
                         "the column is kept as PostgreSQL array text"
        offsets, flat = parsed
        values, reason = elem.convert(pa.array(flat, pa.string()))
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=pc.is_null(text))
        return lists, None if reason is None else f"array elements: {reason}"
    return convert


def column_type(col: Column) -> ColumnType:
    """The storage of ``col``: Arrow type, static reason when stored as text, and converter."""
    elem_oid = _ARRAYS.get(col.type_oid)
    if elem_oid is None:
        return _scalar(col.type_oid, col.type_mod)
    elem = _scalar(elem_oid, col.type_mod)
    reason = None if elem.reason is None else f"array elements: {elem.reason}"
    return ColumnType(pa.list_(elem.arrow_type), reason, _list_converter(elem))


def arrow_field(col: Column) -> tuple[pa.Field, str | None]:
    """The nominal Arrow field of ``col`` and, when it is stored as string, the reason (else None)."""
    ctype = column_type(col)
    return pa.field(col.name, ctype.arrow_type), ctype.reason
