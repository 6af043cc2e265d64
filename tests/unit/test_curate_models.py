"""Analytics models built from curated tables shaped like the AutoCorp source (V001__tables.sql)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from test_curate_rawzone import RawZone, make_curate

from autocorp.curate.models import discover_models
from autocorp.lake import layout

TS = pa.timestamp("us", tz="UTC")
MONEY, TOTAL = pa.decimal128(10, 2), pa.decimal128(12, 2)
STAMPS = [pa.field("created_at", TS), pa.field("updated_at", TS)]
SCHEMAS = {
    "auto_parts": ([("sku", pa.string()), ("name", pa.string()), ("category", pa.string()), ("brand", pa.string()),
                    ("unit_price", MONEY), ("cost", MONEY), ("stock_quantity", pa.int32())], ["sku"]),
    "service": ([("serviceid", pa.string()), ("service", pa.string()), ("category", pa.string()),
                 ("labor_minutes", pa.int32()), ("labor_cost", MONEY)], ["serviceid"]),
    "service_parts": ([("serviceid", pa.string()), ("sku", pa.string()), ("quantity", pa.int32())],
                      ["serviceid", "sku"]),
    "customers": ([("customer_id", pa.int64()), ("first_name", pa.string()), ("last_name", pa.string()),
                   ("email", pa.string()), ("state", pa.string())], ["customer_id"]),
    "sales_order": ([("order_id", pa.int64()), ("customer_id", pa.int64()), ("order_date", TS),
                     ("invoice_number", pa.string()), ("payment_method", pa.string()), ("total_amount", TOTAL),
                     ("order_type", pa.string())], ["order_id"]),
    "sales_order_parts": ([("line_id", pa.int64()), ("order_id", pa.int64()), ("sku", pa.string()),
                           ("quantity", pa.int32()), ("unit_price", MONEY), ("line_total", TOTAL)], ["line_id"]),
    "sales_order_services": ([("line_id", pa.int64()), ("order_id", pa.int64()), ("serviceid", pa.string()),
                              ("labor_minutes", pa.int32()), ("labor_cost", MONEY), ("parts_cost", MONEY),
                              ("line_total", TOTAL)], ["line_id"]),
}
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)


def stamp(r: dict) -> dict:
    return {**r, "created_at": T0, "updated_at": T0}


def seed(zone: RawZone) -> None:
    for name, (cols, key) in SCHEMAS.items():
        zone.define(name, pa.schema([pa.field(c, t) for c, t in cols] + STAMPS), key)
    zone.load("auto_parts", [stamp({"sku": s, "name": f"part {s}", "category": c, "brand": "b", "unit_price": D(p),
                                    "cost": D("1.00"), "stock_quantity": 10})
                             for s, c, p in [("P1", "Brakes", "10.00"), ("P2", "Filters", "4.50")]])
    zone.load("service", [stamp({"serviceid": "00000001", "service": "brake job", "category": "Brakes",
                                 "labor_minutes": 60, "labor_cost": D("80.00")})])
    zone.load("service_parts", [stamp({"serviceid": "00000001", "sku": "P1", "quantity": 2}),
                                stamp({"serviceid": "00000001", "sku": "P2", "quantity": 1})])
    zone.load("customers", [stamp({"customer_id": i, "first_name": "f", "last_name": "l", "email": f"{i}@x.io",
                                   "state": st}) for i, st in [(1, "TX"), (2, "CA")]])
    zone.load("sales_order", [stamp({"order_id": o, "customer_id": c, "order_date": d, "invoice_number": f"INV-1-{o}",
                                     "payment_method": "Cash", "total_amount": D(t), "order_type": k})
                              for o, c, d, t, k in [(1, 1, T0, "24.50", "Parts"), (2, 2, DAY2, "104.50", "Service"),
                                                    (3, 1, DAY2, "114.50", "Mixed")]])
    zone.load("sales_order_parts", [stamp({"line_id": i, "order_id": o, "sku": s, "quantity": q, "unit_price": D(p),
                                           "line_total": D(p) * q})
                                    for i, o, s, q, p in [(1, 1, "P1", 2, "10.00"), (2, 1, "P2", 1, "4.50"),
                                                          (3, 3, "P1", 1, "10.00")]])
    zone.load("sales_order_services", [stamp({"line_id": i, "order_id": o, "serviceid": "00000001",
                                              "labor_minutes": 60, "labor_cost": D("80.00"), "parts_cost": D("24.50"),
                                              "line_total": D("104.50")}) for i, o in [(1, 2), (2, 3)]])
    zone.checkpoint()


def model(curate, name: str) -> list[dict]:  # noqa: ANN001
    return DeltaTable(curate.storage.uri(layout.curated_table(name))).to_pyarrow_table().to_pylist()


def test_packaged_models_declare_inputs() -> None:
    names = {m.name: m for m in discover_models()}
    assert set(names) == {"sales_order_facts", "daily_revenue_by_category", "service_parts_usage"}
    assert all(set(m.inputs) <= set(SCHEMAS) for m in names.values())


def test_models_built_and_rebuilt_only_on_change(tmp_path: Path) -> None:
    zone = RawZone(tmp_path / "lake")
    seed(zone)
    curate = make_curate(tmp_path, models=True)
    report = curate.run_once()
    assert report.ok and {m.model: m.status for m in report.models} == dict.fromkeys(
        ["daily_revenue_by_category", "sales_order_facts", "service_parts_usage"], "built")
    facts = {r["order_id"]: r for r in model(curate, "sales_order_facts")}
    assert (facts[1]["customer_state"], facts[1]["parts_amount"], facts[1]["service_amount"]) == ("TX", D("24.50"), 0)
    assert (facts[3]["parts_amount"], facts[3]["service_amount"], facts[3]["labor_amount"]) == \
        (D("10.00"), D("104.50"), D("80.00"))
    assert all(f["parts_amount"] + f["service_amount"] == f["total_amount"] for f in facts.values())
    daily = {(r["day"].isoformat(), r["line_kind"], r["category"]): r["revenue"]
             for r in model(curate, "daily_revenue_by_category")}
    assert daily == {("2026-11-20", "parts", "Brakes"): D("20.00"), ("2026-11-20", "parts", "Filters"): D("4.50"),
                     ("2026-11-21", "parts", "Brakes"): D("10.00"), ("2026-11-21", "service", "Brakes"): D("209.00")}
    usage = {r["sku"]: (r["services_sold"], r["parts_used"], r["parts_value"])
             for r in model(curate, "service_parts_usage")}
    assert usage == {"P1": (2, 4, D("40.00")), "P2": (2, 2, D("9.00"))}

    assert {m.status for m in curate.run_once().models} == {"current"}  # no input changed
    zone.cdc("sales_order_parts", [[("I", stamp({"line_id": 4, "order_id": 1, "sku": "P2", "quantity": 2,
                                                 "unit_price": D("4.50"), "line_total": D("9.00")}))]])
    zone.checkpoint()
    statuses = {m.model: m.status for m in curate.run_once().models}
    assert statuses == {"daily_revenue_by_category": "built", "sales_order_facts": "built",
                        "service_parts_usage": "current"}
    facts = {r["order_id"]: r for r in model(curate, "sales_order_facts")}
    assert facts[1]["parts_amount"] == D("33.50") and facts[1]["part_lines"] == 3


def test_composite_key_merge(tmp_path: Path) -> None:
    zone = RawZone(tmp_path / "lake")
    seed(zone)
    zone.cdc("service_parts", [[("U", stamp({"serviceid": "00000001", "sku": "P2", "quantity": 5})),
                                ("D", {"serviceid": "00000001", "sku": "P1"})]])
    zone.checkpoint()
    curate = make_curate(tmp_path)
    assert curate.run_once().ok
    assert [(r["sku"], r["quantity"]) for r in model(curate, "service_parts")] == [("P2", 5)]
