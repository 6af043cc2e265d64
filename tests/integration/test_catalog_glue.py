"""`autocorp catalog sync` against a real S3 + Glue API (the moto server of ``s3_endpoint``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pytest
import typer
from deltalake import write_deltalake
from typer.testing import CliRunner

from autocorp.catalog.hive import hive_type
from autocorp.catalog.sync import sync_catalog
from autocorp.cli import catalog_cmd
from autocorp.cli.context import Context
from autocorp.errors import CatalogError
from autocorp.lake.storage import S3Options, Storage
from autocorp.settings import Settings, load_settings
from autocorp.source.embedded import free_port

ORDERS = pa.schema([
    ("sales_order_id", pa.int64()), ("customer_id", pa.int32()), ("order_date", pa.date32()),
    ("total_amount", pa.decimal128(12, 2)), ("status", pa.string()), ("paid", pa.bool_()),
    ("_lsn", pa.int64()), ("_commit_ts", pa.timestamp("us", tz="UTC")),
])
REVENUE = pa.schema([("day", pa.date32()), ("category", pa.string()), ("revenue", pa.decimal128(38, 2)),
                     ("share", pa.float64()), ("tags", pa.list_(pa.string())), ("photo", pa.binary()),
                     ("updated_at", pa.timestamp("us"))])


def _orders(n: int = 3) -> pa.Table:
    ts = datetime(2024, 5, 1, 12, tzinfo=UTC)
    return pa.table({"sales_order_id": list(range(1, n + 1)), "customer_id": [7] * n,
                     "order_date": [date(2024, 5, 1)] * n, "total_amount": [Decimal("19.99")] * n,
                     "status": ["open"] * n, "paid": [False] * n, "_lsn": list(range(n)), "_commit_ts": [ts] * n},
                    schema=ORDERS)


def _revenue() -> pa.Table:
    return pa.table({"day": [date(2024, 5, 1)], "category": ["brakes"], "revenue": [Decimal("100.50")],
                     "share": [0.25], "tags": [["a", "b"]], "photo": [b"\x00"], "updated_at": [datetime(2024, 5, 2)]},
                    schema=REVENUE)


@pytest.fixture()
def s3_settings(s3_endpoint: str, s3_bucket: str) -> Settings:
    return load_settings("dev", lake={"root": f"s3://{s3_bucket}/lake", "s3_endpoint": s3_endpoint},
                         catalog={"endpoint": s3_endpoint, "database": f"autocorp_t{uuid.uuid4().hex[:8]}"})


@pytest.fixture()
def storage(s3_settings: Settings) -> Storage:
    return Storage(s3_settings.lake.root, S3Options(endpoint=s3_settings.lake.s3_endpoint))


@pytest.fixture()
def glue(s3_endpoint: str) -> Any:
    return boto3.client("glue", endpoint_url=s3_endpoint, region_name="us-east-1")


def _write(storage: Storage, name: str, table: pa.Table, **kw: Any) -> None:
    write_deltalake(storage.uri(f"curated/{name}"), table, storage_options=storage.storage_options(), **kw)


def _columns(glue: Any, db: str, name: str) -> dict[str, str]:
    cols = glue.get_table(DatabaseName=db, Name=name)["Table"]["StorageDescriptor"]["Columns"]
    return {c["Name"]: c["Type"] for c in cols}


def test_hive_types_of_arrow_types() -> None:
    cases = {pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.int64(): "bigint",
             pa.uint32(): "bigint", pa.uint64(): "decimal(20,0)", pa.float32(): "float", pa.float64(): "double",
             pa.bool_(): "boolean", pa.string(): "string", pa.large_string(): "string", pa.binary(): "binary",
             pa.decimal128(12, 2): "decimal(12,2)", pa.decimal256(50, 4): "string", pa.date32(): "date",
             pa.timestamp("us", tz="UTC"): "timestamp", pa.timestamp("ns"): "timestamp", pa.time64("us"): "string",
             pa.list_(pa.int64()): "array<bigint>", pa.map_(pa.string(), pa.float64()): "map<string,double>",
             pa.struct([("a", pa.int32()), ("b", pa.list_(pa.date32()))]): "struct<a:int,b:array<date>>",
             pa.dictionary(pa.int32(), pa.string()): "string"}
    assert {str(t): hive_type(t) for t in cases} == {str(t): v for t, v in cases.items()}
    with pytest.raises(CatalogError, match="no Glue/Hive equivalent"):
        hive_type(pa.duration("s"))


def test_sync_registers_delta_tables_for_athena(s3_settings: Settings, storage: Storage, glue: Any) -> None:
    _write(storage, "sales_order", _orders())
    _write(storage, "daily_revenue_by_category", _revenue())
    storage.write_bytes("curated/not_a_table/readme.txt", b"no _delta_log here")
    db = s3_settings.catalog_database

    report = sync_catalog(s3_settings)

    assert report.database_created and report.database == db
    assert [(t.table, t.action) for t in report.tables] == [("daily_revenue_by_category", "created"),
                                                           ("sales_order", "created")]
    assert sorted(t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"]) == \
        ["daily_revenue_by_category", "sales_order"]
    t = glue.get_table(DatabaseName=db, Name="sales_order")["Table"]
    location = storage.uri("curated/sales_order")
    assert location.startswith("s3://") and t["StorageDescriptor"]["Location"] == location
    assert t["TableType"] == "EXTERNAL_TABLE"
    assert t["Parameters"]["table_type"] == "DELTA" and t["Parameters"]["spark.sql.sources.provider"] == "delta"
    assert t["StorageDescriptor"]["SerdeInfo"]["Parameters"]["path"] == location
    assert _columns(glue, db, "sales_order") == {
        "sales_order_id": "bigint", "customer_id": "int", "order_date": "date", "total_amount": "decimal(12,2)",
        "status": "string", "paid": "boolean", "_lsn": "bigint", "_commit_ts": "timestamp"}
    assert _columns(glue, db, "daily_revenue_by_category") == {
        "day": "date", "category": "string", "revenue": "decimal(38,2)", "share": "double",
        "tags": "array<string>", "photo": "binary", "updated_at": "timestamp"}
    assert glue.get_database(Name=db)["Database"]["LocationUri"] == storage.uri("curated")


def test_second_sync_changes_nothing_and_new_column_updates(s3_settings: Settings, storage: Storage,
                                                            glue: Any) -> None:
    _write(storage, "sales_order", _orders())
    _write(storage, "part", pa.table({"part_id": [1], "name": ["pad"]}))
    db = s3_settings.catalog_database
    sync_catalog(s3_settings)
    versions_before = len(glue.get_table_versions(DatabaseName=db, TableName="sales_order")["TableVersions"])

    again = sync_catalog(s3_settings)
    assert {t.table: t.action for t in again.tables} == {"part": "unchanged", "sales_order": "unchanged"}
    assert not again.database_created
    assert len(glue.get_table_versions(DatabaseName=db, TableName="sales_order")["TableVersions"]) == versions_before

    more = _orders(1).append_column("discount", pa.array([Decimal("1.5")], pa.decimal128(5, 2)))
    _write(storage, "sales_order", more, mode="append", schema_mode="merge")  # curate's schema evolution
    third = sync_catalog(s3_settings)
    changed = {t.table: (t.action, t.changes) for t in third.tables}
    assert changed == {"part": ("unchanged", ()), "sales_order": ("updated", ("columns",))}
    assert _columns(glue, db, "sales_order")["discount"] == "decimal(5,2)"
    assert len(glue.get_table_versions(DatabaseName=db, TableName="sales_order")["TableVersions"]) == \
        versions_before + 1
    assert list(_columns(glue, db, "sales_order"))[-1] == "discount"


def test_stale_tables_kept_unless_prune(s3_settings: Settings, storage: Storage, glue: Any) -> None:
    _write(storage, "sales_order", _orders())
    _write(storage, "old_model", pa.table({"x": [1]}))
    sync_catalog(s3_settings)
    storage.delete_dir("curated/old_model")
    db = s3_settings.catalog_database

    kept = sync_catalog(s3_settings)
    assert {t.table: t.action for t in kept.tables} == {"sales_order": "unchanged", "old_model": "stale"}
    assert glue.get_table(DatabaseName=db, Name="old_model")

    pruned = sync_catalog(s3_settings, prune=True)
    assert {t.table: t.action for t in pruned.tables} == {"sales_order": "unchanged", "old_model": "pruned"}
    assert [t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"]] == ["sales_order"]


def test_prefix_and_foreign_table_of_same_name(s3_settings: Settings, storage: Storage, glue: Any) -> None:
    _write(storage, "sales_order", _orders())
    db = s3_settings.catalog_database
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=db, TableInput={"Name": "sales_order", "Parameters": {"owner": "someone"}})

    with pytest.raises(CatalogError, match=rf"'{db}\.sales_order' exists but was not created by .*table_prefix"):
        sync_catalog(s3_settings)
    assert glue.get_table(DatabaseName=db, Name="sales_order")["Table"]["Parameters"] == {"owner": "someone"}

    catalog = s3_settings.catalog.model_copy(update={"table_prefix": "ac_"})
    prefixed = s3_settings.model_copy(update={"catalog": catalog})
    report = sync_catalog(prefixed)
    assert [(t.glue_table, t.action) for t in report.tables] == [("ac_sales_order", "created")]


def test_database_defaults_to_env_and_env_vars_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings("staging").catalog_database == "autocorp_staging"
    monkeypatch.setenv("AUTOCORP_CATALOG__DATABASE", "lake_prod")
    monkeypatch.setenv("AUTOCORP_CATALOG__TABLE_PREFIX", "ac_")
    settings = load_settings("prod")
    assert (settings.catalog_database, settings.catalog.table_prefix) == ("lake_prod", "ac_")


def test_local_lake_is_refused(tmp_path: Path) -> None:
    settings = load_settings("dev", lake={"root": str(tmp_path / "lake")})
    with pytest.raises(CatalogError, match=r"needs the lake on S3.*s3://bucket/prefix"):
        sync_catalog(settings)


def test_unreachable_glue_endpoint_names_database(s3_settings: Settings, storage: Storage) -> None:
    _write(storage, "sales_order", _orders())
    dead = f"http://127.0.0.1:{free_port()}"
    settings = s3_settings.model_copy(update={"catalog": s3_settings.catalog.model_copy(update={"endpoint": dead})})
    with pytest.raises(CatalogError, match=rf"database '{settings.catalog_database}' \(endpoint {dead}\).*credentials"):
        sync_catalog(settings)


def test_cli_catalog_sync_json(s3_settings: Settings, storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(storage, "sales_order", _orders())
    for key, value in {"LAKE__ROOT": s3_settings.lake.root, "LAKE__S3_ENDPOINT": s3_settings.lake.s3_endpoint,
                       "CATALOG__ENDPOINT": s3_settings.catalog.endpoint,
                       "CATALOG__DATABASE": s3_settings.catalog_database}.items():
        monkeypatch.setenv(f"AUTOCORP_{key}", str(value))
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Context("dev", False, False)

    catalog_cmd.register(app)
    first = CliRunner().invoke(app, ["catalog", "sync", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "stale": 0, "pruned": 0}
    second = CliRunner().invoke(app, ["catalog", "sync"])
    assert second.exit_code == 0 and "1 unchanged" in second.stdout
    listed = CliRunner().invoke(app, ["catalog", "tables", "--json"])
    cols = json.loads(listed.stdout)["tables"][0]["columns"]
    assert {"name": "total_amount", "type": "decimal(12,2)"} in cols
