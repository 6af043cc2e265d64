"""Per-table buffers of the change stream: relations, schema history, flushing into raw files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from autocorp.capture.batch import TableBatch
from autocorp.capture.pgoutput import Relation
from autocorp.capture.slot import PublishedTable, missing_key_error
from autocorp.capture.typemap import column_type
from autocorp.capture.writer import FileWriter, Stamp
from autocorp.errors import CaptureError
from autocorp.lake import layout
from autocorp.lake.storage import Storage

Keepalive = Callable[[], None]


class TableBuffer:
    """The pending changes of one table (one relation version)."""

    __slots__ = ("key", "relation", "batch", "rows", "last")

    def __init__(self, relation: Relation, key_columns: tuple[str, ...]) -> None:
        self.key = (relation.schema, relation.table)
        self.relation = relation
        self.batch = TableBatch(relation, key_columns)
        self.rows = 0
        self.last: Stamp | None = None  # (commit time, commit LSN) of the last change buffered

    def take(self) -> TableBatch:
        """Hand the batch over (to the writer) and start a new, empty one."""
        batch = self.batch
        self.batch = TableBatch(self.relation, batch.key_columns)
        self.rows = 0
        return batch


def key_columns_for(relation: Relation, published: PublishedTable | None) -> tuple[str, ...]:
    """Primary-key columns for the raw schema metadata (REPLICA IDENTITY FULL flags every column)."""
    if published is not None and published.key_columns:
        return published.key_columns
    return () if relation.replica_identity == "f" else relation.key_columns


def capturable(relation: Relation) -> bool:
    return relation.replica_identity == "f" or bool(relation.key_columns)


def schema_record(relation: Relation, lsn: int, previous: dict | None, keys: tuple[str, ...]) -> dict:
    """The JSON document of one schema-history entry (see docs/raw-zone.md)."""
    columns = [{"name": c.name, "type_oid": c.type_oid, "type_mod": c.type_mod,
                "arrow_type": str(column_type(c).arrow_type)} for c in relation.columns]
    before = {c["name"]: c for c in (previous or {}).get("columns", [])}
    after = {c["name"]: c for c in columns}
    return {
        "schema": relation.schema, "table": relation.table, "lsn": lsn, "lsn_text": layout.lsn_to_str(lsn),
        "replica_identity": relation.replica_identity, "primary_key": list(keys), "columns": columns,
        "added": [n for n in after if n not in before] if previous else [],
        "dropped": [n for n in before if n not in after],
        "retyped": [n for n in after if n in before and (before[n]["type_oid"], before[n]["type_mod"])
                    != (after[n]["type_oid"], after[n]["type_mod"])],
        "recorded_at": datetime.now(UTC).isoformat(),
    }


def latest_schema(storage: Storage, schema: str, table: str) -> dict | None:
    files = storage.list_files(layout.schema_history_dir(schema, table), ".json")
    data = storage.read_bytes(files[-1]) if files else None
    return json.loads(data) if data else None


def _same_shape(record: dict | None, relation: Relation) -> bool:
    if record is None:
        return False
    cols = [(c.name, c.type_oid, c.type_mod) for c in relation.columns]
    return cols == [(c["name"], c["type_oid"], c["type_mod"]) for c in record["columns"]] \
        and record.get("replica_identity") == relation.replica_identity


class TableBuffers:
    """All tables of the stream, by relation oid; ``None`` marks a table that cannot be captured."""

    def __init__(self, storage: Storage, writer: FileWriter, published: dict[str, PublishedTable],
                 max_rows: int, on_problem: Callable[[CaptureError], None]) -> None:
        self.storage = storage
        self.writer = writer
        self.published = published
        self.max_rows = max_rows
        self.on_problem = on_problem
        self.by_oid: dict[int, TableBuffer | None] = {}
        self.first_at: float | None = None  # monotonic time the oldest pending row was committed
        self.parts_open: set[tuple[str, str]] = set()
        self._history: dict[tuple[str, str], dict | None] = {}
        self._reported: set[str] = set()

    def on_relation(self, rel: Relation, txn_lsn: int, keepalive: Keepalive) -> None:
        """Start (or keep) the buffer of ``rel``; a changed schema closes the old files first."""
        old = self.by_oid.get(rel.oid)
        if old is not None and old.relation == rel:
            return
        if old is not None:
            self._flush_one(old, keepalive)
        if not capturable(rel):
            self.by_oid[rel.oid] = None
            name = f"{rel.schema}.{rel.table}"
            if name not in self._reported:
                self._reported.add(name)
                pub = self.published.get(name) or PublishedTable(rel.schema, rel.table, rel.replica_identity, ())
                self.on_problem(missing_key_error(pub))
            return
        keys = key_columns_for(rel, self.published.get(f"{rel.schema}.{rel.table}"))
        self.by_oid[rel.oid] = TableBuffer(rel, keys)
        self._record_schema(rel, txn_lsn, keys, keepalive)

    def _record_schema(self, rel: Relation, lsn: int, keys: tuple[str, ...], keepalive: Keepalive) -> None:
        key = (rel.schema, rel.table)
        if key not in self._history:
            self._history[key] = latest_schema(self.storage, *key)
        previous = self._history[key]
        if _same_shape(previous, rel):
            return
        record = self._history[key] = schema_record(rel, lsn, previous, keys)
        rel_path = f"{layout.schema_history_dir(*key)}/{lsn:016X}.json"
        self.writer.write_bytes(rel_path, json.dumps(record, indent=1).encode(), keepalive)

    @property
    def pending(self) -> int:
        """Rows buffered in memory, all tables."""
        return sum(b.rows for b in self.by_oid.values() if b is not None)

    def committed_rows(self) -> None:
        """A transaction with changes committed: start the flush timer if it is not running."""
        if self.first_at is None:
            self.first_at = time.monotonic()

    def spill(self, buf: TableBuffer, txn: Stamp, keepalive: Keepalive) -> None:
        """Stream a big buffer into the table's open part file named by the current transaction."""
        self.parts_open.add(buf.key)
        self.writer.append_part(buf.key, txn, buf.take(), keepalive)

    def _flush_one(self, buf: TableBuffer, keepalive: Keepalive) -> None:
        if buf.rows or buf.key in self.parts_open:
            assert buf.last is not None
            self.parts_open.discard(buf.key)
            self.writer.write_file(buf.key, buf.last, buf.take(), keepalive)

    def flush_all(self, keepalive: Keepalive) -> None:
        """Queue a file for every table with pending rows (the caller then queues the checkpoint)."""
        for buf in self.by_oid.values():
            if buf is not None:
                self._flush_one(buf, keepalive)
        self.first_at = None
