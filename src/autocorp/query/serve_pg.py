"""The lake over the PostgreSQL wire protocol: the only module that imports buenavista.

Every client connection gets its own DuckDB cursor on the lake's locked-down database. Statements go through
the sandbox (one SELECT, no forbidden function, statement timeout); the few session statements drivers send
on their own (BEGIN/COMMIT, ``SET extra_float_digits`` …) are answered without touching DuckDB.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import re
import struct
from typing import Any

import pyarrow as pa
from buenavista import bv_dialects, rewrite
from buenavista.backends.duckdb import DuckDBConnection, DuckDBQueryResult, DuckDBSession
from buenavista.postgres import (
    NULL_BYTE,
    BuenaVistaHandler,
    BuenaVistaServer,
    BVBuffer,
    BVContext,
    ServerResponse,
)

from autocorp.errors import QueryError
from autocorp.query import pgcatalog, sandbox
from autocorp.query.endpoint import RunningServer, check_bind, serve_in_thread
from autocorp.query.engine import Engine
from autocorp.query.paramtypes import param_count, param_types
from autocorp.query.pgvalues import (
    BINARY_RESULT_OIDS,
    decode_param,
    duckdb_type_oid,
    encode_binary,
    encode_text,
    sqlstate,
    type_oid,
)
from autocorp.query.session import LakeSession

logging.getLogger("buenavista").setLevel(logging.CRITICAL)

_TXN = re.compile(r"^\s*(begin|start\s+transaction|commit|end|rollback|abort)\b[^;]*;?\s*$", re.IGNORECASE)
_QUERY = re.compile(r"^\s*(\(|select\b|with\b|values\b|from\b)", re.IGNORECASE)
_SET = re.compile(r"^\s*set\s+(session\s+|local\s+)?([a-z_][a-z0-9_.]*)\s*(=|to)\s*[^;]*;?\s*$", re.IGNORECASE)
# parameters drivers set on connect; accepted and ignored (they change nothing in DuckDB)
DRIVER_SETTINGS = frozenset({"extra_float_digits", "application_name", "datestyle", "client_encoding",
                             "intervalstyle", "client_min_messages", "statement_timeout", "bytea_output",
                             "standard_conforming_strings", "search_path", "timezone"})


class LakeSessionPg(DuckDBSession):
    """One client connection: sandboxed, refreshes the lake's views before each query."""

    def __init__(self, lake: LakeSession, engine: Engine) -> None:
        self.lake = lake
        self.engine = engine
        super().__init__(engine.raw_connection)

    def refresh_config(self) -> None:
        self.config_params: set[str] = set()

    def execute_sql(self, sql: str, params: Any = None) -> DuckDBQueryResult:
        txn = _TXN.match(sql)
        if txn:
            word = txn.group(1).lower()
            self.in_txn = word in ("begin", "start")
            return DuckDBQueryResult(status={"begin": "BEGIN", "start": "BEGIN", "rollback": "ROLLBACK",
                                             "abort": "ROLLBACK"}.get(word, "COMMIT"))
        setting = _SET.match(sql)
        if setting and setting.group(2).lower() in DRIVER_SETTINGS:
            return DuckDBQueryResult(status="SET")
        if not sql.strip().strip(";").strip():
            return DuckDBQueryResult(status="EMPTY")
        self.lake.refresh_if_stale()
        stmt = sandbox.check_statement(self.engine, self.lake.expand(pgcatalog.rewrite(sql), self.engine))
        with sandbox.statement_timeout(self.engine, self.lake.config.limits.statement_timeout_s):
            table = self.engine.arrow(stmt, list(params) if params else None)
        return DuckDBQueryResult(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), "SELECT")


    def param_oids(self, sql: str, given: list[int], count: int) -> list[int]:
        """The type OID of each of the ``count`` parameters: the client's where it gave one, else the type the
        statement determines, else text (which DuckDB casts from the query's context)."""
        try:
            expanded = self.lake.expand(pgcatalog.rewrite(sql), self.engine)
            inferred = {n: duckdb_type_oid(t) for n, t in param_types(self.engine, expanded).items()}
        except QueryError:
            inferred = {}
        return [given[i] if i < len(given) and given[i] else inferred.get(i + 1, 25) for i in range(count)]


class LakeConnectionPg(DuckDBConnection):
    """Hands each new client a session on its own cursor."""

    def __init__(self, lake: LakeSession) -> None:
        super().__init__(lake.engine.raw_connection)
        self.lake = lake

    def parameters(self) -> dict[str, str]:
        return {"server_version": "15.0 (autocorp lake, DuckDB)", "client_encoding": "UTF8", "DateStyle": "ISO",
                "TimeZone": "UTC", "integer_datetimes": "on", "standard_conforming_strings": "on"}

    def new_session(self) -> LakeSessionPg:
        return LakeSessionPg(self.lake, self.lake.cursor())


class _AnyUser(dict[str, str]):
    """buenavista's md5 auth table: every user name shares the configured password."""

    def __init__(self, password: str) -> None:
        super().__init__()
        self.password = password

    def __getitem__(self, user: str) -> str:
        return self.password

    def __contains__(self, user: object) -> bool:
        return True


class _Handler(BuenaVistaHandler):
    """buenavista's protocol handler, completed for the extended query protocol (JDBC, psycopg 3, asyncpg, pg8000):
    parameters of every common type in text or binary format, errors that carry a severity and SQLSTATE,
    and an error in Bind or Describe answered in-protocol (the client resyncs) instead of dropping the
    connection."""

    def handle_bind(self, ctx: BVContext, payload: bytes) -> None:
        if ctx.has_error:  # after an error the server skips messages until Sync
            return
        try:
            portal, stmt, params, result_formats = _parse_bind(ctx, payload)
        except (QueryError, KeyError, ValueError, struct.error) as exc:
            self.send_error(exc, ctx)
            return
        ctx.add_portal(portal, stmt, params, result_formats)
        self.send_bind_complete()

    def handle_describe(self, ctx: BVContext, payload: bytes) -> None:
        if ctx.has_error:
            return
        name = bytes(payload[1:-1]).decode("utf-8")
        if payload[0] == ord("S") and name in ctx.stmts:  # parameters are not bound yet: describe with NULLs
            sql, oids = ctx.stmts[name]
            count = max(len(oids), param_count(ctx.session.engine, sql))
            try:  # a query's columns without running it (and checked by the sandbox); BEGIN, SET ... as they are
                shape = f"SELECT * FROM ({sql.strip().rstrip(';')}) AS described LIMIT 0" if _QUERY.match(sql) else sql
                result = ctx.execute_sql(shape, [None] * count)
            except Exception as exc:  # noqa: BLE001 - any failure goes back to the client as an error
                self.send_error(exc, ctx)
                return
            described = ctx.session.param_oids(sql, oids, count)
            ctx.stmts[name] = (sql, described)  # Bind decodes the values with the types described here
            self.send_paramter_description(described)
            if result.has_results():
                self.send_row_description(result)
            else:
                self.wfile.write(struct.pack("!ci", ServerResponse.NO_DATA, 4))
            return
        super().handle_describe(ctx, payload)

    def send_row_description(self, query_result: Any) -> None:
        """Column names, PostgreSQL types (from the Arrow result: ``timestamptz`` keeps its time zone) and
        formats."""
        buf = BVBuffer()
        for name, oid, binary in _wire_columns(query_result):
            buf.write_string(name)
            buf.write_bytes(struct.pack("!ihihih", 0, 0, oid, 0, -1, int(binary)))
        out = buf.get_value()
        count = query_result.column_count()
        self.wfile.write(struct.pack("!cih", ServerResponse.ROW_DESCRIPTION, len(out) + 6, count) + out)

    def send_data_rows(self, query_result: Any, limit: int = 0) -> int:
        """DataRows as PostgreSQL writes them, in the formats the client asked for in Bind."""
        columns = _wire_columns(query_result)
        count = 0
        for row in query_result.rows():
            buf = BVBuffer()
            for (_, oid, binary), value in zip(columns, row, strict=True):
                if value is None:
                    buf.write_int32(-1)
                    continue
                data = encode_binary(oid, value) if binary else encode_text(oid, value).encode()
                buf.write_int32(len(data))
                buf.write_bytes(data)
            out = buf.get_value()
            self.wfile.write(struct.pack("!cih", ServerResponse.DATA_ROW, len(out) + 6, len(columns)) + out)
            count += 1
            if 0 < limit <= count:
                break
        return count

    def send_error(self, exception: Any, ctx: BVContext | None = None) -> None:
        buf = BVBuffer()
        for field, value in ((b"S", "ERROR"), (b"V", "ERROR"), (b"C", sqlstate(exception)),
                             (b"M", str(exception))):
            buf.write_byte(field)
            buf.write_string(value)
        buf.write_byte(NULL_BYTE)
        out = buf.get_value()
        self.wfile.write(struct.pack("!ci", ServerResponse.ERROR_RESPONSE, len(out) + 4) + out)
        if ctx:
            ctx.mark_error()


def _wire_columns(query_result: Any) -> list[tuple[str, int, bool]]:
    """Each result column's name, PostgreSQL type OID, and whether it goes out in binary: where the client
    asked for binary in Bind and the type has a binary writer (the RowDescription tells the client which)."""
    asked = query_result.result_format or []
    out = []
    for i, field in enumerate(query_result.rbr.schema):
        oid = type_oid(field.type)
        out.append((field.name, oid, i < len(asked) and asked[i] == 1 and oid in BINARY_RESULT_OIDS))
    return out


def _parse_bind(ctx: BVContext, payload: bytes) -> tuple[str, str, list[Any], list[int]]:
    """Portal, statement, decoded parameters and requested result formats of a Bind message."""
    data = bytes(payload)
    portal_end = data.index(NULL_BYTE)
    stmt_end = data.index(NULL_BYTE, portal_end + 1)
    portal, stmt = data[:portal_end].decode("utf-8"), data[portal_end + 1:stmt_end].decode("utf-8")
    buf = BVBuffer(io.BytesIO(data[stmt_end + 1:]))
    formats = [buf.read_int16() for _ in range(buf.read_int16())]
    count = buf.read_int16()
    formats = formats if len(formats) == count else (formats[:1] or [0]) * count
    oids = ctx.stmts[stmt][1]
    params = []
    for i in range(count):
        size = buf.read_int32()
        raw = None if size < 0 else buf.read_bytes(size)
        params.append(decode_param(oids[i] if i < len(oids) else 0, formats[i] == 1, raw))
    result_formats = [buf.read_int16() for _ in range(buf.read_int16())]
    return portal, stmt, params, result_formats


class _Server(BuenaVistaServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], conn: LakeConnectionPg, auth: dict[str, str] | None) -> None:
        rewriter = rewrite.Rewriter(bv_dialects.BVPostgres(), bv_dialects.BVDuckDB())
        super().__init__(address, conn, rewriter=rewriter, auth=auth)
        self.RequestHandlerClass = _Handler

    def verify_request(self, request: Any, client_address: Any) -> bool:
        # without a password only loopback clients may connect; with one, anyone who knows it
        return self.auth is not None or ipaddress.ip_address(client_address[0]).is_loopback


def start(lake: LakeSession, host: str, port: int, password: str | None) -> RunningServer:
    """Serve ``lake`` over the PostgreSQL protocol on ``host:port`` (0 = any free port) in a thread.

    Raises:
        QueryError: the session is not sandboxed, a non-loopback address without a password, or the port
            is taken.
    """
    if not lake.sandboxed:
        raise QueryError("the PostgreSQL endpoint needs a sandboxed lake session (LakeSession(..., sandboxed=True))")
    check_bind(host, password)
    pgcatalog.install(lake.engine)
    auth = _AnyUser(password) if password else None
    return serve_in_thread(lambda: _Server((host, port), LakeConnectionPg(lake), auth), host, port,
                           "query.pg_port", "autocorp-serve-pg")
