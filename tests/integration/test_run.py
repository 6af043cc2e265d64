"""`autocorp run`: capture + curate in one process while orders flow; the lake ends equal to the source."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from shop import insert_catalog
from test_capture_support import cleanup_slot, make_settings
from test_curate_e2e import assert_lake_equals_source

from autocorp.curate.runner import Curate
from autocorp.lake.checkpoint import read_checkpoint
from autocorp.pipeline import Pipeline, RunTick, run_pipeline
from autocorp.query.session import open_lake
from autocorp.settings import Settings
from autocorp.source.connect import connection, dsn_param
from autocorp.source.simulate import simulate


@pytest.fixture()
def shop(autocorp_db: str, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    insert_catalog(autocorp_db)
    settings = make_settings(tmp_path)
    settings.curate.merge_interval_s = 0.5
    settings.curate.models = True
    settings.curate.models_interval_s = 1.0  # models rebuild on their own thread while merges go on
    settings.source.dsn = SecretStr(autocorp_db)  # Pipeline(settings) reaches the test database
    settings.source.database = dsn_param(autocorp_db, "dbname") or ""
    yield autocorp_db, settings
    cleanup_slot(autocorp_db, settings)


def test_run_merges_while_orders_flow_and_ends_equal_to_source(shop: tuple[str, Settings]) -> None:
    dsn, settings = shop
    simulate(dsn, orders=20, seed=5)  # present before the snapshot: arrives through the full load
    stop = threading.Event()
    ticks: list[RunTick] = []
    result: list[RunTick] = []
    runner = threading.Thread(target=lambda: result.append(run_pipeline(settings, dsn, stop, ticks.append)))
    runner.start()
    _wait_for_full_load(settings)
    reads: list[tuple[int, int]] = []  # (Delta version read, orders seen) by a reader querying all along
    failures: list[BaseException] = []
    reader = threading.Thread(target=_capture_failure(_query_until, failures), args=(settings, stop, reads))
    reader.start()
    report = simulate(dsn, rate=300, duration=4, update_share=0.3, delete_share=0.1, seed=6)
    deadline = time.monotonic() + 30
    while (not ticks or ticks[-1].captured < report.row_changes) and time.monotonic() < deadline:
        time.sleep(0.1)  # capture streams continuously: it catches up within a second or two
    stop.set()
    runner.join(timeout=60)
    reader.join(timeout=30)
    assert not runner.is_alive() and result, "run did not stop on the stop event"
    assert not failures, f"a query failed while the pipeline ran: {failures[0]!r}"
    assert len(reads) >= 10 and len({version for version, _ in reads}) >= 3, \
        "queries ran all through the run and saw merges land: readers take no lock that stalls curate"
    final = result[0]
    assert report.row_changes > 500
    assert final.merges >= 3, "merges must happen while capture is running, not only at the end"
    assert final.captured == report.row_changes, "every change made during the run was captured once"
    assert not final.failed
    assert final.models_built >= 1, "the models worker rebuilt models during the run"
    assert all(t.pending_changes == 0 for t in final.tables)
    assert any(t.merged > 0 for t in ticks[:-1] if t.merges), "curate merged mid-run"
    assert_lake_equals_source(dsn, Curate(settings))

    status = Pipeline(settings).status()
    assert status.last_run is not None and status.last_run["ok"]
    with connection(dsn) as conn, conn.cursor() as cur:
        for lag in status.tables:
            cur.execute(f"SELECT count(*) FROM {lag.state.table}")
            assert lag.state.rows == cur.fetchone()[0], f"status rows of {lag.state.table}"
            assert lag.state.pending_files == 0 and lag.state.version is not None
            assert lag.state.lsn is not None and lag.state.lsn <= status.tables[0].state.lsn + 10**12


def _query_until(settings: Settings, stop: threading.Event, reads: list[tuple[int, int]]) -> None:
    """Query the lake while the pipeline runs, holding a half-read scan open across merges."""
    with open_lake(settings) as lake:
        while {"sales_order", "sales_order_parts"} - set(lake.tables) and not stop.is_set():
            time.sleep(0.05)  # curate creates the tables from the full load first
            lake.refresh()
        scanner = lake.cursor()
        while not stop.is_set():
            lake.refresh_if_stale(0.0)
            held = scanner.batches("SELECT * FROM sales_order_parts_ro", batch_rows=64)
            next(held, None)  # an open scan of the current version while curate commits the next ones
            row = lake.run("SELECT (SELECT max(version) FROM lake_versions WHERE table_name = 'sales_order') "
                           "AS v, count(*) AS n FROM sales_order").to_pylist()[0]
            reads.append((row["v"], row["n"]))
            held.close()
            time.sleep(0.1)


def _capture_failure(fn: Callable[..., None], failures: list[BaseException]) -> Callable[..., None]:
    def run(*args: object) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
    return run


def _wait_for_full_load(settings: Settings, timeout: float = 30) -> None:
    storage = Curate(settings).storage
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cp = read_checkpoint(storage, settings.slot_name)
        if cp is not None and cp.load_complete:
            return
        time.sleep(0.05)
    raise AssertionError("the full load did not complete")
