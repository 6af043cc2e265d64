"""The query layer over each lake backend (local folder, s3:// on the moto server): same lake, same answers.

The lake holds curated Delta rows plus unmerged raw changes, so the real-time view's merge, the read-optimized
view and a design query (queries/design_04_service_with_parts.sql) all read through the backend under test.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from query_lake import TestLake

from autocorp.errors import QueryError
from autocorp.lake.storage import Storage
from autocorp.query.session import LakeConfig, LakeSession, s3_access
from autocorp.settings import QuerySettings

DESIGN_04 = Path(__file__).parents[2] / "queries" / "design_04_service_with_parts.sql"
SERVICE = pa.schema([("serviceid", pa.string()), ("service", pa.string()), ("category", pa.string()),
                     ("labor_minutes", pa.int32()), ("labor_cost", pa.decimal128(10, 2))])
SERVICE_PARTS = pa.schema([("serviceid", pa.string()), ("sku", pa.string()), ("quantity", pa.int32())])


def svc(lsn: int, sid: str, name: str, cost: str, op: str = "I") -> dict:
    return {"Op": op, "_lsn": lsn, "serviceid": sid, "service": name, "category": "Brakes", "labor_minutes": 30,
            "labor_cost": Decimal(cost)}


def part(lsn: int, sid: str, sku: str, qty: int, op: str = "I") -> dict:
    return {"Op": op, "_lsn": lsn, "serviceid": sid, "sku": sku, "quantity": qty}


@pytest.fixture()
def lake(lake_storage: Storage) -> TestLake:
    """Delta at LSN 100; raw changes up to 250 unmerged (an update, an insert, a delete per table)."""
    lk = TestLake(lake_storage)
    lk.define("service", SERVICE, ["serviceid"])
    lk.define("service_parts", SERVICE_PARTS, ["serviceid", "sku"])
    services = [svc(100, "48392017", "Brake Pad Replacement", "45.00"), svc(100, "10000001", "Oil Change", "20.00")]
    parts = [part(100, "48392017", "SKU-001", 2), part(100, "48392017", "SKU-002", 1),
             part(100, "10000001", "SKU-009", 1)]
    for table, rows in (("service", services), ("service_parts", parts)):
        lk.write_cdc(table, rows)
        lk.merge(table, rows, 100)
    lk.write_cdc("service", [svc(200, "48392017", "Brake Pads (front)", "47.50", "U"),
                             svc(210, "10000002", "Tire Rotation", "25.00")])
    lk.write_cdc("service_parts", [part(220, "48392017", "SKU-002", 4, "U"), part(230, "48392017", "SKU-007", 1),
                                   {"Op": "D", "_lsn": 240, "serviceid": "48392017", "sku": "SKU-001"}])
    lk.write_cdc("service_parts", [part(300, "48392017", "SKU-008", 1)])  # above the checkpoint: invisible
    lk.checkpoint(250)
    return lk


def open_session(lake: TestLake, sandboxed: bool = False) -> LakeSession:
    return LakeSession(LakeConfig(lake.storage, lake.pipeline, QuerySettings()), sandboxed=sandboxed, threads=1)


def test_realtime_and_read_optimized_views(lake: TestLake) -> None:
    s = open_session(lake)
    try:
        realtime = s.run("SELECT serviceid, service, labor_cost FROM service ORDER BY serviceid").to_pylist()
        assert [tuple(r.values()) for r in realtime] == [("10000001", "Oil Change", Decimal("20.00")),
                                                         ("10000002", "Tire Rotation", Decimal("25.00")),
                                                         ("48392017", "Brake Pads (front)", Decimal("47.50"))]
        ro = s.run("SELECT serviceid, service FROM service_ro ORDER BY serviceid").to_pylist()
        assert [tuple(r.values()) for r in ro] == [("10000001", "Oil Change"), ("48392017", "Brake Pad Replacement")]
    finally:
        s.close()


def test_design_query_reads_unmerged_changes(lake: TestLake) -> None:
    s = open_session(lake, sandboxed=True)
    try:
        got = [tuple(r.values()) for r in s.run(DESIGN_04.read_text()).to_pylist()]
    finally:
        s.close()
    name, cost = "Brake Pads (front)", Decimal("47.50")
    assert got == [(name, "Brakes", cost, "SKU-002", 4), (name, "Brakes", cost, "SKU-007", 1)]


def test_sandbox_keeps_reads_inside_the_lake(lake: TestLake) -> None:
    s = open_session(lake, sandboxed=True)
    try:
        outside = lake.storage.uri().rsplit("/", 1)[0] + "/elsewhere/x.parquet"
        with pytest.raises(QueryError, match="Permission Error"):
            s.run(f"SELECT * FROM read_parquet('{outside}')")
        assert s.run("SELECT count(*) AS n FROM service_parts").column("n")[0].as_py() == 3
    finally:
        s.close()


def test_s3_secret_takes_endpoint_region_and_environment_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from autocorp.lake.storage import S3Options

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "se'cret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    sql = s3_access(Storage("s3://bucket/lake", S3Options(endpoint="http://127.0.0.1:9000",
                                                          region="eu-west-1"))).secret_sql()
    for part_ in ("REGION 'eu-west-1'", "KEY_ID 'AKIDEXAMPLE'", "SECRET 'se''cret'", "ENDPOINT '127.0.0.1:9000'",
                  "URL_STYLE 'path'", "USE_SSL false"):
        assert part_ in sql
    assert "SESSION_TOKEN" not in sql
    aws = s3_access(Storage("s3://bucket/lake", S3Options(region="us-east-2"))).secret_sql()
    assert "ENDPOINT" not in aws and "USE_SSL" not in aws and "URL_STYLE" not in aws
