"""The full load: each table read inside the slot's exported snapshot into LOAD files.

Rows stream ``COPY (SELECT ...) TO STDOUT (FORMAT csv, FORCE_QUOTE *)`` -> an OS pipe -> pyarrow's
streaming CSV reader (every column read as raw bytes; NULL is the only unquoted empty field, so
it differs from the empty string) -> ``TableBatch.append_text_rows`` -> Parquet row groups, a new
``LOADnnnnnnnn.parquet`` every ``load_file_rows`` rows. Memory stays bounded by one row group.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from autocorp.capture.batch import TableBatch
from autocorp.capture.pgoutput import Column, Relation
from autocorp.capture.slot import PublishedTable
from autocorp.capture.tables import schema_record
from autocorp.errors import CaptureError
from autocorp.lake import layout
from autocorp.lake.storage import Storage
from autocorp.source.connect import PgError, connection

ROW_GROUP_ROWS = 131_072
_CSV_BLOCK = 4 << 20


@dataclass(frozen=True)
class Snapshot:
    """The exported snapshot of a new slot and what LOAD rows carry."""

    name: str
    lsn: int
    taken_at: datetime


@dataclass(frozen=True)
class LoadResult:
    table: str
    rows: int
    files: int


_COLUMNS_SQL = """
SELECT c.oid, c.relreplident, a.attname, a.atttypid, a.atttypmod,
       COALESCE(a.attnum = ANY(i.indkey), false) AS is_key
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
LEFT JOIN pg_index i ON i.indrelid = c.oid
    AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
WHERE n.nspname = %s AND c.relname = %s
ORDER BY a.attnum
"""


def table_relation(cur: Any, schema: str, table: str) -> Relation:
    """The table as a pgoutput Relation would describe it (same type OIDs and modifiers)."""
    cur.execute(_COLUMNS_SQL, (schema, table))
    rows = cur.fetchall()
    if not rows:
        raise CaptureError(f"table {schema}.{table} is published but has no columns visible to capture")
    full = rows[0][1] == "f"
    cols = tuple(Column(name, typ, mod, full or bool(key)) for _, _, name, typ, mod, key in rows)
    return Relation(rows[0][0], schema, table, str(rows[0][1]), cols)


def delete_load_files(storage: Storage, schema: str, table: str) -> int:
    """Remove a table's LOAD files (a full load that did not finish); returns how many."""
    files = [f for f in storage.list_files(layout.raw_table_dir(schema, table)) if layout.is_load_file(f)]
    for f in files:
        storage.delete(f)
    return len(files)


def load_table(dsn: str, snap: Snapshot, storage: Storage, pt: PublishedTable, file_rows: int,
               on_rows: Callable[[int], None] | None = None) -> LoadResult:
    """Read ``pt`` as of ``snap`` into LOAD files; records its schema in the schema history.

    Raises:
        CaptureError: the snapshot is gone (the slot's connection closed) or the COPY failed.
    """
    with connection(dsn) as conn, conn.cursor() as cur:
        try:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute("SET TRANSACTION SNAPSHOT %s", (snap.name,))
        except PgError as exc:
            raise CaptureError(f"cannot import snapshot {snap.name} for {pt.name}: {str(exc).strip()}; "
                               "restart `autocorp capture` (the full load starts over)") from None
        rel = table_relation(cur, pt.schema, pt.table)
        record = schema_record(rel, snap.lsn, None, pt.key_columns)
        storage.write_bytes(f"{layout.schema_history_dir(pt.schema, pt.table)}/{snap.lsn:016X}.json",
                            json.dumps(record, indent=1).encode())
        files = _LoadFiles(storage, pt, file_rows)
        batch = TableBatch(rel, pt.key_columns)
        rows = 0
        # Parquet encoding releases the GIL: one row group is written while the next is read
        with ThreadPoolExecutor(1, thread_name_prefix="load-writer") as pool:
            pending: Future[None] | None = None
            try:
                for chunk in _copy_chunks(cur, rel):
                    batch.append_text_rows(chunk, "I", snap.taken_at, snap.lsn, rows + 1)
                    rows += len(next(iter(chunk.values()))) if chunk else 0
                    if len(batch) >= ROW_GROUP_ROWS:
                        table = batch.to_table()
                        if pending is not None:
                            pending.result()
                        pending = pool.submit(files.write, table)
                    if on_rows is not None:
                        on_rows(rows)
                if pending is not None:
                    pending.result()
                if len(batch) or files.number == 0:
                    files.write(batch.to_table())
            finally:
                if pending is not None:
                    pending.exception()
                files.close()
        return LoadResult(pt.name, rows, files.number)


class _LoadFiles:
    """LOAD00000001.parquet, LOAD00000002...: a new file every ``file_rows`` rows or on a schema change."""

    def __init__(self, storage: Storage, pt: PublishedTable, file_rows: int) -> None:
        self.storage, self.pt, self.file_rows = storage, pt, file_rows
        self.number = 0
        self._ctx: AbstractContextManager[pq.ParquetWriter] | None = None
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        if self._writer is not None and (self._rows >= self.file_rows
                                         or not table.schema.equals(self._schema, check_metadata=True)):
            self.close()
        if self._writer is None:
            self.number += 1
            rel = layout.load_file(self.pt.schema, self.pt.table, self.number)
            self._ctx = self.storage.parquet_writer(rel, table.schema)
            self._writer, self._schema, self._rows = self._ctx.__enter__(), table.schema, 0
        self._writer.write_table(table)
        self._rows += table.num_rows

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)
        self._ctx = self._writer = self._schema = None


def _copy_chunks(cur: Any, rel: Relation) -> Iterator[dict[str, pa.Array]]:
    """Stream the table as CSV through a pipe into pyarrow; yields column-name -> bytes arrays."""
    names = [c.name for c in rel.columns]
    cols = ", ".join(_ident(n) for n in names)
    sql = (f"COPY (SELECT {cols} FROM {_ident(rel.schema)}.{_ident(rel.table)}) "
           "TO STDOUT (FORMAT csv, FORCE_QUOTE *)")
    rfd, wfd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with io.BufferedWriter(io.FileIO(wfd, "wb"), 1 << 20) as out:
                cur.copy_expert(sql, out, size=1 << 20)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the reading thread
            failure.append(exc)

    producer = threading.Thread(target=produce, name=f"copy-{rel.table}", daemon=True)
    producer.start()
    # buffered: a raw pipe read returns at most 64 KiB, and pyarrow would make each read a batch
    source = io.BufferedReader(io.FileIO(rfd, "rb"), _CSV_BLOCK)
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=names, block_size=_CSV_BLOCK),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.binary() for n in names}, null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=False),
        )
        for rb in reader:
            yield {n: rb.column(i) for i, n in enumerate(names)}
    except pa.ArrowInvalid as exc:
        if not failure and "Empty CSV" not in str(exc):
            raise CaptureError(f"cannot parse the snapshot of {rel.schema}.{rel.table}: {exc}") from None
    finally:
        source.close()
        producer.join()
    if failure:
        exc = failure[0]
        if isinstance(exc, PgError):
            raise CaptureError(f"reading {rel.schema}.{rel.table} from the snapshot failed: "
                               f"{str(exc).strip()}; restart `autocorp capture`") from None
        raise exc


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
