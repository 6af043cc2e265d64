"""Test lakes for the query layer, written per docs/raw-zone.md and docs/curated-zone.md.

Stands in for the capture and curate stages (which the query layer never imports): raw CDC files with
file-name LSNs plus the capture checkpoint, and Delta tables merged by deltalake with the committed LSN
recorded as an application transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from autocorp.lake import layout
from autocorp.lake.storage import Storage

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
META_FIELDS = [("Op", pa.string()), ("_commit_ts", pa.timestamp("us", tz="UTC")), ("_lsn", pa.int64()),
               ("_seq", pa.int64()), ("_xid", pa.int64()), ("_unchanged", pa.list_(pa.string()))]


class TestLake:
    """A lake folder with helpers to write raw changes and curate them into Delta."""

    __test__ = False

    def __init__(self, root: str | Storage, pipeline: str = "autocorp_test") -> None:
        self.storage = root if isinstance(root, Storage) else Storage(root)
        self.options = self.storage.storage_options()
        self.pipeline = pipeline
        self.schemas: dict[str, pa.Schema] = {}
        self.keys: dict[str, list[str]] = {}

    def define(self, table: str, schema: pa.Schema, key: list[str]) -> None:
        self.schemas[table] = schema
        self.keys[table] = key

    def time_of(self, lsn: int) -> datetime:
        """Commit time the helper gives an LSN: one millisecond per LSN unit after T0."""
        return T0 + timedelta(milliseconds=lsn)

    # -- raw zone ----------------------------------------------------------------------
    def write_cdc(self, table: str, changes: list[dict[str, Any]]) -> str:
        """Write one CDC file; each change has 'Op', '_lsn' and column values (optional '_unchanged')."""
        schema = self.schemas[table]
        full = pa.schema([pa.field(n, t) for n, t in META_FIELDS] + list(schema),
                         metadata={"autocorp.primary_key": json.dumps(self.keys[table]),
                                   "autocorp.source": f"public.{table}"})
        rows = []
        for seq, ch in enumerate(changes):
            row = {f.name: ch.get(f.name) for f in schema}
            row.update(Op=ch["Op"], _lsn=ch["_lsn"], _seq=seq, _xid=ch["_lsn"] // 10,
                       _commit_ts=self.time_of(ch["_lsn"]), _unchanged=ch.get("_unchanged"))
            rows.append(row)
        last = max(ch["_lsn"] for ch in changes)
        rel = layout.cdc_file("public", table, self.time_of(last), last)
        self.storage.write_parquet(rel, pa.Table.from_pylist(rows, schema=full))
        return rel

    def write_load(self, table: str, rows: list[dict[str, Any]], lsn: int) -> str:
        """Write a LOAD file: the table as of the snapshot at ``lsn`` (rows of column values)."""
        rel = self.write_cdc(table, [{**r, "Op": "I", "_lsn": lsn} for r in rows])
        load = layout.load_file("public", table, 1)
        self.storage.write_bytes(load, self.storage.read_bytes(rel) or b"")
        self.storage.delete(rel)
        return load

    def checkpoint(self, lsn: int, snapshot_lsn: int = 0) -> None:
        data = {"slot": self.pipeline, "lsn": lsn, "lsn_text": layout.lsn_to_str(lsn), "snapshot_lsn": snapshot_lsn,
                "load_complete": True, "tables": [f"public.{t}" for t in self.schemas],
                "updated_at": datetime.now(UTC).isoformat()}
        self.storage.write_bytes(layout.checkpoint_file(self.pipeline), json.dumps(data).encode())

    # -- curated zone ------------------------------------------------------------------
    def uri(self, table: str) -> str:
        return self.storage.uri(layout.curated_table(table))

    def merge(self, table: str, changes: list[dict[str, Any]], lsn: int) -> int:
        """Apply changes (latest per key wins) to the Delta table, recording ``lsn``; returns the version."""
        schema = self.schemas[table]
        cols = [f.name for f in schema] + ["_lsn", "_commit_ts"]
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for ch in sorted(changes, key=lambda c: c["_lsn"]):
            latest[tuple(ch[k] for k in self.keys[table])] = ch
        target = pa.schema(list(schema) + [pa.field("_lsn", pa.int64()),
                                           pa.field("_commit_ts", pa.timestamp("us", tz="UTC"))])
        src = pa.Table.from_pylist(
            [{**{c: ch.get(c) for c in cols if c != "_commit_ts"}, "_commit_ts": self.time_of(ch["_lsn"]),
              "_op": ch["Op"]} for ch in latest.values()],
            schema=target.append(pa.field("_op", pa.string())))
        props = CommitProperties(app_transactions=[Transaction(layout.curated_app_id(self.pipeline, table), lsn)],
                                 custom_metadata={"autocorp.lsn_to": str(lsn)})
        if not self.storage.exists(f"{layout.curated_table(table)}/_delta_log"):
            write_deltalake(self.uri(table), src.filter(pc.not_equal(src["_op"], "D")).drop(["_op"]),
                            configuration={"delta.enableChangeDataFeed": "true"}, commit_properties=props,
                            storage_options=self.options or None)
        else:
            on = " AND ".join(f"t.{k} = s.{k}" for k in self.keys[table])
            (self.delta(table).merge(src, predicate=on, source_alias="s", target_alias="t",
                                               commit_properties=props)
             .when_matched_delete(predicate="s._op = 'D'")
             .when_matched_update(updates={c: f"s.{c}" for c in cols}, predicate="s._op <> 'D'")
             .when_not_matched_insert(updates={c: f"s.{c}" for c in cols}, predicate="s._op <> 'D'")
             .execute())
        return self.delta(table).version()

    def delta(self, table: str) -> DeltaTable:
        return DeltaTable(self.uri(table), storage_options=self.options or None)
