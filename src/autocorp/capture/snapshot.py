"""The full load: each table read inside the slot's exported snapshot into LOAD files.

A table bigger than ``LOAD_PARALLEL * PARALLEL_MIN_PAGES`` heap pages is split into ``LOAD_PARALLEL``
ctid ranges, each read on its own connection that imports the *same* exported snapshot (so the
ranges together are exactly the table as of the slot's consistent point). A range is read as
binary COPY by ADBC (``arrowcopy``, on a prefetch thread) or, without ADBC, as CSV by pyarrow
(``tablecopy``); either way into typed Arrow columns. A value those readers cannot type makes the
table start over as raw text for ``typemap`` (``tablecopy``, ``typed=False``), so LOAD files always
equal what CDC files would hold. Batches -> ``TableBatch.append_text_rows`` -> row groups converted
and Parquet-encoded on a writer thread -> the range's own ``LOADnnnnnnnn.parquet`` files (a new one
every ``load_file_rows`` rows; numbers are shared by the ranges). Memory stays bounded by a few
row groups per range. LOAD ``_seq`` is the row number within its range plus ``range index << 40``:
unique, and the plain row number for a table read in one range.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from autocorp.capture import arrowcopy
from autocorp.capture.batch import TableBatch
from autocorp.capture.pgoutput import Column, Relation
from autocorp.capture.slot import PublishedTable
from autocorp.capture.tablecopy import NotTyped, PageRange, copy_batches, page_count, split_pages
from autocorp.capture.tables import schema_record
from autocorp.capture.writer import dictionary_columns
from autocorp.errors import CaptureError
from autocorp.lake import layout
from autocorp.lake.storage import Storage
from autocorp.source.connect import PgError, connection

_T = TypeVar("_T")
ROW_GROUP_ROWS = 131_072
LOAD_PARALLEL = max(1, min(4, os.cpu_count() or 1))  # ctid ranges read at once (connections) per table
PARALLEL_MIN_PAGES = 4096  # 32 MiB of heap per range at least: smaller tables are read in one range
_SEQ_RANGE_SHIFT = 40


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
    with _in_snapshot(dsn, snap, pt) as cur:
        rel = table_relation(cur, pt.schema, pt.table)
        ranges = split_pages(page_count(cur, rel), LOAD_PARALLEL, PARALLEL_MIN_PAGES)
    record = schema_record(rel, snap.lsn, None, pt.key_columns)
    storage.write_bytes(f"{layout.schema_history_dir(pt.schema, pt.table)}/{snap.lsn:016X}.json",
                        json.dumps(record, indent=1).encode())
    load = _TableLoad(dsn, snap, storage, pt, rel, file_rows, on_rows)
    try:
        return load.run(ranges, typed=True)
    except NotTyped:
        delete_load_files(storage, pt.schema, pt.table)
        load = _TableLoad(dsn, snap, storage, pt, rel, file_rows, on_rows)
        return replace(load.run(ranges, typed=False), text_fallback=True)


@contextmanager
def _in_snapshot(dsn: str, snap: Snapshot, pt: PublishedTable) -> Iterator[Any]:
    """A cursor in a read-only transaction that imported the exported snapshot."""
    with connection(dsn) as conn, conn.cursor() as cur:
        try:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute("SET TRANSACTION SNAPSHOT %s", (snap.name,))
        except PgError as exc:
            raise CaptureError(f"cannot import snapshot {snap.name} for {pt.name}: {str(exc).strip()}; "
                               "restart `autocorp capture` (the full load starts over)") from None
        yield cur


class _Aborted(Exception):
    """Another range of the same table failed: stop this one."""


class _TableLoad:
    """One table's ranges read in parallel threads into LOAD files with shared numbers."""

    def __init__(self, dsn: str, snap: Snapshot, storage: Storage, pt: PublishedTable, rel: Relation,
                 file_rows: int, on_rows: Callable[[int], None] | None) -> None:
        self.dsn, self.snap, self.storage, self.pt, self.rel = dsn, snap, storage, pt, rel
        self.file_rows, self.on_rows = file_rows, on_rows
        self.abort = threading.Event()
        self.adbc = arrowcopy.available() and arrowcopy.connects(dsn)
        self._lock = threading.Lock()
        self._files = 0
        self._rows = 0

    def run(self, ranges: list[PageRange], typed: bool) -> LoadResult:
        if len(ranges) == 1:
            self._range(ranges[0], typed)
        else:
            with ThreadPoolExecutor(len(ranges), thread_name_prefix="load-range") as pool:
                futures = [pool.submit(self._range, r, typed) for r in ranges]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                if any(f.exception() for f in done):
                    self.abort.set()
                wait(futures)
            errors = [e for e in (f.exception() for f in futures) if e is not None and not isinstance(e, _Aborted)]
            if errors:  # NotTyped first: the caller then reads the table again as text
                raise next((e for e in errors if isinstance(e, NotTyped)), errors[0])
        if self._files == 0:  # an empty table still gets one (empty) LOAD file with its schema
            files = _LoadFiles(self.storage, self.pt, self.file_rows, self._next_number)
            files.write(TableBatch(self.rel, self.pt.key_columns).to_table())
            files.close()
        return LoadResult(self.pt.name, self._rows, self._files)

    def _next_number(self) -> int:
        with self._lock:
            self._files += 1
            return self._files

    def _count(self, n: int) -> None:
        with self._lock:
            self._rows += n
            total = self._rows
        if self.on_rows is not None:
            self.on_rows(total)

    def _range(self, pages: PageRange, typed: bool) -> None:
        seq = (pages.index << _SEQ_RANGE_SHIFT) + 1
        batch = TableBatch(self.rel, self.pt.key_columns)
        files = _LoadFiles(self.storage, self.pt, self.file_rows, self._next_number)
        # conversion and Parquet encoding (pyarrow, GIL released) run on a thread while the next row
        # group is read; at most one group waits, so memory stays bounded
        with ExitStack() as stack:
            chunks = self._chunks(stack, pages, typed)
            pool = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="load-writer"))
            pending: Future[None] | None = None
            try:
                for chunk in chunks:
                    if self.abort.is_set():
                        raise _Aborted()
                    n = len(next(iter(chunk.values()))) if chunk else 0
                    batch.append_text_rows(chunk, "I", self.snap.taken_at, self.snap.lsn, seq)
                    seq += n
                    if len(batch) >= ROW_GROUP_ROWS:
                        if pending is not None:
                            pending.result()
                        pending = pool.submit(_write_group, files, batch)
                        batch = TableBatch(self.rel, self.pt.key_columns)
                    self._count(n)
                if pending is not None:
                    pending.result()
                if len(batch):
                    files.write(batch.to_table())
            finally:
                if pending is not None:
                    pending.exception()
                files.close()


    def _chunks(self, stack: ExitStack, pages: PageRange, typed: bool) -> Iterator[dict[str, pa.Array]]:
        """Typed: binary COPY through ADBC when it is installed; else (and for text) COPY csv via psycopg2."""
        if typed and self.adbc:
            # ADBC reads the COPY on the calling thread: a reader thread lets the server run ahead
            batches = arrowcopy.arrow_batches(self.dsn, self.snap.name, self.rel, pages)
            return stack.enter_context(closing(_prefetched(batches, f"load-read-{self.rel.table}-{pages.index}")))
        cur = stack.enter_context(_in_snapshot(self.dsn, self.snap, self.pt))
        return stack.enter_context(closing(copy_batches(cur, self.rel, pages, typed)))


def _prefetched(items: Generator[_T], name: str, depth: int = 2) -> Generator[_T]:
    """``items`` produced on a thread up to ``depth`` ahead; closing this closes the producer too."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as exc:  # noqa: BLE001 - re-raised by the consumer
            put((False, exc))
        finally:
            items.close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            more, value = box.get()
            if not more:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        thread.join()


def _write_group(files: _LoadFiles, batch: TableBatch) -> None:
    files.write(batch.to_table())


class _LoadFiles:
    """LOAD files of one range: a new file every ``file_rows`` rows or on a schema change."""

    def __init__(self, storage: Storage, pt: PublishedTable, file_rows: int, next_number: Callable[[], int]) -> None:
        self.storage, self.pt, self.file_rows, self.next_number = storage, pt, file_rows, next_number
        self._ctx: AbstractContextManager[pq.ParquetWriter] | None = None
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        if self._writer is not None and (self._rows >= self.file_rows
                                         or not table.schema.equals(self._schema, check_metadata=True)):
            self.close()
        if self._writer is None:
            rel = layout.load_file(self.pt.schema, self.pt.table, self.next_number())
            self._ctx = self.storage.parquet_writer(rel, table.schema, use_dictionary=dictionary_columns(table))
            self._writer, self._schema, self._rows = self._ctx.__enter__(), table.schema, 0
        self._writer.write_table(table)
        self._rows += table.num_rows

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)
        self._ctx = self._writer = self._schema = None
