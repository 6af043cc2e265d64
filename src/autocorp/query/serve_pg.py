"""The lake over the PostgreSQL wire protocol: the only module that imports buenavista.

Every client connection gets its own DuckDB cursor on the lake's locked-down database. Statements go through
the sandbox (one SELECT, no forbidden function, statement timeout); the few session statements drivers send
on their own (BEGIN/COMMIT, ``SET extra_float_digits`` …) are answered without touching DuckDB.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

import pyarrow as pa
from buenavista import bv_dialects, rewrite
from buenavista.backends.duckdb import DuckDBConnection, DuckDBQueryResult, DuckDBSession
from buenavista.postgres import BuenaVistaServer

from autocorp.errors import QueryError
from autocorp.query import pgcatalog, sandbox
from autocorp.query.endpoint import RunningServer, check_bind, serve_in_thread
from autocorp.query.engine import Engine
from autocorp.query.session import LakeSession

logging.getLogger("buenavista").setLevel(logging.CRITICAL)

_TXN = re.compile(r"^\s*(begin|start\s+transaction|commit|end|rollback|abort)\b[^;]*;?\s*$", re.IGNORECASE)
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


class _Server(BuenaVistaServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], conn: LakeConnectionPg, auth: dict[str, str] | None) -> None:
        rewriter = rewrite.Rewriter(bv_dialects.BVPostgres(), bv_dialects.BVDuckDB())
        super().__init__(address, conn, rewriter=rewriter, auth=auth)

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
