"""`Capture` against a real PostgreSQL: full load + stream, exactly-once files, hard cases."""

from __future__ import annotations

from typing import Any

import pytest
from test_capture_support import (
    checkpoint_json,
    execute,
    raw_rows,
    rebuild,
    source_state,
    storage_of,
)

from autocorp.capture import arrowcopy, runner, snapshot
from autocorp.capture.runner import Capture
from autocorp.lake import layout
from autocorp.settings import Settings


def test_load_then_stream_rebuilds_source(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2))",
            "INSERT INTO items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 1000) g")
    first = Capture(settings, dsn).run(until_caught_up=True)
    assert [(r.table, r.rows) for r in first.loaded] == [("public.items", 1000)]
    cp = checkpoint_json(settings)
    assert cp["load_complete"] and cp["snapshot_lsn"] == cp["lsn"]
    execute(dsn, "UPDATE items SET name = 'changed' WHERE id <= 10", "DELETE FROM items WHERE id > 990",
            "INSERT INTO items VALUES (5000, NULL, 1)", "INSERT INTO items VALUES (5001, '', 2)")
    second = Capture(settings, dsn).run(until_caught_up=True)
    assert second.loaded == [] and second.stream is not None and second.stream.changes == 22
    rows = raw_rows(settings, "items")
    assert rebuild(rows, ["id"]) == source_state(dsn, "items", ["id"])
    assert len({(r["_lsn"], r["_seq"]) for r in rows}) == len(rows)
    assert checkpoint_json(settings)["lsn"] > cp["lsn"]
    cdc = [f for f in storage_of(settings).list_files("raw/database/public/items") if layout.cdc_file_lsn(f)]
    assert cdc and all(layout.cdc_file_lsn(f) <= checkpoint_json(settings)["lsn"] for f in cdc)


@pytest.mark.parametrize("edge", [False, True], ids=["typed", "text-fallback-in-one-range"])
def test_parallel_ctid_ranges_read_one_exact_snapshot(cap: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch,
                                                       edge: bool) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE big (id int PRIMARY KEY, note text, at timestamptz)",
            "INSERT INTO big SELECT g, repeat('x', g % 50), timestamptz '2026-01-01' + g * interval '1 minute' "
            "FROM generate_series(1, 20000) g")
    if edge:  # a value pyarrow cannot type, in the last pages only: every range must start over as text
        execute(dsn, "INSERT INTO big VALUES (20001, 'edge', 'infinity')")
    monkeypatch.setattr(snapshot, "PARALLEL_MIN_PAGES", 8)
    monkeypatch.setattr(snapshot, "LOAD_PARALLEL", 3)
    monkeypatch.setattr(snapshot, "ROW_GROUP_ROWS", 1000)
    real_load_table = snapshot.load_table
    results: list[snapshot.LoadResult] = []

    def load_after_concurrent_commit(*args: Any, **kw: Any) -> snapshot.LoadResult:
        # committed after the slot's snapshot: must not be in LOAD files, must come as changes
        execute(dsn, "DELETE FROM big WHERE id <= 100", "INSERT INTO big VALUES (30000, 'late', now())")
        results.append(real_load_table(*args, **kw))
        return results[-1]

    monkeypatch.setattr(runner, "load_table", load_after_concurrent_commit)
    Capture(settings, dsn).run(until_caught_up=True)
    [res] = results
    assert res.rows == 20000 + edge and res.text_fallback is edge and res.files >= 3
    rows = raw_rows(settings, "big")
    load = [r for r in rows if r["Op"] == "I" and r["_lsn"] == checkpoint_json(settings)["snapshot_lsn"]]
    assert sorted(r["id"] for r in load) == list(range(1, 20002 if edge else 20001))
    assert len({r["_seq"] for r in load}) == len(load)
    assert {r["_seq"] >> 40 for r in load} == {0, 1, 2}
    got, want = rebuild(rows, ["id"]), source_state(dsn, "big", ["id"])
    if edge:  # the LOAD file holding infinity has `at` as PostgreSQL text (lossless policy), others typed
        assert got[(20001,)]["at"] == "infinity"
        got = {k: {**v, "at": None} for k, v in got.items()}
        want = {k: {**v, "at": None} for k, v in want.items()}
    assert got == want


def test_adbc_reads_with_the_key_value_dsn_capture_gets(empty_db: str) -> None:
    assert "=" in empty_db and not empty_db.startswith("postgresql://")  # the fixture's libpq key=value form
    assert arrowcopy.connects(empty_db)  # so the typed full load really goes through ADBC in these tests
    assert arrowcopy.uri_of("host='/run/pg sock' user=a password='p@ss w' dbname=x sslmode=disable") == \
        "postgresql://a:p%40ss%20w@%2Frun%2Fpg%20sock/x?sslmode=disable"
    assert not arrowcopy.connects(empty_db.replace("dbname=", "dbname=no_such_db_"))
    assert arrowcopy.uri_of("host='unterminated") is None
