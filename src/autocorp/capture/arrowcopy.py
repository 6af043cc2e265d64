"""The ADBC adapter: a table range read as binary ``COPY`` straight into Arrow (the only module importing adbc).

The ADBC PostgreSQL driver parses PostgreSQL's binary COPY format in C++ into Arrow record
batches: no text formatting on the server, no Python call per row on the client. Columns whose
binary form ADBC maps exactly onto our Arrow type are read as they are (integers, floats, bool,
text, varchar, date, timestamp, timestamptz); every other column is selected as ``::text`` and
converted by ``typemap`` exactly like the change stream's values. ADBC does not reject values our
types cannot hold (``infinity`` and the years past 294246 overflow into impossible timestamps
and dates): those raise ``NotTyped`` and the caller reads the table again as text.
"""

from __future__ import annotations

import shlex
from collections.abc import Generator
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc

from autocorp.capture.pgoutput import Column, Relation
from autocorp.capture.tablecopy import NotTyped, PageRange, ident
from autocorp.capture.typemap import column_type
from autocorp.errors import CaptureError
from autocorp.source.connect import SESSION_OPTIONS, dsn_param, mask_dsn

try:
    import adbc_driver_postgresql.dbapi as adbc
except ImportError:  # pragma: no cover - the CSV reader is used instead
    adbc = None

# type oid -> Arrow type ADBC produces from the binary format, equal to typemap's nominal type
_NATIVE: dict[int, pa.DataType] = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 25: pa.string(), 700: pa.float32(),
    701: pa.float64(), 1043: pa.string(), 1082: pa.date32(), 1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
# built-in types without a cast to text of their own: ``::text`` is their output function
_OUTPUT_CAST = frozenset((17, 26, 114, 1083, 1186, 1700, 2950, 3802))
# below PostgreSQL's first representable day / microsecond (4714-11-24 BC): an overflowed value
_MIN_DAYS = -2_440_588
_MIN_MICROS = -210_866_803_200_000_000


_URI_KEYS = ("host", "port", "user", "password", "dbname")
_QUERY_KEYS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "connect_timeout")


def available() -> bool:
    """The ADBC PostgreSQL driver is installed."""
    return adbc is not None


def connects(dsn: str) -> bool:
    """ADBC can open a connection with ``dsn`` (a DSN it cannot use, e.g. a service file: psycopg2 reads)."""
    uri = uri_of(dsn)
    if adbc is None or uri is None:
        return False
    try:
        adbc.connect(uri).close()
    except adbc.Error:
        return False
    return True


def uri_of(dsn: str) -> str | None:
    """``dsn`` as the URI ADBC's driver accepts (a ``key=value`` DSN is converted); None if it does not parse."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return dsn
    p = {k: dsn_param(dsn, k) for k in _URI_KEYS + _QUERY_KEYS}
    if not any(p.values()):
        return None
    auth = quote(p["user"] or "", safe="") + (":" + quote(p["password"], safe="") if p["password"] else "")
    host = p["host"] or "localhost"
    host = f"[{host}]" if ":" in host else quote(host, safe="")  # a socket folder is percent-encoded
    netloc = (auth + "@" if auth else "") + host + (f":{p['port']}" if p["port"] else "")
    query = urlencode({k: p[k] for k in _QUERY_KEYS if p[k]})
    return f"postgresql://{netloc}/{quote(p['dbname'] or '', safe='')}" + (f"?{query}" if query else "")


def select_sql(rel: Relation, pages: PageRange) -> str:
    """The SELECT: native columns as they are, the others as their output function's text."""
    return f"SELECT {', '.join(_select(c) for c in rel.columns)} FROM {ident(rel.schema)}.{ident(rel.table)}" \
        + pages.where()


def _select(c: Column) -> str:
    name = ident(c.name)
    if c.type_oid in _NATIVE:
        return name
    if c.type_oid in _OUTPUT_CAST or pa.types.is_list(column_type(c).arrow_type):
        return f"{name}::text AS {name}"  # an I/O conversion cast: exactly the type's output function
    # others may have their own cast to text (char(n) trims, inet adds /32...): format's %s calls the
    # output function, and is '' for NULL, so NULL is kept apart
    return f"CASE WHEN {name} IS NULL THEN NULL ELSE format('%s', {name}) END AS {name}"


def arrow_batches(dsn: str, snapshot: str, rel: Relation, pages: PageRange) -> Generator[dict[str, pa.Array]]:
    """Stream ``pages`` of the table, as of the exported ``snapshot``, as column-name -> arrays.

    Raises:
        NotTyped: a value the column's Arrow type cannot hold (the caller reads the table as text).
        CaptureError: the connection, the snapshot import or the read failed.
    """
    try:
        conn = adbc.connect(uri_of(dsn) or dsn, autocommit=True)
    except adbc.Error as exc:
        raise CaptureError(f"cannot connect to {mask_dsn(dsn)} for the full load: {_first_line(exc)}") from None
    try:
        cur = conn.cursor()
        _begin(cur, snapshot, rel)
        try:
            cur.execute(select_sql(rel, pages))
            for rb in cur.fetch_record_batch():
                yield _checked(rb, rel)
        except adbc.Error as exc:
            raise CaptureError(f"reading {rel.schema}.{rel.table} from the snapshot failed: {_first_line(exc)}; "
                               "restart `autocorp capture`") from None
    finally:
        conn.close()


def _begin(cur: Any, snapshot: str, rel: Relation) -> None:
    """Session settings of capture, then a read-only transaction in the exported snapshot."""
    try:
        for option in shlex.split(SESSION_OPTIONS)[1::2]:
            name, _, value = option.partition("=")
            cur.execute(f"SET {name} = '{value}'")
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    except adbc.Error as exc:
        raise CaptureError(f"cannot import snapshot {snapshot} for {rel.schema}.{rel.table}: {_first_line(exc)}; "
                           "restart `autocorp capture` (the full load starts over)") from None


def _checked(rb: pa.RecordBatch, rel: Relation) -> dict[str, pa.Array]:
    out = {}
    for c, arr in zip(rel.columns, rb.columns, strict=True):
        native = _NATIVE.get(c.type_oid)
        if native is not None and arr.type != native:
            raise NotTyped(f"{c.name}: ADBC gave {arr.type}, expected {native}")
        if native is not None and pa.types.is_temporal(native) and len(arr) and arr.null_count < len(arr):
            low = _MIN_DAYS if native == pa.date32() else _MIN_MICROS
            if pc.min(arr.view(pa.int32() if native == pa.date32() else pa.int64())).as_py() < low:
                raise NotTyped(f"{c.name}: a value its Arrow type cannot hold (infinity or out of range)")
        out[c.name] = arr
    return out


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
