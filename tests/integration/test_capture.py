"""`Capture` against a real PostgreSQL: full load + stream, exactly-once files, hard cases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_capture_support import (
    checkpoint_json,
    cleanup_slot,
    execute,
    make_settings,
    raw_rows,
    rebuild,
    source_state,
    storage_of,
)

from autocorp.capture.runner import Capture
from autocorp.lake import layout
from autocorp.settings import Settings


@pytest.fixture()
def cap(empty_db: str, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    settings = make_settings(tmp_path)
    yield empty_db, settings
    cleanup_slot(empty_db, settings)


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
