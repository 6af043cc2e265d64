"""Read the raw zone (docs/raw-zone.md): the capture checkpoint, committed LOAD and CDC files, batches.

Curate never trusts a file the checkpoint does not cover: CDC files above the checkpoint LSN may be
left over from a crashed capture and are rewritten when it restarts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from autocorp.errors import CurateError
from autocorp.lake import layout
from autocorp.lake.rawzone import RawFile, list_dir
from autocorp.lake.storage import Storage

PRIMARY_KEY_META = b"autocorp.primary_key"
META_COLUMNS = ("Op", "_commit_ts", "_lsn", "_seq", "_xid", "_unchanged")


@dataclass(frozen=True)
class RawBatch:
    """Changes read from a run of raw files, in one table (union of the files' columns by name)."""

    rows: pa.Table
    primary_key: tuple[str, ...]
    files: tuple[str, ...]
    lsn_from: int
    lsn_to: int
    last_columns: tuple[str, ...]


def load_files(storage: Storage, schema: str, table: str) -> list[str]:
    """The table's LOAD files in order (callers check ``load_complete`` first).

    Only the table folder itself is listed, never its CDC date folders.
    """
    base = layout.raw_table_dir(schema, table)
    return sorted(f"{base}/{name}" for name, is_dir in list_dir(storage, base)
                  if not is_dir and layout.is_load_file(name))


def group_by_lsn(files: Sequence[RawFile]) -> Iterator[list[RawFile]]:
    """Runs of files sharing one file-name LSN (a transaction split over files is never cut in two)."""
    run: list[RawFile] = []
    for f in files:
        if run and f.lsn != run[-1].lsn:
            yield run
            run = []
        run.append(f)
    if run:
        yield run


def read_files(storage: Storage, paths: Sequence[str]) -> RawBatch:
    """Read Parquet files into one batch, unioned by column name (missing columns become null).

    ``lsn_to`` is the highest of the rows' ``_lsn`` and the CDC file-name LSNs.

    Raises:
        CurateError: a file is unreadable, lacks capture metadata, or the files disagree on a column's type.
    """
    return _combine([_read_batch(storage, p) for p in paths])


def _read_batch(storage: Storage, rel: str) -> RawBatch:
    rows = _read_one(storage, rel)
    lsns = rows.column("_lsn")
    lo = pc.min(lsns).as_py() if rows.num_rows else None
    hi = max(pc.max(lsns).as_py() or 0, layout.cdc_file_lsn(rel) or 0)
    return RawBatch(rows, _primary_key(rows.schema, rel), (rel,), lo if lo is not None else hi, hi,
                    tuple(rows.column_names))


def iter_batches(storage: Storage, files: Sequence[RawFile], max_rows: int) -> Iterator[RawBatch]:
    """Read ``files`` as batches of about ``max_rows`` changes, cut only between commit LSNs."""
    pending: list[RawBatch] = []
    rows = 0
    for run in group_by_lsn(files):
        part = read_files(storage, [f.path for f in run])
        pending.append(part)
        rows += part.rows.num_rows
        if rows >= max_rows:
            yield _combine(pending)
            pending, rows = [], 0
    if pending:
        yield _combine(pending)


def _combine(parts: Sequence[RawBatch]) -> RawBatch:
    if len(parts) == 1:
        return parts[0]
    try:
        rows = pa.concat_tables([p.rows for p in parts], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CurateError(
            f"raw files {parts[0].files[0]} .. {parts[-1].files[-1]} disagree on a column type ({exc}): "
            "a source column changed type; run `autocorp capture --resync`"
        ) from exc
    return RawBatch(rows, parts[-1].primary_key, tuple(f for p in parts for f in p.files),
                    min(p.lsn_from for p in parts), max(p.lsn_to for p in parts), parts[-1].last_columns)


def _read_one(storage: Storage, rel: str) -> pa.Table:
    try:
        return pq.read_table(storage.path(rel), filesystem=storage.fs)
    except (OSError, pa.ArrowException) as exc:
        raise CurateError(f"cannot read raw file {storage.uri(rel)}: {exc}; check the lake storage") from exc


def _primary_key(schema: pa.Schema, rel: str) -> tuple[str, ...]:
    raw = (schema.metadata or {}).get(PRIMARY_KEY_META)
    if raw is None:
        raise CurateError(f"raw file {rel} has no 'autocorp.primary_key' metadata: it was not written by capture")
    return tuple(json.loads(raw))


def table_columns(names: Sequence[str]) -> list[str]:
    """The source table's columns among raw column ``names`` (everything but the change metadata)."""
    return [c for c in names if c not in META_COLUMNS]
