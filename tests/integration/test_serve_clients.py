"""`autocorp serve` for the drivers BI tools use: SQLAlchemy reflection (Superset), psycopg2 parameters, and the
extended query protocol of PostgreSQL's JDBC driver (DBeaver, Tableau, Metabase) and pg8000."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg2
import pyarrow as pa
import pytest
import sqlalchemy as sa
from query_lake import TestLake
from sqlalchemy.dialects import postgresql

from autocorp.query import serve_pg
from autocorp.query.session import LakeConfig, LakeSession
from autocorp.settings import QuerySettings

ORDER = pa.schema([("order_id", pa.int64()), ("invoice_number", pa.string()), ("total_amount", pa.decimal128(12, 2)),
                   ("order_date", pa.date32()), ("created_at", pa.timestamp("us", tz="UTC")),
                   ("paid", pa.bool_()), ("quantity", pa.int32()), ("ratio", pa.float64())])
# what PostgreSQL's own DDL for those columns reads like once SQLAlchemy has reflected them
ORDER_DDL = [("order_id", "BIGINT"), ("invoice_number", "VARCHAR"), ("total_amount", "NUMERIC(12, 2)"),
             ("order_date", "DATE"), ("created_at", "TIMESTAMP WITH TIME ZONE"), ("paid", "BOOLEAN"),
             ("quantity", "INTEGER"), ("ratio", "DOUBLE PRECISION"), ("_lsn", "BIGINT"),
             ("_commit_ts", "TIMESTAMP WITH TIME ZONE")]


def order(i: int) -> dict:
    return {"Op": "I", "_lsn": 100, "order_id": i, "invoice_number": f"INV-{i}", "total_amount": Decimal(f"{i}.25"),
            "order_date": date(2026, 1, i), "created_at": datetime(2026, 1, i, 10, tzinfo=UTC), "paid": i % 2 == 0,
            "quantity": i * 10, "ratio": i / 4}


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    lk = TestLake(str(tmp_path_factory.mktemp("clients") / "lake"))
    lk.define("sales_order", ORDER, ["order_id"])
    rows = [order(i) for i in range(1, 6)]
    lk.write_cdc("sales_order", rows)
    lk.merge("sales_order", rows, 100)
    lk.checkpoint(100)
    session = LakeSession(LakeConfig(lk.storage, lk.pipeline, QuerySettings(statement_timeout_s=5)),
                          sandboxed=True, threads=1)
    server = serve_pg.start(session, "127.0.0.1", 0, None)
    yield server.port
    server.stop()
    session.close()


@pytest.fixture(scope="module")
def inspector(port: int) -> Iterator[sa.Inspector]:
    engine = sa.create_engine(f"postgresql+psycopg2://lake@127.0.0.1:{port}/lake", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        yield sa.inspect(conn)
    engine.dispose()


def ddl(column: dict) -> str:
    return str(column["type"].compile(dialect=postgresql.dialect()))


@pytest.mark.parametrize("schema", [None, "main"])
def test_sqlalchemy_reflects_columns_with_postgresql_types(inspector: sa.Inspector, schema: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unrecognised type is only a SAWarning (and a NullType column)
        columns = inspector.get_columns("sales_order", schema=schema)
        realtime = inspector.get_columns("sales_order_ro", schema=schema)
    assert [(c["name"], ddl(c)) for c in columns] == ORDER_DDL
    assert [(c["name"], ddl(c)) for c in realtime] == ORDER_DDL
    assert all(c["default"] is None and c["comment"] is None and not c["autoincrement"] for c in columns)


def test_psql_describe_names_types_as_postgresql_does(port: int) -> None:
    res = subprocess.run(["/usr/bin/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "lake", "-d", "lake", "-X", "-A",
                          "-t", "-c", "\\d sales_order"], capture_output=True, text=True, timeout=30,
                         env={"PGCONNECT_TIMEOUT": "5", "PATH": "/usr/bin"})
    assert res.returncode == 0, res.stderr
    assert [line.split("|")[1] for line in res.stdout.splitlines()] == [
        "bigint", "character varying", "numeric(12,2)", "date", "timestamp with time zone", "boolean", "integer",
        "double precision", "bigint", "timestamp with time zone"]


def test_sqlalchemy_lists_the_lake_tables(inspector: sa.Inspector) -> None:
    schemas = inspector.get_schema_names()
    assert "main" in schemas and not {"pgshim", "_lake", "pg_catalog"} & set(schemas)
    tables = inspector.get_table_names()
    assert {"sales_order", "sales_order_ro"} <= set(tables)
    assert not [t for t in tables if "_at_" in t or "_as_of" in t]  # time-travel functions are not tables
    assert sorted(inspector.get_table_names(schema="main")) == sorted(tables)
    assert inspector.get_view_names() == [] and inspector.get_materialized_view_names() == []
    assert inspector.has_table("sales_order") and inspector.has_table("sales_order", schema="main")
    assert not inspector.has_table("no_such_table")


@pytest.mark.parametrize("table", ["sales_order", "sales_order_ro"])
def test_sqlalchemy_sees_no_keys_indexes_or_comments(inspector: sa.Inspector, table: str) -> None:
    # the lake's tables are views over Delta: they have no constraints, and the shims must not invent any
    assert inspector.get_pk_constraint(table) == {"name": None, "constrained_columns": []}
    assert inspector.get_foreign_keys(table) == []
    assert inspector.get_indexes(table) == []
    assert inspector.get_unique_constraints(table) == []
    assert inspector.get_check_constraints(table) == []
    assert inspector.get_table_comment(table) == {"text": None}


def test_sqlalchemy_reflects_a_table_object_and_queries_it(port: int) -> None:
    engine = sa.create_engine(f"postgresql+psycopg2://lake@127.0.0.1:{port}/lake", poolclass=sa.pool.NullPool)
    try:
        table = sa.Table("sales_order", sa.MetaData(), autoload_with=engine)
        stmt = (sa.select(table.c.order_id, table.c.total_amount)
                .where(table.c.total_amount > Decimal("2.50"), table.c.created_at < datetime(2026, 1, 5, tzinfo=UTC))
                .order_by(table.c.order_id))
        with engine.connect() as conn:
            assert conn.execute(stmt).all() == [(3, Decimal("3.25")), (4, Decimal("4.25"))]
    finally:
        engine.dispose()


def test_psycopg2_binds_decimal_datetime_date_and_text(port: int) -> None:
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="lake", dbname="lake", connect_timeout=5)
    try:
        cur = conn.cursor()
        cur.execute("SELECT order_id, total_amount, created_at, paid FROM sales_order "
                    "WHERE total_amount >= %s AND created_at < %s ORDER BY order_id",
                    (Decimal("2.25"), datetime(2026, 1, 4, 12, tzinfo=UTC)))
        assert cur.fetchall() == [(i, Decimal(f"{i}.25"), datetime(2026, 1, i, 10, tzinfo=UTC), i % 2 == 0)
                                  for i in (2, 3, 4)]
        cur.execute("SELECT order_id FROM sales_order WHERE order_date = %(day)s OR invoice_number = %(inv)s "
                    "ORDER BY order_id", {"day": date(2026, 1, 1), "inv": "INV-5"})
        assert cur.fetchall() == [(1,), (5,)]
        cur.execute("SELECT count(*) FROM sales_order WHERE invoice_number = %s", ("INV-1' OR '1'='1",))
        assert cur.fetchall() == [(0,)]  # quoted by the driver: a value, not SQL
    finally:
        conn.close()


def test_superset_session_queries(port: int) -> None:
    """What Superset's PostgreSQL engine spec sends besides reflection, catalog names unqualified."""
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="lake", dbname="lake", connect_timeout=5)
    try:
        cur = conn.cursor()
        cur.execute("SELECT current_database()")
        (database,) = cur.fetchone()
        cur.execute("SELECT datname FROM pg_database WHERE datistemplate = false")
        assert cur.fetchall() == [(database,)]  # DuckDB's system/temp catalogs are not offered as databases
        cur.execute("SELECT pg_backend_pid()")  # SQL Lab's cancel id: one per connection
        (pid,) = cur.fetchone()
        cur.execute("SELECT version(), pg_catalog.pg_backend_pid()")
        version, same_pid = cur.fetchone()
        assert isinstance(pid, int) and same_pid == pid and version.startswith("PostgreSQL ")
        cur.execute("SELECT 'pg_class', 'version()', relname FROM pg_class WHERE relname = 'sales_order_ro' LIMIT 1")
        assert cur.fetchall() == [("pg_class", "version()", "sales_order_ro")]  # quoted names stay values
        cur.execute("SELECT max(version) FROM lake_versions WHERE table_name = 'sales_order'")
        assert cur.fetchall() == [(0,)]  # a column named like a shim function is left alone
    finally:
        conn.close()


JDBC_JAR = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java (`make test` installs it)


def test_pg8000_extended_protocol_parameters_errors_and_recovery(port: int) -> None:
    pg8000 = pytest.importorskip("pg8000.dbapi")
    conn = pg8000.connect(user="lake", host="127.0.0.1", port=port, database="lake")
    try:
        cur = conn.cursor()
        cur.execute("SELECT order_id, total_amount, paid, [quantity, 1] AS q FROM sales_order WHERE total_amount > %s "
                    "AND created_at > %s AND invoice_number LIKE %s AND paid = %s ORDER BY order_id",
                    (Decimal("1.5"), datetime(2026, 1, 2, tzinfo=UTC), "INV-%", True))
        assert list(cur.fetchall()) == [[2, Decimal("2.25"), True, [20, 1]], [4, Decimal("4.25"), True, [40, 1]]]
        with pytest.raises(pg8000.DatabaseError) as err:
            cur.execute("SELECT nope FROM sales_order")
        assert err.value.args[0]["C"] == "42703" and "nope" in err.value.args[0]["M"]
        conn.rollback()
        with pytest.raises(pg8000.DatabaseError) as err:
            cur.execute("DROP VIEW sales_order")
        assert err.value.args[0]["C"] == "42501"
        conn.rollback()
        cur.execute("SELECT count(*) FROM sales_order")
        assert list(cur.fetchall()) == [[5]]  # the connection survived both errors and nothing was dropped
    finally:
        conn.close()


def test_jdbc_driver_prepared_statements_metadata_and_errors(port: int, tmp_path: Path) -> None:
    if not (JDBC_JAR.exists() and shutil.which("javac") and shutil.which("java")):
        pytest.skip("needs a JDK and Debian's libpostgresql-jdbc-java (`make test` installs it as root)")
    source = Path(__file__).parent / "jdbc" / "LakeProbe.java"
    subprocess.run(["javac", "-d", str(tmp_path), str(source)], check=True, capture_output=True, timeout=120)
    run = subprocess.run(["java", "-cp", f"{JDBC_JAR}:{tmp_path}", "LakeProbe", str(port)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = dict(line.split("|", 1) for line in run.stdout.splitlines())
    assert lines["plain"] == "5|16.25"
    assert lines["prepared"] == "2=2.25|3=3.25|4=4.25"
    assert lines["types"] == "2026-01-02|13:14:15.5|3 days 04:00:00|[1, 2]|true|0.5|20", lines["types"]
    assert lines["columns"].split("|")[:4] == ["order_id:int8", "invoice_number:varchar", "total_amount:numeric",
                                               "order_date:date"]
    assert lines["tables"].split("|") == ["sales_order", "sales_order_ro"]
    assert lines["error"] == "42703" and lines["rejected"] == "42501" and lines["after"] == "5"


def test_psycopg3_text_and_binary_results_and_sqlstate(port: int) -> None:
    psycopg = pytest.importorskip("psycopg", reason="psycopg 3 needs the system libpq")
    with psycopg.connect(f"host=127.0.0.1 port={port} user=lake dbname=lake") as conn:
        query = ("SELECT order_id, total_amount, created_at, order_date, paid FROM sales_order "
                 "WHERE total_amount > %s AND created_at > %s ORDER BY order_id")
        params = (Decimal("3.5"), datetime(2026, 1, 1, tzinfo=UTC))
        expected = [(i, Decimal(f"{i}.25"), datetime(2026, 1, i, 10, tzinfo=UTC), date(2026, 1, i), i % 2 == 0)
                    for i in (4, 5)]
        assert conn.execute(query, params).fetchall() == expected
        assert conn.execute(query, params, binary=True).fetchall() == expected
        with pytest.raises(psycopg.errors.UndefinedColumn):
            conn.execute("SELECT nope FROM sales_order")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM sales_order")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM sales_order").fetchone() == (5,)


def test_asyncpg_prepared_statements_with_inferred_parameter_types(port: int) -> None:
    asyncpg = pytest.importorskip("asyncpg")

    async def run() -> list[tuple]:
        conn = await asyncpg.connect(host="127.0.0.1", port=port, user="lake", database="lake")
        try:
            rows = await conn.fetch("SELECT order_id, total_amount, created_at, paid FROM sales_order "
                                    "WHERE total_amount > $1 AND created_at < $2 AND order_date BETWEEN $3 AND $4 "
                                    "ORDER BY order_id", Decimal("1.5"), datetime(2026, 1, 5, tzinfo=UTC),
                                    date(2026, 1, 1), date(2026, 1, 31))
            with pytest.raises(asyncpg.exceptions.UndefinedColumnError):
                await conn.fetch("SELECT nope FROM sales_order")
            return [tuple(r) for r in rows] + [tuple(await conn.fetchrow("SELECT count(*) FROM sales_order"))]
        finally:
            await conn.close()

    assert asyncio.run(run()) == [(i, Decimal(f"{i}.25"), datetime(2026, 1, i, 10, tzinfo=UTC), i % 2 == 0)
                                  for i in (2, 3, 4)] + [(5,)]
