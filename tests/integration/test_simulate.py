"""The order workload simulator against a real PostgreSQL: amounts add up, counts match, rate holds."""

from __future__ import annotations

import json
import random
import re
import sys
import threading
from decimal import Decimal

import pytest
from shop import insert_catalog
from typer.testing import CliRunner

from autocorp.cli.main import app, main
from autocorp.errors import ConfigError, SeedDataMissing
from autocorp.source.connect import connection, dsn_param
from autocorp.source.orders import PAYMENT_METHODS, Catalog, Part, Service, build_order
from autocorp.source.simulate import SimulationReport, simulate

INVOICE = re.compile(r"^INV-(\d{4})-(\d{6,})$")


@pytest.fixture()
def shop_db(autocorp_db: str) -> str:
    """The schema plus a small catalog: 30 parts, 6 services with their parts, 50 customers."""
    insert_catalog(autocorp_db)
    return autocorp_db


def _scalar(dsn: str, sql: str) -> object:
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def _rows_in_order_tables(dsn: str) -> int:
    return int(_scalar(dsn, "SELECT (SELECT count(*) FROM sales_order) + (SELECT count(*) FROM sales_order_parts)"
                            " + (SELECT count(*) FROM sales_order_services)"))  # type: ignore[call-overload]


_BAD_ORDER_TOTALS = """
SELECT count(*) FROM sales_order o
WHERE o.total_amount <> COALESCE((SELECT sum(line_total) FROM sales_order_parts p WHERE p.order_id = o.order_id), 0)
                      + COALESCE((SELECT sum(line_total) FROM sales_order_services s WHERE s.order_id = o.order_id), 0)
   OR NOT EXISTS (SELECT 1 FROM sales_order_parts p WHERE p.order_id = o.order_id
                  UNION ALL SELECT 1 FROM sales_order_services s WHERE s.order_id = o.order_id)
"""
_BAD_PART_LINES = """
SELECT count(*) FROM sales_order_parts l JOIN auto_parts p USING (sku)
WHERE l.unit_price <> p.unit_price OR l.line_total <> l.quantity * p.unit_price
"""
_BAD_SERVICE_LINES = """
SELECT count(*) FROM sales_order_services l JOIN service s USING (serviceid)
WHERE l.labor_minutes <> s.labor_minutes OR l.labor_cost <> s.labor_cost
   OR l.parts_cost <> (SELECT COALESCE(sum(sp.quantity * p.unit_price), 0) FROM service_parts sp
                       JOIN auto_parts p USING (sku) WHERE sp.serviceid = l.serviceid)
   OR l.line_total <> l.labor_cost + l.parts_cost
"""
_BAD_TYPES = """
SELECT count(*) FROM sales_order o
WHERE (o.order_type = 'Parts') <> (EXISTS (SELECT 1 FROM sales_order_parts p WHERE p.order_id = o.order_id)
                                   AND NOT EXISTS (SELECT 1 FROM sales_order_services s WHERE s.order_id = o.order_id))
   OR (o.order_type = 'Service') <> (NOT EXISTS (SELECT 1 FROM sales_order_parts p WHERE p.order_id = o.order_id)
                                     AND EXISTS (SELECT 1 FROM sales_order_services s WHERE s.order_id = o.order_id))
"""


def test_burst_with_updates_and_deletes_keeps_every_amount_consistent(shop_db: str) -> None:
    report = simulate(shop_db, orders=400, update_share=0.3, delete_share=0.1, workers=2, seed=5)

    assert report.orders == 400 and report.payment_changes > 0 and report.quantity_changes > 0
    assert report.cancellations > 0 and report.deletes > report.cancellations  # lines deleted with their orders
    for check in (_BAD_ORDER_TOTALS, _BAD_PART_LINES, _BAD_SERVICE_LINES, _BAD_TYPES):
        assert _scalar(shop_db, check) == 0, check
    with connection(shop_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT order_type, count(*) FROM sales_order GROUP BY 1")
        assert {t for t, n in cur.fetchall() if n > 0} == {"Parts", "Service", "Mixed"}
        cur.execute("SELECT invoice_number, extract(year FROM order_date)::int FROM sales_order")
        invoices = cur.fetchall()
        cur.execute("SELECT count(*) FROM sales_order_parts WHERE updated_at > created_at")
        changed_lines = cur.fetchone()[0]
        cur.execute("SELECT DISTINCT payment_method FROM sales_order")
        methods = {r[0] for r in cur.fetchall()}
    assert changed_lines > 0 and methods <= set(PAYMENT_METHODS) and len(methods) >= 3
    assert len({i for i, _ in invoices}) == len(invoices) == 400 - report.cancellations
    for invoice, year in invoices:
        m = INVOICE.match(invoice)
        assert m and int(m.group(1)) == year, invoice
    # deleted orders left no lines behind: what is left is exactly what was inserted minus what was deleted
    assert _rows_in_order_tables(shop_db) == report.inserts - report.deletes


@pytest.mark.parametrize(("n", "update_share", "delete_share"), [(57, 0.2, 0.1), (20, 0.85, 0.1)])
def test_orders_n_creates_exactly_n_and_the_report_matches_the_database(
        shop_db: str, n: int, update_share: float, delete_share: float) -> None:
    report = simulate(shop_db, orders=n, workers=3, update_share=update_share, delete_share=delete_share, seed=11)

    assert report.orders == n
    assert _scalar(shop_db, "SELECT count(*) FROM sales_order") == n - report.cancellations
    assert _rows_in_order_tables(shop_db) == report.inserts - report.deletes
    assert report.transactions == report.orders + report.payment_changes + report.quantity_changes \
        + report.cancellations
    assert report.row_changes == report.inserts + report.updates + report.deletes
    assert report.updates == report.payment_changes + 2 * report.quantity_changes


def test_invoice_numbers_stay_unique_across_runs_and_concurrent_simulators(shop_db: str) -> None:
    first = simulate(shop_db, orders=30, delete_share=0)
    results: list[SimulationReport] = []
    runs = [threading.Thread(target=lambda s=s: results.append(simulate(shop_db, orders=40, seed=s, delete_share=0)))
            for s in (1, 2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert first.orders == 30 and [r.orders for r in results] == [40, 40]
    with connection(shop_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT invoice_number FROM sales_order ORDER BY order_id")
        numbers = [int(INVOICE.match(r[0]).group(2)) for r in cur.fetchall()]  # type: ignore[union-attr]
    assert len(numbers) == len(set(numbers)) == 110
    assert max(numbers[:30]) < min(numbers[30:])  # a later run continues the sequence


def test_rate_limit_holds_within_ten_percent(shop_db: str) -> None:
    report = simulate(shop_db, rate=400, duration=2.5, workers=2, seed=3)
    assert 2.4 <= report.elapsed_s <= 2.7
    assert 360 <= report.row_changes_per_s <= 440, report
    assert 900 <= report.row_changes <= 1100


def test_unpaced_run_is_far_faster_than_the_paced_one(shop_db: str) -> None:
    report = simulate(shop_db, duration=1.0)
    assert report.row_changes_per_s > 1000, report  # the paced test above really is held back


def test_empty_catalog_is_a_clear_error(autocorp_db: str) -> None:
    with pytest.raises(SeedDataMissing, match=r"auto_parts, service, customers.*autocorp source load"):
        simulate(autocorp_db, orders=5)


@pytest.mark.parametrize("kwargs", [{"update_share": 0.7, "delete_share": 0.3}, {"rate": -1},
                                    {"workers": 0}, {"duration": 0}])
def test_bad_arguments_are_rejected_before_connecting(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        simulate("postgresql://nobody@127.0.0.1:1/none", **kwargs)  # type: ignore[arg-type]


def test_interrupt_returns_the_report_so_far(shop_db: str) -> None:
    seen: list[SimulationReport] = []

    def progress(r: SimulationReport) -> None:
        seen.append(r)
        if len(seen) == 2:
            raise KeyboardInterrupt

    report = simulate(shop_db, rate=200, duration=30, progress=progress)
    assert report.elapsed_s < 5 and report.orders > 0
    assert report.row_changes >= seen[-1].row_changes
    assert _rows_in_order_tables(shop_db) == report.inserts - report.deletes


def test_build_order_amounts_add_up() -> None:
    catalog = Catalog((Part("A", Decimal("2.50")), Part("B", Decimal("10.00"))),
                      (Service("00000001", 30, Decimal("45.00"), Decimal("90.00")),), (1, 2))
    rng = random.Random(1)
    plans = [build_order(rng, catalog) for _ in range(200)]
    assert {p.order_type for p in plans} == {"Parts", "Service", "Mixed"}
    for p in plans:
        expected = sum(line.quantity * line.unit_price for line in p.part_lines) + 135 * len(p.service_lines)
        assert p.total == expected and p.row_count == 1 + len(p.part_lines) + len(p.service_lines)


def test_cli_simulate_json_report(shop_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCORP_SOURCE__DSN", shop_db)
    monkeypatch.setenv("AUTOCORP_SOURCE__DATABASE", dsn_param(shop_db, "dbname") or "")
    res = CliRunner().invoke(app, ["--json", "source", "simulate", "--orders", "25", "--workers", "2"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["orders"] == 25 and data["row_changes"] == data["inserts"] + data["updates"] + data["deletes"]
    assert _scalar(shop_db, "SELECT count(*) FROM sales_order") == 25 - data["cancellations"]


def test_cli_simulate_on_empty_catalog_says_what_to_do(autocorp_db: str, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AUTOCORP_SOURCE__DSN", autocorp_db)
    monkeypatch.setenv("AUTOCORP_SOURCE__DATABASE", dsn_param(autocorp_db, "dbname") or "")
    monkeypatch.setattr(sys, "argv", ["autocorp", "source", "simulate", "--orders", "5"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "run `autocorp source load` first" in lines[0]
