"""The file writer: one background thread that performs every raw-zone write of the stream, in order.

Converting a batch to Arrow, compressing Parquet and fsyncing run here, off the replication read
loop. Jobs run strictly in submission order, so a checkpoint submitted after a set of data files is
written only once those files are durable. The queue is bounded: a slow lake slows the stream
down (the caller keeps the replication connection alive while it waits) instead of growing memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from autocorp.capture.batch import TableBatch
from autocorp.errors import AutocorpError, LakeError
from autocorp.lake import layout
from autocorp.lake.checkpoint import Checkpoint, write_checkpoint
from autocorp.lake.storage import Storage

Job = Callable[[], None]
TableKey = tuple[str, str]  # (schema, table)
Stamp = tuple[datetime, int]  # (commit time, commit LSN) of the last change in a file
_MICROSECOND = timedelta(microseconds=1)
_DICT_SAMPLE = 8192
_DICT_MAX_DISTINCT = 0.25  # distinct values per sampled row up to which a column is dictionary-encoded


@dataclass
class _OpenFile:
    """A Parquet file being streamed row group by row group; visible only once closed."""

    rel: str
    ctx: AbstractContextManager[pq.ParquetWriter]
    writer: pq.ParquetWriter
    schema: pa.Schema
    rows: int = 0


class FileWriter:
    """Runs lake writes on a background thread; ``durable`` is the last checkpoint written."""

    def __init__(self, storage: Storage, max_pending: int = 4) -> None:
        self.storage = storage
        self.durable: Checkpoint | None = None
        self.files_written = 0
        self.rows_written = 0
        self._queue: queue.Queue[Job | None] = queue.Queue(max_pending)
        self._open: dict[TableKey, _OpenFile] = {}
        self._used: set[str] = set()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="autocorp-capture-writer", daemon=True)
        self._thread.start()

    # -- main-thread API ------------------------------------------------------
    def submit(self, job: Job, keepalive: Callable[[], None] | None = None) -> None:
        """Queue ``job``; while the queue is full call ``keepalive`` about once a second.

        Raises:
            LakeError: an earlier job failed.
        """
        self.raise_if_failed()
        while True:
            try:
                self._queue.put(job, timeout=1.0)
                return
            except queue.Full:
                self.raise_if_failed()
                if keepalive is not None:
                    keepalive()

    def write_file(self, table: TableKey, last: Stamp, batch: TableBatch,
                   keepalive: Callable[[], None] | None = None) -> None:
        """Convert ``batch`` and write it as a CDC file named by ``last`` (commit time, commit LSN).

        If a part file of ``table`` is open, the batch becomes its last row group and the file is closed.
        """
        self.submit(lambda: self._write_file(table, last, batch), keepalive)

    def append_part(self, table: TableKey, last: Stamp, batch: TableBatch,
                    keepalive: Callable[[], None] | None = None) -> None:
        """Append ``batch`` as a row group to ``table``'s open part file (opened, named by ``last``, if needed)."""
        self.submit(lambda: self._append(table, last, batch.to_table()), keepalive)

    def write_bytes(self, rel: str, data: bytes, keepalive: Callable[[], None] | None = None) -> None:
        self.submit(lambda: self.storage.write_bytes(rel, data), keepalive)

    def write_checkpoint(self, cp: Checkpoint, keepalive: Callable[[], None] | None = None) -> None:
        self.submit(lambda: self._checkpoint(cp), keepalive)

    def drain(self, keepalive: Callable[[], None] | None = None) -> None:
        """Wait until every submitted job ran.

        Raises:
            LakeError: a job failed.
        """
        done = threading.Event()
        self.submit(done.set, keepalive)
        while not done.wait(1.0):
            self.raise_if_failed()
            if keepalive is not None:
                keepalive()
        self.raise_if_failed()

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def raise_if_failed(self) -> None:
        if self._error is not None:
            err = self._error
            if isinstance(err, AutocorpError):
                raise err
            raise LakeError(f"writing the raw zone failed: {err}; fix the lake storage and restart capture "
                            "(it resumes from the last checkpoint)") from err

    def close(self) -> None:
        """Stop the thread after the queued jobs; open files that were never finished are discarded."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        for f in self._open.values():
            try:
                f.ctx.__exit__(RuntimeError, RuntimeError("capture stopped"), None)
            except RuntimeError:
                pass
        self._open.clear()

    # -- writer thread --------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    job()
            except BaseException as exc:  # noqa: BLE001 - reported to the main thread
                self._error = exc
            finally:
                self._queue.task_done()

    def _name(self, table: TableKey, last: Stamp) -> str:
        """The CDC file name for ``last``; if taken in this run, the time moves on by 1 us (LSN kept)."""
        ts, lsn = last
        rel = layout.cdc_file(table[0], table[1], ts, lsn)
        while rel in self._used:
            ts += _MICROSECOND
            rel = layout.cdc_file(table[0], table[1], ts, lsn)
        self._used.add(rel)
        return rel

    def _append(self, table: TableKey, last: Stamp, data: pa.Table) -> None:
        f = self._open.get(table)
        if f is not None and not f.schema.equals(data.schema, check_metadata=True):
            self._finish(self._open.pop(table))
            f = None
        if f is None:
            rel = self._name(table, last)
            ctx = self.storage.parquet_writer(rel, data.schema, use_dictionary=dictionary_columns(data))
            f = self._open[table] = _OpenFile(rel, ctx, ctx.__enter__(), data.schema)
        f.writer.write_table(data)
        f.rows += data.num_rows

    def _finish(self, f: _OpenFile) -> None:
        f.ctx.__exit__(None, None, None)
        self.files_written += 1
        self.rows_written += f.rows

    def _write_file(self, table: TableKey, last: Stamp, batch: TableBatch) -> None:
        data = batch.to_table()
        if table in self._open:
            if data.num_rows:
                self._append(table, last, data)
            self._finish(self._open.pop(table))
            return
        if data.num_rows:
            self.storage.write_parquet(self._name(table, last), data, use_dictionary=dictionary_columns(data))
            self.files_written += 1
            self.rows_written += data.num_rows

    def _checkpoint(self, cp: Checkpoint) -> None:
        if self._open:
            raise LakeError(f"internal: checkpoint at {cp.lsn} while files are open: {sorted(self._open)}")
        self.durable = write_checkpoint(self.storage, cp)


def dictionary_columns(table: pa.Table) -> list[str]:
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
