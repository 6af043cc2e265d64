"""One table's changes, accumulated as raw PostgreSQL text and converted per batch into typed Arrow.

``append`` is on the hot path of the change stream: it only stores the decoded tuple and a
metadata tuple. All conversion happens in ``to_table``, once per column per batch, with the
converters of ``typemap`` — the same ones the full load uses through ``append_text_rows``, so LOAD
and CDC files share one schema.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from autocorp.capture.pgoutput import UNCHANGED, Delete, Relation, Update, decode
from autocorp.capture.rawtuples import parse_tuples
from autocorp.capture.typemap import ColumnType, column_type
from autocorp.errors import DecodeError

COMMIT_TS_TYPE = pa.timestamp("us", tz="UTC")
META_FIELDS: tuple[pa.Field, ...] = (
    pa.field("Op", pa.string()),
    pa.field("_commit_ts", COMMIT_TS_TYPE),
    pa.field("_lsn", pa.int64()),
    pa.field("_seq", pa.int64()),
    pa.field("_xid", pa.int64()),
    pa.field("_unchanged", pa.list_(pa.string())),
)
REASON_KEY = "autocorp.string_reason."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ROW_OVERHEAD = 48
_NBYTES_SAMPLE = 16  # nbytes measures every 16th row
_OP_KINDS = frozenset("IUDT")  # rough bytes per row for the metadata columns


class _TextSegment:
    """Rows given as Arrow text columns (the full load)."""

    __slots__ = ("columns", "length", "op", "commit_ts", "lsn", "seq_start")

    def __init__(self, columns: list[pa.Array], length: int, op: str, commit_ts: datetime, lsn: int,
                 seq_start: int) -> None:
        self.columns, self.length, self.op = columns, length, op
        self.commit_ts, self.lsn, self.seq_start = commit_ts, lsn, seq_start

    def meta(self) -> list[pa.Array]:
        n = self.length
        return [
            pa.repeat(pa.scalar(self.op, pa.string()), n),
            pa.repeat(pa.scalar(self.commit_ts, COMMIT_TS_TYPE), n),
            pa.repeat(pa.scalar(self.lsn, pa.int64()), n),
            pa.arange(self.seq_start, self.seq_start + n).cast(pa.int64()),
            pa.nulls(n, pa.int64()),
            pa.nulls(n, META_FIELDS[5].type),
        ]


class _RowSegment:
    """Rows appended one by one from the change stream, kept as decoded bytes.

    Op, commit time, LSN and xid change only between transactions (and op kinds), so they are kept
    as runs: ``runs`` holds ``(first row, op, commit_ts, lsn, xid)`` per run.
    """

    __slots__ = ("rows", "seqs", "runs", "run_key", "unchanged", "maybe_unchanged")

    def __init__(self) -> None:
        self.rows: list[Sequence[bytes | None | object]] = []
        self.seqs: list[int] = []
        self.runs: list[tuple[int, str, datetime, int, int | None]] = []
        self.run_key: tuple[str, int] | None = None
        self.unchanged: dict[int, list[str]] = {}
        self.maybe_unchanged = False

    def columns(self, ncols: int) -> list[pa.Array]:
        out = []
        for col in zip(*self.rows, strict=False) if ncols else ():
            if self.maybe_unchanged and UNCHANGED in col:
                col = tuple(None if v is UNCHANGED else v for v in col)
            out.append(pa.array(col, pa.binary()))
        return out

    def meta(self) -> list[pa.Array]:
        return _run_meta(len(self.rows), self.runs, self.seqs, self.unchanged)


class _RawSegment:
    """Insert / Delete / plain Update messages kept as their raw bytes, parsed per column by ``rawtuples``."""

    __slots__ = ("payloads", "seqs", "runs", "run_key", "unchanged", "nbytes")

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self.seqs: list[int] = []
        self.runs: list[tuple[int, str, datetime, int, int | None]] = []
        self.run_key: tuple[str, int] | None = None
        self.unchanged: dict[int, list[str]] = {}
        self.nbytes = 0

    @property
    def rows(self) -> list[bytes]:
        return self.payloads

    def columns(self, names: list[str]) -> list[pa.Array]:
        parsed = parse_tuples(self.payloads, len(names))
        if parsed is None:  # malformed somewhere: decode one by one, which raises a precise DecodeError
            return self._decoded(names).columns(len(names))
        columns, unchanged = parsed
        rows = np.flatnonzero(unchanged.any(axis=1)) if unchanged.size else ()
        starts = [r[0] for r in self.runs]
        for row in rows:  # rare: unchanged TOAST values; listed for updates only
            if self.runs[bisect.bisect_right(starts, row) - 1][1] == "U":
                self.unchanged[int(row)] = [names[i] for i in np.flatnonzero(unchanged[row])]
        return columns

    def _decoded(self, names: list[str]) -> _RowSegment:
        seg = _RowSegment()
        seg.maybe_unchanged = True
        for row, payload in enumerate(self.payloads):
            msg = decode(payload)
            values = msg.old if isinstance(msg, Delete) else getattr(msg, "new", ())
            if len(values) != len(names):
                raise DecodeError(f"a change has {len(values)} values but the relation has {len(names)} columns; "
                                  "a Relation message was missed - restart capture")
            seg.rows.append(values)
            if isinstance(msg, Update) and UNCHANGED in values:
                self.unchanged[row] = [n for n, v in zip(names, values, strict=True) if v is UNCHANGED]
        return seg

    def meta(self) -> list[pa.Array]:
        return _run_meta(len(self.payloads), self.runs, self.seqs, self.unchanged)


def _run_meta(n: int, runs: list[tuple[int, str, datetime, int, int | None]], seqs: list[int],
              unchanged: dict[int, list[str]]) -> list[pa.Array]:
    """The metadata columns of ``n`` stream rows from their runs, sequence numbers and unchanged names."""
    starts, ops, stamps, lsns, xids = zip(*runs, strict=True)
    per_run = [pa.array(ops, pa.string()), pa.array([_micros(ts) for ts in stamps], pa.int64()),
               pa.array(lsns, pa.int64()), pa.array(xids, pa.int64())]
    if len(starts) < n:  # expand runs to rows
        lengths: Any = np.diff(np.array([*starts, n], dtype=np.int64))
        index = pa.array(np.repeat(np.arange(len(starts), dtype=np.int32), lengths))
        per_run = [arr.take(index) for arr in per_run]
    op, micros, lsn, xid = per_run
    listed = [unchanged.get(i) for i in range(n)] if unchanged else None
    return [
        op, micros.cast(COMMIT_TS_TYPE), lsn, pa.array(seqs, pa.int64()), xid,
        pa.nulls(n, META_FIELDS[5].type) if listed is None else pa.array(listed, META_FIELDS[5].type),
    ]


def _micros(ts: datetime) -> int:
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


class TableBatch:
    """Accumulates one table's changes as raw bytes; converts per batch into typed Arrow arrays."""

    def __init__(self, relation: Relation, key_columns: Sequence[str]) -> None:
        self.relation = relation
        self.key_columns = list(key_columns)
        self._names = [c.name for c in relation.columns]
        self._types: list[ColumnType] = [column_type(c) for c in relation.columns]
        self._nulls = (None,) * len(self._names)
        self._reset()

    def _reset(self) -> None:
        self._segments: list[_RowSegment | _RawSegment | _TextSegment] = []
        self._current: _RowSegment | _RawSegment = _RowSegment()
        self._count = 0
        self._nbytes = 0
        self._sized = 0  # rows of the current segment already counted in _nbytes

    def append(self, op: str, commit_ts: datetime, lsn: int, seq: int, xid: int | None,
               values: Sequence[bytes | None | object], unchanged: Sequence[str] | None = None) -> None:
        """Add one change. ``values`` align with the relation's columns (empty for ``T``: all null).

        ``UNCHANGED`` values are stored as null and their column names listed in ``_unchanged``.

        Raises:
            DecodeError: ``values`` does not have one entry per column of the relation.
        """
        cur = self._current
        if type(cur) is not _RowSegment:
            self._close_rows()
            cur = self._current = _RowSegment()
        if len(values) != len(self._nulls):
            if values:
                raise DecodeError(
                    f"{self.source}: a change has {len(values)} values but the relation has "
                    f"{len(self._nulls)} columns; a Relation message was missed - restart capture")
            values = self._nulls
        if op != "I":
            cur.maybe_unchanged = True
            if unchanged is None and op == "U" and UNCHANGED in values:
                unchanged = [n for n, v in zip(self._names, values, strict=True) if v is UNCHANGED]
        if unchanged:
            cur.unchanged[len(cur.rows)] = list(unchanged)
        if cur.run_key != (op, lsn):
            self._start_run(cur, len(cur.rows), op, commit_ts, lsn, xid)
        cur.rows.append(values)
        cur.seqs.append(seq)
        self._count += 1

    def append_raw(self, op: str, commit_ts: datetime, lsn: int, seq: int, xid: int | None, payload: bytes) -> None:
        """Add one change given as its raw pgoutput Insert, Delete or Update-without-old-tuple message.

        The tuple is parsed (column-wise, with all others) by ``to_table``; a malformed one raises there.
        """
        cur = self._current
        if type(cur) is not _RawSegment:
            self._close_rows()
            cur = self._current = _RawSegment()
        if cur.run_key != (op, lsn):
            self._start_run(cur, len(cur.payloads), op, commit_ts, lsn, xid)
        cur.payloads.append(payload)
        cur.seqs.append(seq)
        cur.nbytes += len(payload) + _ROW_OVERHEAD
        self._count += 1


    def _start_run(self, cur: _RowSegment | _RawSegment, at: int, op: str, commit_ts: datetime, lsn: int,
                   xid: int | None) -> None:
        """A new run of changes sharing kind and transaction starts at row ``at`` of segment ``cur``."""
        if op not in _OP_KINDS:
            raise DecodeError(f"{self.source}: unknown change kind {op!r}; expected one of I, U, D, T")
        cur.run_key = (op, lsn)
        cur.runs.append((at, op, commit_ts, lsn, xid))
    def append_text_rows(self, columns: dict[str, pa.Array | pa.ChunkedArray], op: str, commit_ts: datetime,
                         lsn: int, seq_start: int) -> None:
        """Add rows given as string/binary Arrow columns in PostgreSQL text format (the full load).

        Missing columns are null; ``_seq`` runs from ``seq_start``; ``_xid`` and ``_unchanged`` are null.
        For ``COPY ... TO STDOUT (FORMAT csv)`` read with pyarrow.csv, read every column as string with
        ``strings_can_be_null=True, quoted_strings_can_be_null=False``: PostgreSQL writes NULL as an
        unquoted empty field and an empty string as ``""``. A column already parsed into its nominal
        Arrow type (``TableBatch.schema``, not binary) is kept as it is; all segments of one batch must
        then give that column the same way.

        Raises:
            DecodeError: a column is not part of the relation or the columns differ in length.
        """
        unknown = set(columns) - set(self._names)
        if unknown:
            raise DecodeError(f"{self.source}: snapshot columns {sorted(unknown)} are not in the relation; "
                              "the table changed during the load - run `autocorp capture --resync`")
        nominal = dict(zip(self._names, self._types, strict=True))
        arrays = {name: _raw(arr, nominal[name]) for name, arr in columns.items()}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) > 1:
            raise DecodeError(f"{self.source}: snapshot columns differ in length ({sorted(lengths)})")
        n = lengths.pop() if lengths else 0
        if not n:
            return
        self._close_rows()
        raw = [arrays[name] if name in arrays else pa.nulls(n, pa.binary()) for name in self._names]
        self._segments.append(_TextSegment(raw, n, op, commit_ts, lsn, seq_start))
        self._count += n
        self._nbytes += sum(a.nbytes for a in raw) + n * _ROW_OVERHEAD

    def _close_rows(self, account: bool = True) -> None:
        if self._current.rows:
            if account and type(self._current) is _RawSegment:
                self._nbytes += self._current.nbytes
            elif account:
                self.nbytes  # noqa: B018 - account the closed rows before they move
            self._segments.append(self._current)
            self._current = _RowSegment()
            self._sized = 0
        else:
            self._current = _RowSegment()

    def __len__(self) -> int:
        return self._count

    @property
    def source(self) -> str:
        """``<schema>.<table>``."""
        return f"{self.relation.schema}.{self.relation.table}"

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the pending rows (value bytes plus a per-row overhead)."""
        cur = self._current
        if type(cur) is _RawSegment:
            return self._nbytes + cur.nbytes
        rows = cur.rows
        if self._sized < len(rows):
            new = rows[self._sized:]
            sample = new[::_NBYTES_SAMPLE]
            sampled = sum(len(v) for row in sample for v in row if type(v) is bytes)
            self._nbytes += sampled * len(new) // len(sample) + len(new) * _ROW_OVERHEAD
            self._sized = len(rows)
        return self._nbytes

    def _metadata(self, reasons: dict[str, str]) -> dict[str, str]:
        meta = {"autocorp.primary_key": json.dumps(self.key_columns), "autocorp.source": self.source}
        meta.update({REASON_KEY + name: reason for name, reason in reasons.items()})
        return meta

    def schema(self) -> pa.Schema:
        """The nominal schema; a file may hold some columns as string (see its string_reason metadata)."""
        fields = [pa.field(n, t.arrow_type) for n, t in zip(self._names, self._types, strict=True)]
        reasons = {n: t.reason for n, t in zip(self._names, self._types, strict=True) if t.reason}
        return pa.schema([*META_FIELDS, *fields], metadata=self._metadata(reasons))

    def to_table(self) -> pa.Table:
        """Convert every pending change into one typed table and empty the batch.

        Raises:
            DecodeError: a value is not valid text of its column's type.
        """
        self._close_rows(account=False)
        segments = self._segments
        self._reset()
        if not segments:
            return self.schema().empty_table()
        raws = [seg.columns if isinstance(seg, _TextSegment) else seg.columns(self._names)
                if isinstance(seg, _RawSegment) else seg.columns(len(self._names)) for seg in segments]
        metas = [seg.meta() for seg in segments]  # after columns: parsing raw tuples finds unchanged values
        arrays = [_concat([m[i] for m in metas]) for i in range(len(META_FIELDS))]
        fields = list(META_FIELDS)
        reasons: dict[str, str] = {}
        for i, (name, ctype) in enumerate(zip(self._names, self._types, strict=True)):
            arr, reason = self._column(name, ctype, [r[i] for r in raws])
            reason = reason or ctype.reason
            if reason:
                reasons[name] = reason
            arrays.append(arr)
            fields.append(pa.field(name, arr.type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=self._metadata(reasons)))

    def _column(self, name: str, ctype: ColumnType, pieces: list[pa.Array]) -> tuple[pa.Array, str | None]:
        """One column of the batch from its segments' pieces (raw text, or already typed)."""
        if len({p.type for p in pieces}) == 1:
            return self._convert(name, ctype, _concat(pieces))
        done = [self._convert(name, ctype, p) for p in pieces]
        if len({arr.type for arr, _ in done}) > 1:
            raise DecodeError(f"{self.source}.{name}: a batch mixes typed snapshot rows with text rows that "
                              "cannot be typed; keep such rows in separate batches")
        return _concat([arr for arr, _ in done]), next((reason for _, reason in done if reason), None)

    def _convert(self, name: str, ctype: ColumnType, raw: pa.Array) -> tuple[pa.Array, str | None]:
        if _is_typed(raw, ctype):
            return raw, None
        try:
            return ctype.convert(raw)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
            raise DecodeError(f"{self.source}.{name}: cannot convert PostgreSQL text to {ctype.arrow_type}: "
                              f"{exc}; the capture session must use TimeZone=UTC DateStyle=ISO "
                              "IntervalStyle=iso_8601 bytea_output=hex") from None


def _is_typed(arr: pa.Array, ctype: ColumnType) -> bool:
    """Already in the column's nominal type (binary is never: for bytea it is the hex text)."""
    return arr.type == ctype.arrow_type and arr.type != pa.binary()


def _raw(arr: pa.Array | pa.ChunkedArray, ctype: ColumnType) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if _is_typed(arr, ctype) else _binary(arr)


def _binary(arr: pa.Array) -> pa.Array:
    if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        arr = arr.cast(pa.large_binary()).cast(pa.binary())
    return arr if arr.type == pa.binary() else arr.cast(pa.binary())


def _concat(arrays: list[pa.Array]) -> pa.Array:
    return arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
