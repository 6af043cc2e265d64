"""Curate semantics on Delta tables in tmp_path: latest change wins, deletes, TOAST, TRUNCATE, schema evolution."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from test_curate_rawzone import ITEMS, SLOT, RawZone, Reference, item, make_curate

from autocorp.curate.runner import Curate
from autocorp.lake import layout

COLS = ["id", "name", "note", "price"]


@pytest.fixture()
def zone(tmp_path: Path) -> RawZone:
    z = RawZone(tmp_path / "lake")
    z.define("items")
    return z


@pytest.fixture()
def curate(tmp_path: Path) -> Curate:
    return make_curate(tmp_path)


def table(curate: Curate, name: str = "items") -> DeltaTable:
    return DeltaTable(curate.storage.uri(layout.curated_table(name)))


def rows(curate: Curate, cols: list[str] = COLS, name: str = "items") -> list[tuple]:
    t = table(curate, name).to_pyarrow_table()
    return sorted(tuple(r[c] for c in cols) for r in t.to_pylist())


def start(zone: RawZone, ref: Reference, n: int = 3) -> None:
    base = [item(i) for i in range(1, n + 1)]
    zone.load("items", base)
    ref.load(base)


def test_load_becomes_version_zero_with_snapshot_lsn(zone: RawZone, curate: Curate) -> None:
    zone.load("items", [item(i) for i in range(1, 6)])
    zone.checkpoint(load_complete=False)
    assert curate.run_once().tables[0].status == "waiting"
    zone.checkpoint()
    rep = curate.run_once().tables[0]
    assert rep.status == "loaded" and rep.version == 0 and rep.inserted == 5
    dt = table(curate)
    assert dt.transaction_version(layout.curated_app_id(SLOT, "items")) == zone.snapshot_lsn
    assert dt.metadata().configuration.get("delta.enableChangeDataFeed") == "true"
    got = dt.to_pyarrow_table()
    assert got.column_names == COLS + ["_lsn", "_commit_ts"]
    assert set(got.column("_lsn").to_pylist()) == {zone.snapshot_lsn}


def test_insert_update_delete_insert_in_one_batch(zone: RawZone, curate: Curate) -> None:
    ref = Reference()
    start(zone, ref)
    txns = [[("I", item(9, "a"))], [("U", item(9, "b"))], [("D", {"id": 9})], [("I", item(9, "c")), ("D", {"id": 1})],
            [("U", item(2, "x")), ("U", item(2, "y"))]]
    lsn = zone.cdc("items", txns)
    ref.apply(txns)
    zone.checkpoint()
    rep = curate.run_once().tables[0]
    assert rep.status == "merged" and rep.commits == 2 and rep.changes == 3 + 7  # load + one merge
    assert rows(curate) == ref.sorted(COLS)
    got = {r["id"]: r for r in table(curate).to_pyarrow_table().to_pylist()}
    assert got[9]["name"] == "c9" and got[2]["name"] == "y2" and 1 not in got
    assert got[2]["_lsn"] == lsn and got[9]["_lsn"] < lsn and got[3]["_lsn"] == zone.snapshot_lsn
    assert table(curate).transaction_version(curate.app_id("items")) == lsn


def test_same_key_across_batches(zone: RawZone, curate: Curate) -> None:
    ref = Reference()
    start(zone, ref)
    for txns in ([[("I", item(9, "a"))]], [[("U", item(9, "b"))]], [[("D", {"id": 9})]], [[("I", item(9, "c"))]]):
        zone.cdc("items", txns)
        ref.apply(txns)
        zone.checkpoint()
        curate.run_once()
        assert rows(curate) == ref.sorted(COLS)
    assert table(curate).version() == 4


def test_uncommitted_files_wait_for_the_checkpoint(zone: RawZone, curate: Curate) -> None:
    start(zone, Reference())
    first = zone.cdc("items", [[("I", item(7))]])
    zone.cdc("items", [[("I", item(8))]])  # beyond the checkpoint: may be a crash leftover
    zone.checkpoint(first)
    curate.run_once()
    assert [r[0] for r in rows(curate)] == [1, 2, 3, 7]
    zone.checkpoint()
    curate.run_once()
    assert [r[0] for r in rows(curate)] == [1, 2, 3, 7, 8]


def test_unchanged_toast_keeps_stored_and_batch_values(zone: RawZone, curate: Curate) -> None:
    ref = Reference()
    start(zone, ref)
    txns = [[("U", item(1, "new", note="IGNORED"), ["note"])],
            [("I", item(5, note="fresh"))], [("U", item(5, "later", note="IGNORED"), ["note"])],
            [("U", item(2, note="sent"))], [("U", item(2, "again", note="IGNORED"), ["note"])]]
    zone.cdc("items", txns)
    ref.apply(txns)
    zone.checkpoint()
    curate.run_once()
    got = {r[0]: r for r in rows(curate)}
    assert got[1][1:3] == ("new1", "note")  # stored value kept
    assert got[5][1:3] == ("later5", "fresh")  # filled from the insert earlier in the batch
    assert got[2][1:3] == ("again2", "sent")
    assert rows(curate) == ref.sorted(COLS)


def test_truncate_drops_earlier_changes_and_keeps_later(zone: RawZone, curate: Curate) -> None:
    ref = Reference()
    start(zone, ref, 5)
    txns = [[("U", item(1, "before"))], [("T", {})], [("I", item(2, "after"))], [("U", item(2, "after2"))]]
    zone.cdc("items", txns)
    ref.apply(txns)
    zone.checkpoint()
    rep = curate.run_once().tables[0]
    assert rows(curate) == ref.sorted(COLS) == [(2, "after22", "note", Decimal("1.00"))]
    assert rep.deleted >= 4
    zone.cdc("items", [[("T", {})]])
    zone.checkpoint()
    curate.run_once()
    assert rows(curate) == []


def test_column_added_mid_stream_and_rename_recorded(zone: RawZone, curate: Curate) -> None:
    ref = Reference()
    start(zone, ref)
    zone.cdc("items", [[("U", item(1, "u"))]])
    zone.define("items", ITEMS.append(pa.field("color", pa.string())))
    zone.cdc("items", [[("I", {**item(4), "color": "red"})], [("U", {**item(2), "color": "blue"})]])
    zone.checkpoint()
    rep = curate.run_once().tables[0]
    assert rep.added_columns == ["color"]
    got = {r[0]: r for r in rows(curate, COLS + ["color"])}
    assert got[4][-1] == "red" and got[2][-1] == "blue" and got[1][-1] is None and got[1][1] == "u1"
    # rename note -> memo: the source's files now carry memo and no note
    renamed = pa.schema([f if f.name != "note" else pa.field("memo", pa.string()) for f in zone.schemas["items"]])
    zone.define("items", renamed)
    zone.cdc("items", [[("U", {"id": 3, "name": "r", "memo": "m", "price": Decimal("2.00"), "color": None})]])
    zone.checkpoint()
    curate.run_once()
    got = {r[0]: r for r in rows(curate, ["id", "note", "memo"])}
    assert got[3] == (3, None, "m") and got[4] == (4, "note", None)  # dropped column stays, nullable
    last = table(curate).history(1)[0]
    assert last["autocorp.schema_changes"] == {"added": ["memo"], "dropped": ["note"]}


def test_random_stream_matches_reference(tmp_path: Path) -> None:
    rng = random.Random(7)
    zone, ref = RawZone(tmp_path / "lake"), Reference()
    zone.define("items")
    curate = make_curate(tmp_path, batch_max_rows=40)
    start(zone, ref, 20)
    source = {k: dict(v) for k, v in ref.rows.items()}
    for _ in range(6):
        for _ in range(rng.randint(1, 4)):
            txns = [[_random_change(rng, source) for _ in range(rng.randint(1, 8))] for _ in range(rng.randint(1, 5))]
            zone.cdc("items", txns)
            ref.apply(txns)
        zone.checkpoint()
        assert curate.run_once().ok
        assert rows(curate) == ref.sorted(COLS)


def _random_change(rng: random.Random, source: dict) -> tuple:
    """One change a real source could emit given its current rows ``source`` (updated in place)."""
    if rng.random() < 0.01:
        source.clear()
        return ("T", {})
    k = rng.randint(1, 30)
    if k in source and rng.random() < 0.3:
        del source[k]
        return ("D", {"id": k})
    price = f"{rng.randint(1, 99)}.50"
    if k in source and rng.random() < 0.3:  # an update that leaves the TOASTed note unsent
        source[k] = item(k, rng.choice("abc"), note=source[k]["note"], price=price)
        return ("U", source[k], ["note"])
    op = "U" if k in source else "I"
    source[k] = item(k, rng.choice("abc"), note=rng.choice(["p", "q"]), price=price)
    return (op, source[k])
