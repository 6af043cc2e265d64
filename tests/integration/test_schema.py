"""The source schema against a real PostgreSQL: idempotent, and it rejects bad rows."""

from __future__ import annotations

import pytest

from autocorp.source import schema
from autocorp.source.connect import IntegrityError, connection


def test_init_creates_database_and_is_idempotent(server_url: str) -> None:
    import uuid

    from autocorp.source.connect import with_database

    name = f"t_init_{uuid.uuid4().hex[:8]}"
    dsn = with_database(server_url, name)
    first = schema.init_database(dsn)
    assert first.database_created and first.applied == ("V001__tables", "V002__views", "V003__invoice_numbers")

    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT md5(string_agg(table_name || column_name || data_type, ',' ORDER BY 1)) "
                    "FROM information_schema.columns WHERE table_schema = 'public'")
        before = cur.fetchone()[0]
    second = schema.init_database(dsn)
    assert not second.database_created and second.applied == () and second.current_version == 3
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT md5(string_agg(table_name || column_name || data_type, ',' ORDER BY 1)) "
                    "FROM information_schema.columns WHERE table_schema = 'public'")
        assert cur.fetchone()[0] == before
        cur.execute("SELECT count(*) FROM autocorp_meta.schema_version")
        assert cur.fetchone()[0] == 3
    with connection(with_database(server_url, "postgres"), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_all_seven_tables_and_views_exist(autocorp_db: str) -> None:
    assert set(schema.table_counts(autocorp_db)) == set(schema.SOURCE_TABLES)
    with connection(autocorp_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.views WHERE table_schema='public'")
        views = {r[0] for r in cur.fetchall()}
    assert {"service_with_parts", "order_totals_by_type", "order_summary"} <= views


def _seed_minimal(cur) -> None:  # type: ignore[no-untyped-def]
    cur.execute("INSERT INTO auto_parts (sku, name, category, brand, unit_price, cost, stock_quantity) "
                "VALUES ('SKU-1', 'Pad', 'Brakes', 'Acme', 10.50, 5.00, 3)")
    cur.execute("INSERT INTO service (serviceid, service, category, labor_minutes, labor_cost) "
                "VALUES ('48392017', 'Brake job', 'Brakes', 60, 90.00)")
    cur.execute("INSERT INTO customers (first_name, last_name, email, state) "
                "VALUES ('A', 'B', 'a@b.com', 'TX') RETURNING customer_id")


BAD_STATEMENTS = [
    ("fk", "INSERT INTO service_parts (serviceid, sku, quantity) VALUES ('48392017', 'NOPE', 1)"),
    ("unique email", "INSERT INTO customers (first_name, last_name, email, state) VALUES ('C','D','a@b.com','TX')"),
    ("order_type", "INSERT INTO sales_order (customer_id, invoice_number, payment_method, total_amount, order_type)"
                   " SELECT customer_id, 'INV-2025-000001', 'Cash', 1, 'Gift' FROM customers"),
    ("negative amount", "INSERT INTO sales_order (customer_id, invoice_number, payment_method, total_amount,"
                        " order_type) SELECT customer_id, 'INV-2025-000002', 'Cash', -1, 'Parts' FROM customers"),
    ("zero quantity", "INSERT INTO service_parts (serviceid, sku, quantity) VALUES ('48392017', 'SKU-1', 0)"),
    ("bad service id", "INSERT INTO service (serviceid, service, category, labor_minutes, labor_cost)"
                       " VALUES ('12AB', 'x', 'Brakes', 10, 1)"),
    ("unknown category", "INSERT INTO service (serviceid, service, category, labor_minutes, labor_cost)"
                         " VALUES ('12345678', 'x', 'Spaceship', 10, 1)"),
]


@pytest.mark.parametrize("label,sql", BAD_STATEMENTS, ids=[b[0] for b in BAD_STATEMENTS])
def test_constraints_reject_bad_rows(autocorp_db: str, label: str, sql: str) -> None:
    from autocorp.source.connect import PgError

    with connection(autocorp_db) as conn, conn.cursor() as cur:
        _seed_minimal(cur)
        conn.commit()
        with pytest.raises((IntegrityError, PgError)):
            cur.execute(sql)


def test_updated_at_is_maintained_by_trigger(autocorp_db: str) -> None:
    with connection(autocorp_db) as conn, conn.cursor() as cur:
        _seed_minimal(cur)
        conn.commit()
        cur.execute("SELECT updated_at FROM auto_parts WHERE sku='SKU-1'")
        before = cur.fetchone()[0]
        cur.execute("UPDATE auto_parts SET stock_quantity = 4 WHERE sku='SKU-1' RETURNING updated_at")
        assert cur.fetchone()[0] > before
