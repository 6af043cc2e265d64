"""Connections to the source PostgreSQL: the one adapter around psycopg2 for the source stage.

DSNs are handled as secrets: ``mask_dsn`` is the only way one is shown to a user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

import psycopg2  # noqa: TID251 - this module is the adapter
import psycopg2.extensions  # noqa: TID251
import psycopg2.extras  # noqa: TID251

from autocorp.errors import DatabaseUnavailable

SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 -c bytea_output=hex"

_URI_PW = re.compile(r"(://[^:/@]*:)([^@]*)(@)")
_KV_PW = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)

Connection: TypeAlias = psycopg2.extensions.connection
PgError = psycopg2.Error
IntegrityError = psycopg2.IntegrityError


def mask_dsn(dsn: str) -> str:
    """Return ``dsn`` with any password replaced by ``***``."""
    return _KV_PW.sub(r"\1***", _URI_PW.sub(r"\1***\3", dsn))


def scrub(text: str, dsn: str | None) -> str:
    """Remove the password of ``dsn`` (and any password=... pair) from an error text."""
    text = mask_dsn(text)
    if dsn:
        params = _parse(dsn)
        pw = params.get("password")
        if pw:
            text = text.replace(pw, "***")
    return text


def _parse(dsn: str) -> dict[str, str]:
    try:
        return dict(psycopg2.extensions.parse_dsn(dsn))
    except psycopg2.ProgrammingError:
        return {}


def with_database(dsn: str, database: str) -> str:
    """Return ``dsn`` pointing at ``database`` instead of whatever it named."""
    return psycopg2.extensions.make_dsn(dsn, dbname=database)


def dsn_param(dsn: str, name: str) -> str | None:
    return _parse(dsn).get(name)


def connect(dsn: str, *, autocommit: bool = False, connect_timeout: int = 5, **kwargs: Any) -> Connection:
    """Open a connection in UTC/ISO session settings.

    Raises:
        DatabaseUnavailable: the server cannot be reached or refused us; the DSN is masked.
    """
    try:
        conn = psycopg2.connect(
            dsn, options=SESSION_OPTIONS, connect_timeout=connect_timeout, **kwargs
        )
    except psycopg2.OperationalError as exc:
        reason = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc), dsn)
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {mask_dsn(dsn)}: {reason}; "
            "check that the server runs (`autocorp db start`) or fix source.dsn"
        ) from None
    conn.autocommit = autocommit
    return conn


@contextmanager
def connection(dsn: str, *, autocommit: bool = False) -> Iterator[Connection]:
    """A connection that commits on success, rolls back on error and is always closed."""
    conn = connect(dsn, autocommit=autocommit)
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit and not conn.closed:
            conn.rollback()
        raise
    finally:
        conn.close()


def execute_values(cur: Any, sql: str, rows: list[tuple[Any, ...]], page_size: int = 1000) -> list[Any]:
    """Multi-row INSERT helper (``VALUES %s``); returns fetched rows when ``sql`` has RETURNING."""
    fetch = "returning" in sql.lower()
    return psycopg2.extras.execute_values(cur, sql, rows, page_size=page_size, fetch=fetch) or []
