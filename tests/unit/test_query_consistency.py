"""--lsn reads taken while a writer runs: every order shows exactly its lines; the change feed; the CLI."""

from __future__ import annotations

import json
import threading

import pyarrow as pa
from query_lake import TestLake
from typer.testing import CliRunner

from autocorp.query.changes import parse_since, read_changes
from autocorp.query.session import LakeConfig, LakeSession
from autocorp.query.snapshot import LakeLog
from autocorp.query.timetravel import TimePoint
from autocorp.settings import QuerySettings

ORDER = pa.schema([("order_id", pa.int64()), ("n_lines", pa.int32())])
LINE = pa.schema([("line_id", pa.int64()), ("order_id", pa.int64())])
CHECK = """SELECT count(*) FROM sales_order o
           FULL JOIN (SELECT order_id, count(*) AS n FROM sales_order_parts GROUP BY order_id) l USING (order_id)
           WHERE o.n_lines IS DISTINCT FROM coalesce(l.n, 0) OR o.order_id IS NULL"""


def new_lake(root: str) -> TestLake:
    lake = TestLake(root)
    lake.define("sales_order", ORDER, ["order_id"])
    lake.define("sales_order_parts", LINE, ["line_id"])
    return lake


def write_txn(lake: TestLake, n: int) -> tuple[list[dict], list[dict]]:
    """Transaction n (LSN 100*n): a new order with n%4+1 lines; every 3rd one deletes an older order."""
    lsn = 100 * n
    order = [{"Op": "I", "_lsn": lsn, "order_id": n, "n_lines": n % 4 + 1}]
    lines = [{"Op": "I", "_lsn": lsn, "line_id": n * 10 + j, "order_id": n} for j in range(n % 4 + 1)]
    if n % 3 == 0 and n > 3:
        old = n - 3
        order.append({"Op": "D", "_lsn": lsn, "order_id": old})
        lines += [{"Op": "D", "_lsn": lsn, "line_id": old * 10 + j} for j in range(old % 4 + 1)]
    lake.write_cdc("sales_order", order)
    lake.write_cdc("sales_order_parts", lines)
    return order, lines


def test_lsn_reads_while_writer_runs_show_orders_with_exactly_their_lines(tmp_path) -> None:
    lake = new_lake(str(tmp_path / "lake"))
    o, ln = write_txn(lake, 1)
    lake.merge("sales_order", o, 100)
    lake.merge("sales_order_parts", ln, 100)
    lake.checkpoint(100)
    done = threading.Event()

    def writer() -> None:
        pending: dict[str, list[dict]] = {"sales_order": [], "sales_order_parts": []}
        for n in range(2, 26):
            o, ln = write_txn(lake, n)
            pending["sales_order"] += o
            pending["sales_order_parts"] += ln
            lake.checkpoint(100 * n)
            table = "sales_order" if n % 2 else "sales_order_parts"  # tables merge at different moments
            if n % 5 in (0, 1):
                lake.merge(table, pending[table], 100 * n)
                pending[table] = []
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    config = LakeConfig(lake.storage, lake.pipeline, QuerySettings())
    reads = 0
    while not done.is_set() or reads < 3:
        target = LakeLog(lake.storage, lake.pipeline).checkpoint_lsn()
        for lsn in {target, max(100, target - 150)}:
            s = LakeSession(config, TimePoint(lsn=lsn), threads=1)
            assert s.run(CHECK).column(0)[0].as_py() == 0, f"orders and lines disagree at LSN {lsn}"
            s.close()
        reads += 1
    thread.join()
    assert reads >= 3


def test_change_feed_since_version_lsn_and_cli(tmp_path, monkeypatch) -> None:
    lake = new_lake(str(tmp_path / "lake"))
    for n in (1, 2, 3):
        o, _ = write_txn(lake, n)
        lake.merge("sales_order", o, 100 * n)
    lake.checkpoint(300)
    feed = read_changes(lake.storage, lake.pipeline, "sales_order", parse_since("0"))
    assert sorted(feed.column("order_id").to_pylist()) == [2, 3]
    assert set(feed.column("_change_type").to_pylist()) == {"insert"}
    assert feed.column("_commit_version").to_pylist() == [1, 2]
    by_lsn = read_changes(lake.storage, lake.pipeline, "sales_order", parse_since("lsn:200"))
    assert by_lsn.column("_lsn").to_pylist() == [300]

    from autocorp.cli.main import app

    monkeypatch.setenv("AUTOCORP_LAKE__ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("AUTOCORP_CAPTURE__SLOT", lake.pipeline)
    runner = CliRunner()
    res = runner.invoke(app, ["changes", "sales_order", "--since", "1", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert [r["order_id"] for r in json.loads(res.stdout)] == [3]
    res = runner.invoke(app, ["query", "SELECT order_id FROM sales_order ORDER BY 1", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.stdout.split() == ["order_id", "1", "2", "3"]
    res = runner.invoke(app, ["query", "SELECT count(*) AS n FROM sales_order", "--lsn", "0/C8", "--format", "json"])
    assert json.loads(res.stdout) == [{"n": 2}]
