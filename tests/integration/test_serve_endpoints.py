"""`autocorp serve`: the real psql client and HTTP clients against the sandboxed lake endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from query_lake import TestLake

from autocorp.query import serve_http, serve_pg
from autocorp.query.session import LakeConfig, LakeSession
from autocorp.settings import QuerySettings

PSQL = "/usr/bin/psql"
ORDER = pa.schema([("order_id", pa.int64()), ("invoice_number", pa.string()), ("total_amount", pa.decimal128(12, 2))])


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeSession]:
    lk = TestLake(str(tmp_path_factory.mktemp("serve") / "lake"))
    lk.define("sales_order", ORDER, ["order_id"])
    rows = [{"Op": "I", "_lsn": 100, "order_id": i, "invoice_number": f"INV-2026-{i}",
             "total_amount": Decimal(f"{i}.25")} for i in range(1, 6)]
    lk.write_cdc("sales_order", rows)
    lk.merge("sales_order", rows, 100)
    lk.write_cdc("sales_order", [{"Op": "D", "_lsn": 200, "order_id": 5}])
    lk.checkpoint(200)
    session = LakeSession(LakeConfig(lk.storage, lk.pipeline, QuerySettings(statement_timeout_s=5)),
                          sandboxed=True, threads=1)
    yield session
    session.close()


@pytest.fixture(scope="module")
def pg(lake: LakeSession) -> Iterator[int]:
    server = serve_pg.start(lake, "127.0.0.1", 0, None)
    yield server.port
    server.stop()


@pytest.fixture(scope="module")
def http(lake: LakeSession) -> Iterator[int]:
    server = serve_http.start(lake, "127.0.0.1", 0, None)
    yield server.port
    server.stop()


def psql(port: int, command: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5", "PGPASSWORD": password or ""}
    return subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(port), "-U", "lake", "-d", "lake", "-X", "-A",
                           "-v", "ON_ERROR_STOP=1", "-c", command], capture_output=True, text=True, env=env,
                          timeout=30)


def post(port: int, sql: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/query", data=json.dumps({"sql": sql}).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_psql_runs_queries_on_the_realtime_view(pg: int) -> None:
    res = psql(pg, "SELECT count(*), sum(total_amount) FROM sales_order")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1] == "4|11.00"  # order 5 deleted in the raw zone, not yet merged


def test_psql_and_http_run_time_travel_table_functions(pg: int, http: int) -> None:
    sql = ("SELECT a.n AS before_delete, b.n AS after_delete "
           "FROM (SELECT count(*) AS n FROM sales_order_at_lsn(100)) a, "
           "(SELECT count(*) AS n FROM sales_order_at_lsn('0/C8')) b")
    res = psql(pg, sql)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1] == "5|4"
    status, body = post(http, sql)
    assert status == 200 and json.loads(body)["rows"] == [[5, 4]], body
    assert "_at_" not in psql(pg, "\\dt").stdout


def test_psql_backslash_dt_and_d(pg: int) -> None:
    dt = psql(pg, "\\dt")
    assert dt.returncode == 0, dt.stderr
    assert "main|sales_order|table|lake" in dt.stdout and "main|sales_order_ro|table|lake" in dt.stdout
    d = psql(pg, "\\d sales_order")
    assert d.returncode == 0, d.stderr
    assert "total_amount|numeric(12,2)" in d.stdout and "invoice_number|character varying" in d.stdout


def test_psql_password_required_when_configured(lake: LakeSession) -> None:
    server = serve_pg.start(lake, "127.0.0.1", 0, "s3cret")
    try:
        assert psql(server.port, "SELECT 1", "wrong").returncode != 0
        ok = psql(server.port, "SELECT 41 + 1", "s3cret")
        assert ok.returncode == 0 and ok.stdout.splitlines()[1] == "42", ok.stderr
    finally:
        server.stop()


def test_http_json_and_arrow(http: int) -> None:
    status, body = post(http, "SELECT order_id, total_amount FROM sales_order ORDER BY order_id")
    assert status == 200
    data = json.loads(body)
    assert data["columns"] == ["order_id", "total_amount"] and data["rows"][0] == [1, "1.25"]
    status, body = post(http, "SELECT count(*) AS n FROM sales_order_ro",
                        {"Accept": serve_http.ARROW_STREAM})
    assert status == 200 and pa.ipc.open_stream(body).read_all().to_pylist() == [{"n": 5}]


def test_http_token(lake: LakeSession) -> None:
    server = serve_http.start(lake, "127.0.0.1", 0, "tok")
    try:
        assert post(server.port, "SELECT 1")[0] == 401
        assert post(server.port, "SELECT 1", {"Authorization": "Bearer tok"})[0] == 200
    finally:
        server.stop()


def rejected_statements(tmp: Path) -> list[str]:
    return [f"COPY (SELECT * FROM sales_order) TO '{tmp}/out.csv'", f"ATTACH '{tmp}/x.duckdb' AS x",
            "INSTALL httpfs", "LOAD httpfs", "SELECT * FROM read_csv('/etc/passwd')",
            "SET memory_limit = '64GB'", "SET enable_external_access = true", "SELECT 1; SELECT 2",
            "CREATE TABLE t AS SELECT 1 AS a", "DROP VIEW sales_order",
            "CREATE OR REPLACE VIEW sales_order AS SELECT 1", "INSERT INTO sales_order (order_id) VALUES (99)",
            "DELETE FROM sales_order", "UPDATE sales_order SET order_id = 0",
            "SELECT * FROM query('DELETE FROM sales_order')"]


def state(lake: LakeSession) -> tuple:
    eng = lake.cursor()
    try:
        return (eng.rows("SELECT count(*) FROM sales_order")[0][0],
                eng.rows("SELECT current_setting('memory_limit'), current_setting('enable_external_access')")[0],
                sorted(r[0] for r in eng.rows("SELECT table_name FROM information_schema.tables")))
    finally:
        eng.close()


@pytest.mark.parametrize("endpoint", ["psql", "http"])
def test_sandbox_rejects_and_changes_nothing(lake: LakeSession, pg: int, http: int, tmp_path: Path,
                                             endpoint: str) -> None:
    before = state(lake)
    for sql in rejected_statements(tmp_path):
        if endpoint == "psql":
            res = psql(pg, sql)
            assert res.returncode != 0 and res.stderr.strip() and not res.stdout.strip(), (sql, res.stdout)
        else:
            status, body = post(http, sql)
            assert status in (400, 403) and json.loads(body)["error"], sql
    assert state(lake) == before
    assert list(tmp_path.iterdir()) == []
