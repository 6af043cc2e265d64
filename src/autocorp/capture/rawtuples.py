"""pgoutput row tuples parsed column-wise with numpy: many raw messages -> one binary Arrow array per column.

The replication loop keeps Insert, Delete and plain Update messages as their raw bytes; a batch
parses all of them at once here, one column at a time for every row together, instead of making a
Python ``bytes`` per value. Each message's tuple starts at byte ``TUPLE_AT``: kind byte, relation
oid, tuple marker (``N``, ``K`` or ``O``). Anything malformed makes ``parse_tuples`` return None, and
the caller decodes those messages one by one with ``pgoutput.decode``, which names the problem.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

TUPLE_AT = 6
_TEXT, _NULL, _UNCHANGED = 116, 110, 117  # 't', 'n', 'u'
_MAX_BINARY = 2**31 - 1


def parse_tuples(payloads: list[bytes], ncols: int) -> tuple[list[pa.Array], np.ndarray] | None:
    """The binary columns of the tuples, and a rows x columns mask of unchanged (TOAST) values.

    Unchanged values are null in the columns. Returns None if any message is malformed, has
    another column count than ``ncols`` or holds binary-format values.
    """
    n = len(payloads)
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    if n == 0 or lengths.min() < TUPLE_AT + 2:
        return ([], np.zeros((0, ncols), dtype=bool)) if n == 0 else None
    ends = np.cumsum(lengths)
    buf = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    pos = ends - lengths + TUPLE_AT
    if ((buf[pos].astype(np.int64) << 8 | buf[pos + 1]) != ncols).any():
        return None
    pos = pos + 2
    columns: list[pa.Array] = []
    unchanged = np.zeros((n, ncols), dtype=bool)
    for i in range(ncols):
        if (pos >= ends).any():
            return None
        kind = buf[pos]
        text, unchanged[:, i] = kind == _TEXT, kind == _UNCHANGED
        if not (text | unchanged[:, i] | (kind == _NULL)).all() or (text & (pos + 5 > ends)).any():
            return None
        length = np.where(text, _be32(buf, pos + 1), 0)
        start = pos + 5
        pos = np.where(text, start + length, pos + 1)
        if (pos > ends).any():
            return None
        column = _binary_array(buf, start, length, text)
        if column is None:
            return None
        columns.append(column)
    if (pos != ends).any():
        return None
    return columns, unchanged


def _be32(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Big-endian uint32 at each offset (offsets past the end read the last 4 bytes: masked by callers)."""
    at = np.minimum(at, buf.size - 4)
    return (buf[at].astype(np.int64) << 24 | buf[at + 1].astype(np.int64) << 16
            | buf[at + 2].astype(np.int64) << 8 | buf[at + 3])


def _binary_array(buf: np.ndarray, start: np.ndarray, length: np.ndarray, valid: np.ndarray) -> pa.Array | None:
    """Gather ``buf[start:start+length]`` per row into one binary array (null where not ``valid``)."""
    n = len(start)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    total = int(offsets[-1])
    if total > _MAX_BINARY:
        return None
    data = buf[np.repeat(start - offsets[:-1], length) + np.arange(total, dtype=np.int64)]
    nulls = n - int(np.count_nonzero(valid))
    validity = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(pa.binary(), n, [validity, pa.py_buffer(offsets.astype(np.int32)),
                                                   pa.py_buffer(data)], null_count=nulls)
