"""A raw-zone writer for curate tests (exactly per docs/raw-zone.md), a reference model, and raw-file tests.

Other curate tests import ``RawZone``, ``Reference`` and ``make_curate`` from here: curate must not
depend on the capture stage, so the tests build the raw zone themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from autocorp.curate.rawfiles import iter_batches, read_files
from autocorp.curate.runner import Curate
from autocorp.lake import layout
from autocorp.lake.checkpoint import read_checkpoint
from autocorp.lake.rawzone import committed_cdc_files
from autocorp.lake.storage import Storage
from autocorp.settings import load_settings

SLOT = "autocorp_test"
META = [pa.field("Op", pa.string()), pa.field("_commit_ts", pa.timestamp("us", tz="UTC")),
        pa.field("_lsn", pa.int64()), pa.field("_seq", pa.int64()), pa.field("_xid", pa.int64()),
        pa.field("_unchanged", pa.list_(pa.string()))]
ITEMS = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string()), pa.field("note", pa.string()),
                   pa.field("price", pa.decimal128(10, 2))])

Change = tuple  # ("I"|"U"|"D"|"T", {column: value}) or ("U", {...}, [unchanged columns])


class RawZone:
    """Writes LOAD files, CDC files and the checkpoint the way capture does."""

    def __init__(self, root: Path | None, slot: str = SLOT, storage: Storage | None = None) -> None:
        self.storage = storage or Storage(str(root))
        self.slot = slot
        self.lsn = 0x1000000
        self.t0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
        self.xid = 700
        self.schemas: dict[str, pa.Schema] = {}
        self.keys: dict[str, list[str]] = {}
        self.snapshot_lsn = self.lsn
        self.load_complete = False

    def define(self, table: str, schema: pa.Schema = ITEMS, key: Sequence[str] = ("id",)) -> None:
        self.schemas[table], self.keys[table] = schema, list(key)

    def _file_schema(self, table: str) -> pa.Schema:
        meta = {"autocorp.primary_key": json.dumps(self.keys[table]), "autocorp.source": f"public.{table}"}
        return pa.schema(META + list(self.schemas[table])).with_metadata(meta)

    def _ts(self, lsn: int) -> datetime:
        return self.t0 + timedelta(milliseconds=(lsn - 0x1000000) // 16)

    def load(self, table: str, rows: list[dict[str, Any]], per_file: int = 1000) -> None:
        """Write the full load of ``table`` (rows carry the snapshot LSN)."""
        for n, start in enumerate(range(0, max(len(rows), 1), per_file), 1):
            chunk = rows[start:start + per_file]
            recs = [{"Op": "I", "_commit_ts": self._ts(self.snapshot_lsn), "_lsn": self.snapshot_lsn,
                     "_seq": start + i, "_xid": None, "_unchanged": None, **r} for i, r in enumerate(chunk)]
            tbl = pa.Table.from_pylist(recs, schema=self._file_schema(table))
            self.storage.write_parquet(layout.load_file("public", table, n), tbl)

    def cdc(self, table: str, txns: list[list[Change]]) -> int:
        """Write one CDC file holding ``txns`` (each a list of changes = one transaction); returns its LSN."""
        recs = []
        for txn in txns:
            self.lsn += 0x100
            self.xid += 1
            for seq, ch in enumerate(txn):
                op, values = ch[0], ch[1] if len(ch) > 1 else {}
                unchanged = list(ch[2]) if len(ch) > 2 else None
                values = {k: v for k, v in values.items() if not unchanged or k not in unchanged}
                recs.append({"Op": op, "_commit_ts": self._ts(self.lsn), "_lsn": self.lsn, "_seq": seq,
                             "_xid": self.xid, "_unchanged": unchanged, **values})
        tbl = pa.Table.from_pylist(recs, schema=self._file_schema(table))
        self.storage.write_parquet(layout.cdc_file("public", table, self._ts(self.lsn), self.lsn), tbl)
        return self.lsn

    def checkpoint(self, lsn: int | None = None, load_complete: bool = True) -> None:
        lsn = self.lsn if lsn is None else lsn
        body = {"slot": self.slot, "lsn": lsn, "lsn_text": layout.lsn_to_str(lsn), "snapshot_lsn": self.snapshot_lsn,
                "load_complete": load_complete, "tables": [f"public.{t}" for t in self.schemas],
                "updated_at": datetime.now(UTC).isoformat()}
        self.storage.write_bytes(layout.checkpoint_file(self.slot), json.dumps(body).encode())


class Reference:
    """The obvious, row-at-a-time meaning of a change stream: the expected curated table."""

    def __init__(self, key: str = "id") -> None:
        self.key = key
        self.rows: dict[Any, dict[str, Any]] = {}

    def load(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self.rows[r[self.key]] = dict(r)

    def apply(self, txns: list[list[Change]]) -> None:
        for txn in txns:
            for ch in txn:
                op, values = ch[0], ch[1] if len(ch) > 1 else {}
                unchanged = ch[2] if len(ch) > 2 else []
                if op == "T":
                    self.rows.clear()
                elif op == "D":
                    self.rows.pop(values[self.key], None)
                else:
                    old = self.rows.get(values[self.key], {})
                    self.rows[values[self.key]] = {**values, **{c: old.get(c) for c in unchanged}}

    def sorted(self, columns: Sequence[str]) -> list[tuple]:
        return sorted(tuple(r.get(c) for c in columns) for r in self.rows.values())


def make_curate(root: Path, **curate: Any) -> Curate:
    settings = load_settings("dev", home=root / "home", lake={"root": str(root / "lake")},
                             capture={"slot": SLOT}, curate={"models": False, **curate})
    return Curate(settings)


def item(i: int, name: str = "n", note: str = "note", price: str = "1.00") -> dict[str, Any]:
    return {"id": i, "name": f"{name}{i}", "note": note, "price": Decimal(price)}


# -- tests of the raw-zone reader ----------------------------------------------------------------


@pytest.fixture()
def zone(tmp_path: Path) -> RawZone:
    z = RawZone(tmp_path / "lake")
    z.define("items")
    return z


def test_checkpoint_round_trip(zone: RawZone) -> None:
    assert read_checkpoint(zone.storage, SLOT) is None
    zone.checkpoint(load_complete=False)
    cp = read_checkpoint(zone.storage, SLOT)
    assert cp is not None and cp.lsn == zone.lsn and not cp.load_complete and cp.tables == ("public.items",)


def test_only_committed_files_above_the_table_lsn(zone: RawZone) -> None:
    a = zone.cdc("items", [[("I", item(1))]])
    b = zone.cdc("items", [[("I", item(2))]])
    c = zone.cdc("items", [[("I", item(3))]])
    files = committed_cdc_files(zone.storage, "public", "items", above=a, upto=b)
    assert [f.lsn for f in files] == [b]
    assert [f.lsn for f in committed_cdc_files(zone.storage, "public", "items", above=0, upto=c)] == [a, b, c]


def test_union_by_name_fills_missing_columns(zone: RawZone) -> None:
    zone.cdc("items", [[("I", item(1))]])
    zone.define("items", ITEMS.append(pa.field("color", pa.string())))
    zone.cdc("items", [[("I", {**item(2), "color": "red"})]])
    files = committed_cdc_files(zone.storage, "public", "items", above=0, upto=zone.lsn)
    batch = read_files(zone.storage, [f.path for f in files])
    assert batch.rows.column("color").to_pylist() == [None, "red"]
    assert batch.primary_key == ("id",) and "color" in batch.last_columns
    assert batch.lsn_to == zone.lsn


def test_batches_cut_only_between_lsns(zone: RawZone) -> None:
    for i in range(5):
        zone.cdc("items", [[("I", item(2 * i)), ("I", item(2 * i + 1))]])
    files = committed_cdc_files(zone.storage, "public", "items", above=0, upto=zone.lsn)
    batches = list(iter_batches(zone.storage, files, max_rows=3))
    assert [b.rows.num_rows for b in batches] == [4, 4, 2]
    assert batches[0].lsn_to < batches[1].lsn_from
