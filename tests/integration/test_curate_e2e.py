"""Real PostgreSQL -> real capture -> curate: every curated table equals its source table, run after run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from shop import insert_catalog
from test_capture_support import cleanup_slot, execute, make_settings

from autocorp.capture.runner import Capture
from autocorp.curate.runner import Curate
from autocorp.lake import layout
from autocorp.settings import Settings
from autocorp.source.connect import connection
from autocorp.source.simulate import simulate

TABLES = ["auto_parts", "service", "service_parts", "customers", "sales_order", "sales_order_parts",
          "sales_order_services"]


@pytest.fixture()
def shop(autocorp_db: str, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    insert_catalog(autocorp_db)
    settings = make_settings(tmp_path)
    settings.curate.models = True
    yield autocorp_db, settings
    cleanup_slot(autocorp_db, settings)


def source_rows(dsn: str, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")
        cols = [d[0] for d in cur.description]
        return cols, sorted(cur.fetchall())


def curated_rows(curate: Curate, table: str, cols: list[str]) -> list[tuple[Any, ...]]:
    t = DeltaTable(curate.storage.uri(layout.curated_table(table))).to_pyarrow_table(columns=cols)
    return sorted(tuple(r[c] for c in cols) for r in t.to_pylist())


def assert_lake_equals_source(dsn: str, curate: Curate) -> None:
    for table in TABLES:
        cols, expected = source_rows(dsn, table)
        assert curated_rows(curate, table, cols) == expected, f"curated/{table} differs from the source"


def test_curated_tables_equal_the_source_after_each_run(shop: tuple[str, Settings]) -> None:
    dsn, settings = shop
    curate = Curate(settings)
    steps = [
        lambda: simulate(dsn, orders=60, update_share=0.3, delete_share=0.1, seed=1),
        lambda: (simulate(dsn, orders=40, update_share=0.4, delete_share=0.2, seed=2),
                 execute(dsn, "UPDATE auto_parts SET unit_price = unit_price + 1 WHERE sku < 'SKU-010'")),
        lambda: (execute(dsn, "ALTER TABLE customers ADD COLUMN loyalty text",
                         "UPDATE customers SET loyalty = 'gold' WHERE customer_id % 7 = 0"),
                 simulate(dsn, orders=30, update_share=0.3, delete_share=0.1, seed=3)),
    ]
    for step in [lambda: None, *steps]:
        step()
        Capture(settings, dsn).run(until_caught_up=True)
        report = curate.run_once()
        assert report.ok, report
        assert_lake_equals_source(dsn, curate)
    assert {m.model: m.status for m in report.models} == dict.fromkeys(
        ["daily_revenue_by_category", "sales_order_facts", "service_parts_usage"], "built")
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), sum(total_amount) FROM sales_order")
        orders, revenue = cur.fetchone()
    facts = DeltaTable(curate.storage.uri(layout.curated_table("sales_order_facts"))).to_pyarrow_table().to_pylist()
    assert len(facts) == orders and sum(f["total_amount"] for f in facts) == revenue
