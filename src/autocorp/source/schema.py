"""Versioned source schema: ``sql/V<NNN>__<name>.sql`` files applied once each, in order.

Applied versions are recorded in ``autocorp_meta.schema_version``, so ``db init``
run again changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from autocorp.errors import SchemaError
from autocorp.source.connect import PgError, connection, dsn_param, with_database

SOURCE_TABLES = (
    "auto_parts",
    "service",
    "service_parts",
    "customers",
    "sales_order",
    "sales_order_parts",
    "sales_order_services",
)

_FILE = re.compile(r"^V(\d{3})__(\w+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class InitResult:
    database_created: bool
    applied: tuple[str, ...]
    current_version: int


def migrations() -> list[Migration]:
    """The packaged schema files, in version order."""
    out = []
    for entry in resources.files("autocorp.source").joinpath("sql").iterdir():
        m = _FILE.match(entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text()))
    return sorted(out, key=lambda m: m.version)


def ensure_database(dsn: str, database: str) -> bool:
    """Create ``database`` if missing (connecting to the server's ``postgres`` db). True if created."""
    admin = with_database(dsn, "postgres")
    with connection(admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if cur.fetchone():
            return False
        cur.execute(f'CREATE DATABASE "{database}"')
        return True


def apply_schema(dsn: str) -> tuple[list[str], int]:
    """Apply the migrations the database does not have yet; returns (applied names, version).

    Raises:
        SchemaError: a migration failed (nothing of it is kept).
    """
    applied: list[str] = []
    with connection(dsn) as conn, conn.cursor() as cur:
        # one transaction; the advisory lock makes concurrent `db init` runs safe
        cur.execute("SELECT pg_advisory_xact_lock(73204411)")
        cur.execute("CREATE SCHEMA IF NOT EXISTS autocorp_meta")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS autocorp_meta.schema_version ("
            " version int PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT COALESCE(max(version), 0) FROM autocorp_meta.schema_version")
        current = int(cur.fetchone()[0])
        for mig in migrations():
            if mig.version <= current:
                continue
            try:
                cur.execute(mig.sql)
            except PgError as exc:
                raise SchemaError(
                    f"schema file V{mig.version:03d}__{mig.name}.sql failed: {exc.pgerror or exc}; "
                    "the database was left unchanged"
                ) from None
            cur.execute(
                "INSERT INTO autocorp_meta.schema_version (version, name) VALUES (%s, %s)",
                (mig.version, mig.name),
            )
            applied.append(f"V{mig.version:03d}__{mig.name}")
            current = mig.version
    return applied, current


def init_database(dsn: str) -> InitResult:
    """Create the database named by ``dsn`` if needed and bring its schema up to date."""
    database = dsn_param(dsn, "dbname") or "autocorp"
    created = ensure_database(dsn, database)
    applied, version = apply_schema(dsn)
    return InitResult(created, tuple(applied), version)


def table_counts(dsn: str) -> dict[str, int]:
    """Row count of every source table (the design's "View Database Status")."""
    with connection(dsn) as conn, conn.cursor() as cur:
        counts = {}
        for table in SOURCE_TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = int(cur.fetchone()[0])
        return counts
