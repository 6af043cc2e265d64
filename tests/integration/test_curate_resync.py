"""`capture --resync` then `curate`: tables built from the old full load are rebuilt from the new one.

Changes made at the source while no slot recorded them (the slot was lost: the reason for a resync)
exist in no CDC file, so only a rebuild from the new LOAD files brings the lake back to the source.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from shop import insert_catalog
from test_capture_support import execute, query
from test_curate_e2e import TABLES, assert_lake_equals_source
from typer.testing import CliRunner

from autocorp.capture.runner import Capture
from autocorp.cli.main import app
from autocorp.curate.runner import Curate
from autocorp.lake import layout
from autocorp.lake.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from autocorp.settings import Settings
from autocorp.source.simulate import simulate


class Crash(Exception):
    """Stands in for the process dying at a hook point."""


@pytest.fixture()
def shop(cap: tuple[str, Settings], autocorp_db: str) -> tuple[str, Settings]:
    """``cap`` (unique slot, lake under tmp_path, slot dropped afterwards) over the AutoCorp schema and catalog."""
    dsn, settings = cap
    assert dsn == autocorp_db  # both are the test's one database
    insert_catalog(dsn)
    settings.curate.models = False
    return dsn, settings


def uri(curate: Curate, table: str) -> str:
    return curate.storage.uri(layout.curated_table(table))


def versions(curate: Curate) -> dict[str, int]:
    return {t: DeltaTable(uri(curate, t)).version() for t in TABLES}


def order_ids(dt: DeltaTable) -> set[int]:
    return set(dt.to_pyarrow_table(columns=["order_id"]).column(0).to_pylist())


def checkpoint(curate: Curate) -> Checkpoint:
    ckpt = read_checkpoint(curate.storage, curate.pipeline)
    assert ckpt is not None
    return ckpt


def captured_and_curated(dsn: str, settings: Settings) -> Curate:
    """Orders at the source, captured and curated: every table exists at the first full load."""
    simulate(dsn, orders=30, update_share=0.2, delete_share=0.1, seed=1)
    Capture(settings, dsn).run(until_caught_up=True)
    curate = Curate(settings)
    assert curate.run_once().ok
    assert_lake_equals_source(dsn, curate)
    return curate


def lose_slot_and_change(dsn: str, settings: Settings) -> set[int]:
    """Drop the slot (capture not running), then delete, update and insert rows no slot records.

    Returns:
        The ids of the orders deleted at the source in that gap.
    """
    execute(dsn, "SELECT pg_drop_replication_slot(%s)", params=(settings.slot_name,))
    before = {r[0] for r in query(dsn, "SELECT order_id FROM sales_order")}
    execute(dsn, "DELETE FROM sales_order WHERE order_id IN (SELECT order_id FROM sales_order ORDER BY order_id "
                 "LIMIT 5)",  # its lines go too (ON DELETE CASCADE)
            "UPDATE customers SET last_name = last_name || '-gap' WHERE customer_id % 4 = 0",
            "UPDATE auto_parts SET unit_price = unit_price + 1")
    simulate(dsn, orders=5, update_share=0, delete_share=0, seed=2)
    gone = before - {r[0] for r in query(dsn, "SELECT order_id FROM sales_order")}
    assert len(gone) == 5
    return gone


def resync(dsn: str, settings: Settings) -> None:
    Capture(settings, dsn).run(resync=True, until_caught_up=True)


def test_resync_then_curate_equals_source_and_keeps_history(shop: tuple[str, Settings]) -> None:
    dsn, settings = shop
    curate = captured_and_curated(dsn, settings)
    old_snapshot = checkpoint(curate).snapshot_lsn
    before = versions(curate)
    gone = lose_slot_and_change(dsn, settings)
    resync(dsn, settings)
    snapshot = checkpoint(curate).snapshot_lsn
    assert snapshot > old_snapshot

    report = curate.run_once()

    assert report.ok, report
    assert {t.table: t.status for t in report.tables} == dict.fromkeys(TABLES, "reloaded")
    assert_lake_equals_source(dsn, curate)
    assert versions(curate) == {t: v + 1 for t, v in before.items()}, "one overwrite commit per table"
    for t in TABLES:
        dt = DeltaTable(uri(curate, t))
        assert dt.transaction_version(curate.app_id(t)) == snapshot
        assert dt.transaction_version(curate.load_app_id(t)) == snapshot
        last = dt.history(1)[0]
        assert last["autocorp.operation"] == "reload" and last["autocorp.lsn_to"] == snapshot
        assert last["autocorp.raw_files"] and all(layout.is_load_file(f) for f in last["autocorp.raw_files"])
    orders = uri(curate, "sales_order")
    assert not gone & order_ids(DeltaTable(orders))
    old = DeltaTable(orders, version=before["sales_order"])
    assert gone <= order_ids(old), "time travel to before the resync still shows the deleted orders"
    assert old.transaction_version(curate.load_app_id("sales_order")) == old_snapshot


def test_changes_after_the_resync_merge_exactly_once(shop: tuple[str, Settings]) -> None:
    dsn, settings = shop
    curate = captured_and_curated(dsn, settings)
    lose_slot_and_change(dsn, settings)
    resync(dsn, settings)
    assert curate.run_once().ok
    reloaded = versions(curate)
    snapshot = checkpoint(curate).snapshot_lsn

    simulate(dsn, orders=10, update_share=0.3, delete_share=0.2, seed=3)
    execute(dsn, "DELETE FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM sales_order)")
    Capture(settings, dsn).run(until_caught_up=True)
    report = curate.run_once()

    assert report.ok, report
    statuses = {t.table: t.status for t in report.tables}
    assert statuses["sales_order"] == statuses["customers"] == "merged"
    assert_lake_equals_source(dsn, curate)
    for t in TABLES:
        dt = DeltaTable(uri(curate, t))
        assert dt.transaction_version(curate.load_app_id(t)) == snapshot, "merges keep the load generation"
        commits = [c for c in dt.history() if c["version"] > reloaded[t]]
        assert all(c["autocorp.operation"] == "merge" and c["autocorp.lsn_from"] > snapshot for c in commits)
        applied = [f for c in commits for f in c["autocorp.raw_files"]]
        raw = [f for f in curate.storage.list_files(layout.raw_table_dir("public", t), ".parquet")
               if not layout.is_load_file(f)]
        assert sorted(applied) == sorted(raw), f"{t}: each new CDC file applied exactly once"
    settled = versions(curate)
    assert {t.status for t in curate.run_once().tables} == {"current"}
    assert versions(curate) == settled


@pytest.mark.parametrize("point", ["before_write", "after_commit"])
def test_crash_at_the_rebuild_commit_then_rerun(shop: tuple[str, Settings], point: str) -> None:
    dsn, settings = shop
    curate = captured_and_curated(dsn, settings)
    before = versions(curate)
    gone = lose_slot_and_change(dsn, settings)
    resync(dsn, settings)

    def hook(at: str, table: str) -> None:
        if at == point and table == "sales_order":
            raise Crash(f"{at} {table}")

    with pytest.raises(Crash):
        Curate(settings, hook=hook).run_once()
    orders = DeltaTable(uri(curate, "sales_order"))
    if point == "before_write":
        assert orders.version() == before["sales_order"] and gone <= order_ids(orders), "old table untouched"
    else:
        assert orders.version() == before["sales_order"] + 1 and not gone & order_ids(orders)

    report = Curate(settings).run_once()

    assert report.ok, report
    assert_lake_equals_source(dsn, curate)
    expected = "reloaded" if point == "before_write" else "current"
    assert {t.table: t.status for t in report.tables}["sales_order"] == expected
    reloads = [c for c in DeltaTable(uri(curate, "sales_order")).history() if c["autocorp.operation"] == "reload"]
    assert len(reloads) == 1, "the rebuild is committed exactly once"
    assert versions(curate) == {t: v + 1 for t, v in before.items()}


def test_curate_waits_while_the_new_full_load_is_incomplete(shop: tuple[str, Settings],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    dsn, settings = shop
    curate = captured_and_curated(dsn, settings)
    before = versions(curate)
    gone = lose_slot_and_change(dsn, settings)
    resync(dsn, settings)
    done = checkpoint(curate)
    # what capture's checkpoint says while the new LOAD files are still being written
    write_checkpoint(curate.storage, replace(done, lsn=done.snapshot_lsn, load_complete=False))

    report = curate.run_once()

    assert report.ok, report
    assert {t.status for t in report.tables} == {"waiting"}
    assert versions(curate) == before, "no table is touched while its reload is in progress"
    assert gone <= order_ids(DeltaTable(uri(curate, "sales_order")))
    write_checkpoint(curate.storage, done)
    for key, value in {"LAKE__ROOT": settings.lake.root, "CAPTURE__SLOT": settings.slot_name,
                       "CURATE__MODELS": "false"}.items():
        monkeypatch.setenv(f"AUTOCORP_{key}", value)
    res = CliRunner().invoke(app, ["curate"])  # what the data engineer runs after `capture --resync`
    assert res.exit_code == 0, res.output
    said = " ".join(res.stdout.split()).partition("rebuilt from the new full load (capture --resync): ")[2]
    assert set(said.partition(";")[0].split(", ")) == set(TABLES), res.stdout
    assert_lake_equals_source(dsn, curate)


def test_tables_written_before_load_generations_are_rebuilt_after_a_resync(shop: tuple[str, Settings]) -> None:
    """A table holding only the LSN txn (written before this change) is rebuilt iff it is behind the new snapshot."""
    dsn, settings = shop
    curate = captured_and_curated(dsn, settings)
    for t in TABLES:  # rewrite each table as an older curate wrote it: no load-generation txn
        data = DeltaTable(uri(curate, t)).to_pyarrow_table()
        lsn = DeltaTable(uri(curate, t)).transaction_version(curate.app_id(t))
        shutil.rmtree(uri(curate, t))
        write_deltalake(uri(curate, t), data, commit_properties=CommitProperties(
            app_transactions=[Transaction(curate.app_id(t), lsn)]))
        assert DeltaTable(uri(curate, t)).transaction_version(curate.load_app_id(t)) is None
    assert {t.status for t in curate.run_once().tables} == {"current"}, "same load: no rebuild"
    assert versions(curate) == dict.fromkeys(TABLES, 0)
    gone = lose_slot_and_change(dsn, settings)
    resync(dsn, settings)

    report = curate.run_once()

    assert report.ok, report
    assert {t.status for t in report.tables} == {"reloaded"}
    assert_lake_equals_source(dsn, curate)
    assert gone <= order_ids(DeltaTable(uri(curate, "sales_order"), version=0))
    snapshot = checkpoint(curate).snapshot_lsn
    assert all(DeltaTable(uri(curate, t)).transaction_version(curate.load_app_id(t)) == snapshot for t in TABLES)
