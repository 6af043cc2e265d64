"""Collapse a batch of changes to the latest change per primary key, ready for one merge.

Order is ``(_lsn, _seq)``. A TRUNCATE (``Op='T'``) drops every earlier change of the batch and
empties the table; later changes apply on top. Columns listed in ``_unchanged`` (unchanged TOAST
values PostgreSQL did not send) are filled from the key's previous change in the batch when there
is one; otherwise a ``__keep__<column>`` flag tells the merge to keep the stored value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from autocorp.errors import CurateError

KEEP_PREFIX = "__keep__"
DROP_COLUMNS = ("_seq", "_xid", "_unchanged")


@dataclass(frozen=True)
class Changes:
    """The latest change per key: table columns + ``Op``, ``_lsn``, ``_commit_ts`` + keep flags.

    Attributes:
        rows: one row per key; ``Op`` is ``I``/``U`` (upsert) or ``D`` (delete).
        keep_columns: columns with a ``__keep__<column>`` boolean flag.
        truncate: the batch contains a TRUNCATE: delete every stored row not re-inserted.
        changes_in: rows of the batch before collapsing.
    """

    rows: pa.Table
    keep_columns: tuple[str, ...]
    truncate: bool
    changes_in: int


def latest_changes(batch: pa.Table, key: Sequence[str]) -> Changes:
    """Collapse ``batch`` (raw-zone rows of one table) to the latest change per ``key``.

    Raises:
        CurateError: the table has no primary key.
    """
    if not key:
        raise CurateError(
            "a table without a primary key (REPLICA IDENTITY FULL) cannot be merged by key: "
            "add a primary key to the source table and run `autocorp capture --resync`"
        )
    n_in = batch.num_rows
    batch = batch.take(pc.sort_indices(batch, [("_lsn", "ascending"), ("_seq", "ascending")]))
    batch, truncate = _after_last_truncate(batch)
    if batch.num_rows == 0:
        return Changes(_drop_meta(batch), (), truncate, n_in)
    batch = batch.take(pc.sort_indices(batch, [(k, "ascending") for k in key]
                                       + [("_lsn", "ascending"), ("_seq", "ascending")]))
    last, start = _group_bounds(batch, key)
    latest_idx = np.flatnonzero(last)
    rows = batch.take(pa.array(latest_idx))
    rows, keep = _resolve_unchanged(batch, rows, latest_idx, start, truncate)
    return Changes(_drop_meta(rows), keep, truncate, n_in)


def _after_last_truncate(batch: pa.Table) -> tuple[pa.Table, bool]:
    is_t = pc.equal(batch.column("Op"), "T").to_numpy(zero_copy_only=False)
    hits = np.flatnonzero(is_t)
    if hits.size == 0:
        return batch, False
    return batch.slice(int(hits[-1]) + 1), True


def _group_bounds(batch: pa.Table, key: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by key: whether each row is its key's last, and the index its key's run starts at."""
    n = batch.num_rows
    differs = np.zeros(max(n - 1, 0), dtype=bool)
    for k in key:
        col = batch.column(k)
        ne = pc.fill_null(pc.not_equal(col.slice(1), col.slice(0, n - 1)), True)
        differs |= ne.to_numpy(zero_copy_only=False)
    last = np.append(differs, True)
    first = np.insert(differs, 0, True)
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    return last, start


def _resolve_unchanged(batch: pa.Table, rows: pa.Table, latest_idx: np.ndarray, start: np.ndarray,
                       truncate: bool) -> tuple[pa.Table, tuple[str, ...]]:
    """Fill unsent TOAST values of the latest rows from earlier changes of the same key in the batch."""
    if "_unchanged" not in batch.column_names or batch.column("_unchanged").null_count == batch.num_rows:
        return rows, ()
    unchanged = batch.column("_unchanged").to_pylist()
    names = sorted({c for lst in unchanged if lst for c in lst if c in batch.column_names})
    keep: list[str] = []
    for name in names:
        missing = np.array([bool(lst) and name in lst for lst in unchanged])
        sent = ~missing
        idx = np.arange(batch.num_rows)
        last_sent = np.maximum.accumulate(np.where(sent, idx, -1))
        need = missing[latest_idx]
        found = need & (last_sent[latest_idx] >= start[latest_idx])
        source = np.where(found, last_sent[latest_idx], latest_idx)
        rows = rows.set_column(rows.schema.get_field_index(name), name, batch.column(name).take(pa.array(source)))
        still = need & ~found
        if still.any() and not truncate:  # after a TRUNCATE there is no stored value to keep
            keep.append(name)
            rows = rows.append_column(KEEP_PREFIX + name, pa.array(still))
    return rows, tuple(keep)


def _drop_meta(rows: pa.Table) -> pa.Table:
    return rows.drop_columns([c for c in DROP_COLUMNS if c in rows.column_names])
