"""Delta features of curated tables: time travel, change data feed, --optimize."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from test_curate_rawzone import RawZone, Reference, item, make_curate

from autocorp.lake import layout

COLS = ["id", "name", "note", "price"]


def _sorted(t: pa.Table) -> list[tuple]:
    return sorted(tuple(r[c] for c in COLS) for r in t.to_pylist())


def _three_versions(tmp_path: Path) -> tuple[str, list[list[tuple]], list[list]]:
    """Load (v0) and two merged batches (v1, v2); returns the uri, the expected state and the batches."""
    zone, ref = RawZone(tmp_path / "lake"), Reference()
    zone.define("items")
    base = [item(i) for i in range(1, 6)]
    zone.load("items", base)
    ref.load(base)
    curate = make_curate(tmp_path)
    states, batches = [], []
    zone.checkpoint()
    curate.run_once()
    states.append(ref.sorted(COLS))
    for txns in ([[("U", item(1, "a")), ("D", {"id": 2}), ("I", item(6))]],
                 [[("U", item(1, "b"))], [("D", {"id": 3}), ("I", item(7)), ("I", item(2, "back"))]]):
        zone.cdc("items", txns)
        zone.checkpoint()
        ref.apply(txns)
        curate.run_once()
        states.append(ref.sorted(COLS))
        batches.append(txns)
    return curate.storage.uri(layout.curated_table("items")), states, batches


def test_time_travel_by_version_and_timestamp(tmp_path: Path) -> None:
    uri, states, _ = _three_versions(tmp_path)
    for version, expected in enumerate(states):
        assert _sorted(DeltaTable(uri, version=version).to_pyarrow_table()) == expected
    history = {c["version"]: c["timestamp"] for c in DeltaTable(uri).history()}
    for version, expected in enumerate(states):
        dt = DeltaTable(uri)
        at = datetime.fromtimestamp(history[version] / 1000, UTC) + timedelta(milliseconds=1)
        if version + 1 in history and history[version + 1] <= history[version] + 1:
            continue  # two commits within the same millisecond cannot be told apart by time
        dt.load_as_version(at)
        assert _sorted(dt.to_pyarrow_table()) == expected


def test_change_data_feed_returns_exactly_the_batch(tmp_path: Path) -> None:
    uri, states, _ = _three_versions(tmp_path)
    cdf = pa.table(DeltaTable(uri).load_cdf(starting_version=2, ending_version=2)).to_pylist()
    by_type: dict[str, set] = {}
    for r in cdf:
        by_type.setdefault(r["_change_type"], set()).add(tuple(r[c] for c in COLS))
    before, after = set(states[1]), set(states[2])
    assert by_type.get("delete", set()) == {r for r in before if r[0] not in {a[0] for a in after}}
    assert by_type.get("insert", set()) == {r for r in after if r[0] not in {b[0] for b in before}}
    assert by_type.get("update_postimage", set()) == {r for r in after if r[0] == 1}
    assert by_type.get("update_preimage", set()) == {r for r in before if r[0] == 1}
    assert {r["_commit_version"] for r in cdf} == {2}


def test_optimize_compacts_vacuums_checkpoints_and_keeps_the_lsn(tmp_path: Path) -> None:
    zone, ref = RawZone(tmp_path / "lake"), Reference()
    zone.define("items")
    zone.load("items", [item(i) for i in range(1, 50)])
    ref.load([item(i) for i in range(1, 50)])
    curate = make_curate(tmp_path, retention_days=0)
    for i in range(6):
        txns = [[("I", item(100 + i))]]  # inserts of new keys: each merge adds a small file
        zone.cdc("items", txns)
        ref.apply(txns)
        zone.checkpoint()
        curate.run_once()
    uri = curate.storage.uri(layout.curated_table("items"))
    files_before = len(DeltaTable(uri).file_uris())
    lsn = curate.table_lsn("items")
    report = curate.run_once(optimize=True)
    m = report.maintenance[0]
    assert m.error is None and m.files_removed == files_before and m.files_added == 1
    assert m.vacuumed > 0  # retention 0 days: the replaced files go at once
    assert list(Path(uri, "_delta_log").glob("*.checkpoint.parquet"))
    dt = DeltaTable(uri)
    assert len(dt.file_uris()) == 1 and curate.table_lsn("items") == lsn
    assert _sorted(dt.to_pyarrow_table()) == ref.sorted(COLS)
    txns = [[("D", {"id": 1})]]  # merges keep working on the compacted, checkpointed table
    zone.cdc("items", txns)
    ref.apply(txns)
    zone.checkpoint()
    assert curate.run_once().ok
    assert _sorted(DeltaTable(uri).to_pyarrow_table()) == ref.sorted(COLS)
