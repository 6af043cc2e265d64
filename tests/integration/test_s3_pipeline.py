"""The whole chain on an ``s3://`` lake (moto server): real PostgreSQL -> capture -> curate -> Delta on S3.

Curated tables are read back with deltalake straight from S3 and compared with the source, row for row.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from deltalake import DeltaTable
from shop import insert_catalog

from autocorp.capture import slot as slots
from autocorp.curate.runner import Curate
from autocorp.errors import LakeError
from autocorp.lake import layout
from autocorp.lake.storage import S3Options, Storage
from autocorp.pipeline import Pipeline
from autocorp.settings import Settings
from autocorp.source.connect import connection, dsn_param
from autocorp.source.embedded import free_port
from autocorp.source.simulate import simulate

TABLES = ["auto_parts", "service", "service_parts", "customers", "sales_order", "sales_order_parts",
          "sales_order_services"]


def _s3_settings(dsn: str, root: str, endpoint: str, name: str) -> Settings:
    return Settings(env="dev", lake={"root": root, "s3_endpoint": endpoint},
                    source={"dsn": dsn, "database": dsn_param(dsn, "dbname")},
                    capture={"slot": name, "publication": name, "flush_interval_s": 0.2, "heartbeat_s": 2.0},
                    curate={"models": True})


@pytest.fixture()
def s3_shop(autocorp_db: str, s3_endpoint: str, s3_bucket: str) -> Iterator[tuple[str, Settings]]:
    """A source database with a small catalog and settings whose lake is ``s3://<bucket>/lake``."""
    insert_catalog(autocorp_db, parts=20, services=5, customers=30, seed=7, max_parts_per_service=6)
    settings = _s3_settings(autocorp_db, f"s3://{s3_bucket}/lake", s3_endpoint, f"s3_{uuid.uuid4().hex[:10]}")
    yield autocorp_db, settings
    slots.drop_slot(autocorp_db, settings.slot_name)


def _source_rows(dsn: str, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")
        return [d[0] for d in cur.description], sorted(cur.fetchall())


def _curated_rows(storage: Storage, table: str, cols: list[str]) -> list[tuple[Any, ...]]:
    dt = DeltaTable(storage.uri(layout.curated_table(table)), storage_options=storage.storage_options())
    return sorted(tuple(r[c] for c in cols) for r in dt.to_pyarrow_table(columns=cols).to_pylist())


def _assert_lake_equals_source(dsn: str, storage: Storage) -> None:
    for table in TABLES:
        cols, expected = _source_rows(dsn, table)
        assert expected, f"source table {table} is empty: the test would prove nothing"
        assert _curated_rows(storage, table, cols) == expected, f"curated/{table} on S3 differs from the source"


def test_capture_and_curate_on_s3_equal_the_source(s3_shop: tuple[str, Settings]) -> None:
    dsn, settings = s3_shop
    simulate(dsn, orders=40, update_share=0.3, delete_share=0.1, seed=1)
    Pipeline(settings).capture(until_caught_up=True)
    curate = Curate(settings)
    assert curate.storage.is_s3 and curate.storage.uri().startswith("s3://")
    assert curate.storage.list_files(layout.raw_table_dir("public", "sales_order"), ".parquet"), \
        "capture wrote no raw files to S3"
    report = curate.run_once()
    assert report.ok, report
    _assert_lake_equals_source(dsn, curate.storage)

    simulate(dsn, orders=25, update_share=0.4, delete_share=0.2, seed=2)
    Pipeline(settings).capture(until_caught_up=True)
    report = curate.run_once(optimize=True)
    assert report.ok, report
    merged = {t.table: t for t in report.tables}
    assert merged["sales_order"].status == "merged" and merged["sales_order"].inserted > 0, report
    assert {m.model: m.status for m in report.models} == dict.fromkeys(
        ["daily_revenue_by_category", "sales_order_facts", "service_parts_usage"], "built"), report.models
    assert report.maintenance and all(m.error is None and m.checkpoint_version is not None
                                      for m in report.maintenance), report.maintenance
    _assert_lake_equals_source(dsn, curate.storage)
    with connection(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), sum(total_amount) FROM sales_order")
        orders, revenue = cur.fetchone()
    facts = _curated_rows(curate.storage, "sales_order_facts", ["order_id", "total_amount"])
    assert len(facts) == orders and sum(f[1] for f in facts) == revenue


def _dead_endpoint() -> str:
    """An http endpoint on 127.0.0.1 where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


def test_capture_and_curate_fail_fast_on_an_unreachable_endpoint(autocorp_db: str) -> None:
    endpoint = _dead_endpoint()
    settings = _s3_settings(autocorp_db, "s3://nowhere-bucket/lake", endpoint, f"s3_{uuid.uuid4().hex[:10]}")
    for run in (lambda: Pipeline(settings).capture(until_caught_up=True), lambda: Curate(settings).run_once()):
        t0 = time.monotonic()
        with pytest.raises(LakeError) as info:
            run()
        assert time.monotonic() - t0 < 5, "a dead S3 endpoint must fail in seconds, not retry for minutes"
        message = str(info.value)
        assert endpoint in message and "lake.s3_endpoint" in message, message
    with connection(autocorp_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_publication WHERE pubname = %s", (settings.publication_name,))
        assert cur.fetchone()[0] == 0, "capture touched the source before checking the lake"
    assert not slots.drop_slot(autocorp_db, settings.slot_name)


def test_missing_bucket_is_named_with_the_fix(s3_endpoint: str) -> None:
    storage = Storage("s3://no-such-bucket-here/lake", S3Options(endpoint=s3_endpoint))
    with pytest.raises(LakeError, match=r"bucket 'no-such-bucket-here' does not exist at endpoint .*aws s3 mb"):
        storage.read_bytes(layout.checkpoint_file("x"))


def test_endpoint_that_never_answers_fails_within_the_check_timeout() -> None:
    """A server that accepts connections and never replies (what the in-process moto deadlock looked like)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        storage = Storage("s3://silent-bucket/lake", S3Options(endpoint=endpoint, check_timeout_s=1.0))
        t0 = time.monotonic()
        with pytest.raises(LakeError, match="cannot reach S3 bucket 'silent-bucket' at endpoint http://127.0.0.1"):
            storage.list_files("raw")
        assert time.monotonic() - t0 < 4
