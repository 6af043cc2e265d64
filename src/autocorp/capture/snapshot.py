"""The full load: each table read inside the slot's exported snapshot into LOAD files.

Rows stream ``COPY (SELECT ...) TO STDOUT (FORMAT csv, FORCE_QUOTE (<text columns>))`` -> an OS
pipe -> pyarrow's streaming CSV reader, which parses numbers, booleans, dates, timestamps and text
into their Arrow types (NULL is the only unquoted empty field, so it differs from the empty string;
other types stay raw bytes for ``typemap``) -> ``TableBatch.append_text_rows`` -> typed row groups
converted and Parquet-encoded on a thread, a new ``LOADnnnnnnnn.parquet`` every ``load_file_rows``
rows. Memory stays bounded by two row groups.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from autocorp.capture.batch import TableBatch
from autocorp.capture.pgoutput import Column, Relation
from autocorp.capture.slot import PublishedTable
from autocorp.capture.tables import schema_record
from autocorp.capture.typemap import column_type
from autocorp.errors import CaptureError
from autocorp.lake import layout
from autocorp.lake.storage import Storage
from autocorp.source.connect import PgError, connection

ROW_GROUP_ROWS = 131_072
_CSV_BLOCK = 4 << 20
_DICT_SAMPLE = 8192
_DICT_MAX_DISTINCT = 0.25  # distinct values per sampled row up to which a column is dictionary-encoded


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
    text_fallback: bool = False  # a value pyarrow's CSV parser could not type: loaded as text via typemap


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

    The first pass lets pyarrow's CSV reader parse numbers, booleans, dates, timestamps and text
    into their Arrow types directly. A value it cannot parse (BC or 5-digit-year dates, infinity,
    numeric NaN) makes that table start over as raw text converted by ``typemap`` (same snapshot,
    same result as the CDC files).

    Raises:
        CaptureError: the snapshot is gone (the slot's connection closed) or the COPY failed.
    """
    try:
        return _load(dsn, snap, storage, pt, file_rows, on_rows, typed=True)
    except _NotTyped:
        delete_load_files(storage, pt.schema, pt.table)
        return replace(_load(dsn, snap, storage, pt, file_rows, on_rows, typed=False), text_fallback=True)


class _NotTyped(Exception):
    """pyarrow's CSV reader could not parse a value into the column's Arrow type."""


def _load(dsn: str, snap: Snapshot, storage: Storage, pt: PublishedTable, file_rows: int,
          on_rows: Callable[[int], None] | None, typed: bool) -> LoadResult:
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
        # conversion and Parquet encoding (pyarrow, GIL released) run on a thread while the next row
        # group is read; at most one group waits, so memory stays bounded
        with ThreadPoolExecutor(1, thread_name_prefix="load-writer") as pool:
            pending: Future[None] | None = None
            try:
                for chunk in _copy_chunks(cur, rel, typed):
                    batch.append_text_rows(chunk, "I", snap.taken_at, snap.lsn, rows + 1)
                    rows += len(next(iter(chunk.values()))) if chunk else 0
                    if len(batch) >= ROW_GROUP_ROWS:
                        if pending is not None:
                            pending.result()
                        pending = pool.submit(_write_group, files, batch)
                        batch = TableBatch(rel, pt.key_columns)
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


def _write_group(files: _LoadFiles, batch: TableBatch) -> None:
    files.write(batch.to_table())


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
            self._ctx = self.storage.parquet_writer(rel, table.schema, use_dictionary=_dictionary_columns(table))
            self._writer, self._schema, self._rows = self._ctx.__enter__(), table.schema, 0
        self._writer.write_table(table)
        self._rows += table.num_rows

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)
        self._ctx = self._writer = self._schema = None


def _dictionary_columns(table: pa.Table) -> list[str]:
    """Columns worth dictionary-encoding: few distinct values in a sample of the first rows.

    Dictionary-encoding a column of unique values (keys, timestamps, free text) costs most of the
    Parquet encoding time for nothing; zstd compresses its plain pages well.
    """
    sample = table.slice(0, _DICT_SAMPLE)
    limit = max(1, sample.num_rows) * _DICT_MAX_DISTINCT
    out = []
    for name, col in zip(sample.column_names, sample.columns, strict=True):
        try:
            few = pc.count_distinct(col, mode="all").as_py() <= limit
        except pa.ArrowNotImplementedError:  # lists: keep pyarrow's default
            few = True
        if few:
            out.append(name)
    return out


def _csv_types(rel: Relation, typed: bool) -> dict[str, pa.DataType]:
    """Column -> the type pyarrow's CSV reader parses it into (binary: raw text for ``typemap``)."""
    out = {}
    for c in rel.columns:
        arrow_type = column_type(c).arrow_type
        out[c.name] = arrow_type if typed and _parses_as_csv(arrow_type) else pa.binary()
    return out


def _parses_as_csv(t: pa.DataType) -> bool:
    """pyarrow's CSV parser reads PostgreSQL's text of these exactly as ``typemap``'s casts do."""
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_date32(t)
            or pa.types.is_timestamp(t) or pa.types.is_decimal128(t) or t == pa.string())


def _copy_sql(rel: Relation) -> str:
    """The COPY: only columns whose text can be empty are quoted (NULL is the unquoted empty field)."""
    cols = ", ".join(_ident(c.name) for c in rel.columns)
    maybe_empty = [_ident(c.name) for c in rel.columns if column_type(c).arrow_type == pa.string()]
    quote = f", FORCE_QUOTE ({', '.join(maybe_empty)})" if maybe_empty else ""
    return f"COPY (SELECT {cols} FROM {_ident(rel.schema)}.{_ident(rel.table)}) TO STDOUT (FORMAT csv{quote})"


def _copy_chunks(cur: Any, rel: Relation, typed: bool) -> Iterator[dict[str, pa.Array]]:
    """Stream the table as CSV through a pipe into pyarrow; yields column-name -> arrays.

    Raises:
        _NotTyped: (``typed``) a value did not parse into its column's Arrow type.
    """
    names = [c.name for c in rel.columns]
    sql = _copy_sql(rel)
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
                column_types=_csv_types(rel, typed), null_values=[""], true_values=["t"], false_values=["f"],
                strings_can_be_null=True, quoted_strings_can_be_null=False),
        )
        for rb in reader:
            yield {n: rb.column(i) for i, n in enumerate(names)}
    except pa.ArrowInvalid as exc:
        if typed and "conversion error" in str(exc):
            raise _NotTyped(str(exc)) from None
        if not failure and "Empty CSV" not in str(exc):
            raise CaptureError(f"cannot parse the snapshot of {rel.schema}.{rel.table}: {exc}") from None
    finally:
        source.close()
        producer.join()
    if failure and not isinstance(failure[0], BrokenPipeError):
        exc = failure[0]
        if isinstance(exc, PgError):
            raise CaptureError(f"reading {rel.schema}.{rel.table} from the snapshot failed: "
                               f"{str(exc).strip()}; restart `autocorp capture`") from None
        raise exc


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
