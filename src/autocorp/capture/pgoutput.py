"""Decoder for the messages of PostgreSQL's built-in ``pgoutput`` plugin, protocol version 1.

The message values live in ``autocorp.capture.messages`` and are re-exported here.

Version 1 with the text tuple format is all we ask for, so these are the messages PostgreSQL 18
may send: Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate and (with
``messages 'true'``) logical decoding messages. Column values stay ``bytes`` in PostgreSQL's text
output format; ``None`` is SQL NULL and ``UNCHANGED`` an unchanged TOAST value that was not sent.

Row messages are the hot path: their tuples are parsed by functions generated once per column
count, unrolled and without bounds checks. Anything that goes wrong there is re-parsed by a slow,
checked reader that names the problem and its offset in a ``DecodeError``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from autocorp.capture.messages import (  # re-exported: callers import them from here
    PG_EPOCH,
    UNCHANGED,
    Begin,
    Column,
    Commit,
    Delete,
    Insert,
    LogicalMessage,
    Message,
    Origin,
    Relation,
    Truncate,
    Tuple,
    TypeMsg,
    Update,
    Value,
    fill_unchanged,
)
from autocorp.errors import DecodeError

__all__ = [
    "PG_EPOCH", "UNCHANGED", "Begin", "Column", "Commit", "Delete", "Insert", "LogicalMessage", "Message",
    "Origin", "Relation", "Truncate", "Tuple", "TypeMsg", "Update", "Value", "decode", "fill_unchanged",
]

_U8 = struct.Struct("!B")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_I32 = struct.Struct("!i")
_U64 = struct.Struct("!Q")
_I64 = struct.Struct("!q")
_BEGIN = struct.Struct("!xQqI")  # final_lsn, commit_ts, xid
_COMMIT = struct.Struct("!xBQQq")  # flags, commit_lsn, end_lsn, commit_ts

_NAMES: Final = {
    "B": "Begin", "C": "Commit", "O": "Origin", "R": "Relation", "Y": "Type", "I": "Insert",
    "U": "Update", "D": "Delete", "T": "Truncate", "M": "Message",
}


# --------------------------------------------------------------------------- errors

class _Malformed(Exception):
    def __init__(self, problem: str, offset: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.offset = offset


def _error(buf: bytes, problem: str, offset: int) -> DecodeError:
    kind = chr(buf[0]) if buf else "?"
    name = _NAMES.get(kind, "unknown")
    return DecodeError(
        f"cannot decode pgoutput {name} message {kind!r} (0x{buf[0] if buf else 0:02x}): {problem} "
        f"at offset {offset} of {len(buf)} bytes; the stream must be pgoutput protocol version 1 with "
        "text tuples - restart capture, and if it happens again run `autocorp capture --resync`"
    )


class _Reader:
    """Bounds-checked reader: the slow path used for rare messages and to diagnose bad ones."""

    __slots__ = ("buf", "off")

    def __init__(self, buf: bytes, off: int = 1) -> None:
        self.buf = buf
        self.off = off

    def _take(self, n: int, what: str) -> int:
        start = self.off
        if start + n > len(self.buf):
            raise _Malformed(f"truncated {what} (needs {n} bytes, {len(self.buf) - start} left)", start)
        self.off = start + n
        return start

    def unpack(self, st: struct.Struct, what: str) -> Any:
        return st.unpack_from(self.buf, self._take(st.size, what))[0]

    def raw(self, n: int, what: str) -> bytes:
        start = self._take(n, what)
        return self.buf[start:start + n]

    def cstring(self, what: str) -> str:
        end = self.buf.find(b"\0", self.off)
        if end < 0:
            raise _Malformed(f"unterminated {what} string", self.off)
        start, self.off = self.off, end + 1
        try:
            return self.buf[start:end].decode("utf-8")
        except UnicodeDecodeError:
            raise _Malformed(f"{what} is not valid UTF-8", start) from None

    def tuple(self) -> Tuple:
        ncols = self.unpack(_U16, "tuple column count")
        values: list[Value] = []
        for i in range(ncols):
            at = self.off
            kind = self.raw(1, f"kind of column {i}")
            if kind == b"t":
                values.append(self.raw(self.unpack(_U32, f"length of column {i}"), f"value of column {i}"))
            elif kind == b"n":
                values.append(None)
            elif kind == b"u":
                values.append(UNCHANGED)
            elif kind == b"b":
                raise _Malformed(f"column {i} is in binary format, which capture never requests", at)
            else:
                raise _Malformed(f"unknown column kind {kind!r} for column {i}", at)
        return tuple(values)

    def marker(self, allowed: bytes, what: str) -> str:
        at = self.off
        m = self.raw(1, what)
        if m not in allowed:
            raise _Malformed(f"expected {what} {' or '.join(repr(chr(c)) for c in allowed)}, got {m!r}", at)
        return m.decode()

    def end(self) -> None:
        if self.off != len(self.buf):
            raise _Malformed(f"{len(self.buf) - self.off} unexpected trailing bytes", self.off)


# --------------------------------------------------------------------------- generated tuple parsers

class _BadKind(Exception):
    pass


_TUPLE_PARSERS: dict[int, Any] = {}


def _tuple_parser(ncols: int) -> Any:
    """Return ``parse(buf, off) -> (values, new_off)`` unrolled for ``ncols`` columns."""
    parser = _TUPLE_PARSERS.get(ncols)
    if parser is not None:
        return parser
    lines = ["def parse(buf, off, _u=_u32, _U=_UNCH, _Bad=_BadKind):"]
    for i in range(ncols):
        lines += [
            "    k = buf[off]",
            "    if k == 116:",
            "        e = off + 5 + _u(buf, off + 1)[0]",
            f"        v{i} = buf[off + 5:e]",
            "        off = e",
            "    elif k == 110:",
            f"        v{i} = None",
            "        off += 1",
            "    elif k == 117:",
            f"        v{i} = _U",
            "        off += 1",
            "    else:",
            "        raise _Bad()",
        ]
    names = "".join(f"v{i}, " for i in range(ncols))
    lines.append(f"    return ({names}), off")
    scope: dict[str, Any] = {"_u32": _U32.unpack_from, "_UNCH": UNCHANGED, "_BadKind": _BadKind}
    exec(compile("\n".join(lines), f"<pgoutput tuple parser {ncols}>", "exec"), scope)  # noqa: S102
    parser = _TUPLE_PARSERS[ncols] = scope["parse"]
    return parser


_MAX_UNROLLED = 100  # wider tuples (or a corrupt count) use the loop below instead of generated code


def _tuple_loop(buf: bytes, off: int, ncols: int) -> tuple[Tuple, int]:
    values: list[Value] = []
    for _ in range(ncols):
        k = buf[off]
        if k == 116:
            end = off + 5 + _U32.unpack_from(buf, off + 1)[0]
            values.append(buf[off + 5:end])
            off = end
        elif k == 110 or k == 117:
            values.append(None if k == 110 else UNCHANGED)
            off += 1
        else:
            raise _BadKind()
    return tuple(values), off


def _tuple_at(buf: bytes, off: int) -> tuple[Tuple, int]:
    ncols = _U16.unpack_from(buf, off)[0]
    if ncols > _MAX_UNROLLED:
        return _tuple_loop(buf, off + 2, ncols)
    return _tuple_parser(ncols)(buf, off + 2)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- row messages (hot path)

def _insert(buf: bytes) -> Insert:
    relid = _U32.unpack_from(buf, 1)[0]
    if buf[5] != 78:  # 'N'
        raise _BadKind()
    new, off = _tuple_at(buf, 6)
    if off != len(buf):
        raise _BadKind()
    return Insert(relid, new)


def _update(buf: bytes) -> Update:
    relid = _U32.unpack_from(buf, 1)[0]
    marker = buf[5]
    old_kind = old = None
    off = 6
    if marker == 75 or marker == 79:  # 'K' | 'O'
        old_kind = "K" if marker == 75 else "O"
        old, off = _tuple_at(buf, 6)
        marker = buf[off]
        off += 1
    if marker != 78:
        raise _BadKind()
    new, off = _tuple_at(buf, off)
    if off != len(buf):
        raise _BadKind()
    return Update(relid, old_kind, old, new)


def _delete(buf: bytes) -> Delete:
    relid = _U32.unpack_from(buf, 1)[0]
    marker = buf[5]
    if marker != 75 and marker != 79:
        raise _BadKind()
    old, off = _tuple_at(buf, 6)
    if off != len(buf):
        raise _BadKind()
    return Delete(relid, "K" if marker == 75 else "O", old)


def _checked_row(buf: bytes) -> Insert | Update | Delete:
    """Slow, checked parse of a row message; raises ``_Malformed`` with the exact place."""
    r = _Reader(buf)
    relid = r.unpack(_U32, "relation oid")
    kind = buf[0]
    old_kind: str | None = None
    old: Tuple | None = None
    if kind == 73:  # 'I'
        r.marker(b"N", "new tuple marker")
        new = r.tuple()
        r.end()
        return Insert(relid, new)
    if kind == 68:  # 'D'
        old_kind = r.marker(b"KO", "old tuple marker")
        old = r.tuple()
        r.end()
        return Delete(relid, old_kind, old)
    marker = r.marker(b"KON", "tuple marker")
    if marker != "N":
        old_kind, old = marker, r.tuple()
        r.marker(b"N", "new tuple marker")
    new = r.tuple()
    r.end()
    return Update(relid, old_kind, old, new)


# --------------------------------------------------------------------------- other messages

_last_ts: tuple[int, datetime] = (0, PG_EPOCH)  # a Commit repeats its Begin's time: convert it once


def _ts(pg_micros: int) -> datetime:
    global _last_ts
    last = _last_ts  # one read: safe if two threads decode
    if last[0] == pg_micros:
        return last[1]
    ts = PG_EPOCH + timedelta(0, 0, pg_micros)
    _last_ts = (pg_micros, ts)
    return ts


def _begin(buf: bytes) -> Begin:
    if len(buf) != _BEGIN.size:
        raise _Malformed(f"Begin must be {_BEGIN.size} bytes", min(len(buf), _BEGIN.size))
    final_lsn, ts, xid = _BEGIN.unpack(buf)
    return Begin(final_lsn, _ts(ts), xid)


def _commit(buf: bytes) -> Commit:
    if len(buf) != _COMMIT.size:
        raise _Malformed(f"Commit must be {_COMMIT.size} bytes", min(len(buf), _COMMIT.size))
    _flags, commit_lsn, end_lsn, ts = _COMMIT.unpack(buf)
    return Commit(commit_lsn, end_lsn, _ts(ts))


def _relation(buf: bytes) -> Relation:
    r = _Reader(buf)
    oid = r.unpack(_U32, "relation oid")
    schema = r.cstring("namespace")
    table = r.cstring("relation name")
    ident = chr(r.unpack(_U8, "replica identity"))
    columns = []
    for i in range(r.unpack(_U16, "column count")):
        flags = r.unpack(_U8, f"flags of column {i}")
        name = r.cstring(f"name of column {i}")
        columns.append(Column(name, r.unpack(_U32, f"type of column {name}"),
                              r.unpack(_I32, f"type modifier of column {name}"), bool(flags & 1)))
    r.end()
    return Relation(oid, schema, table, ident, tuple(columns))


def _type(buf: bytes) -> TypeMsg:
    r = _Reader(buf)
    oid = r.unpack(_U32, "type oid")
    msg = TypeMsg(oid, r.cstring("namespace"), r.cstring("type name"))
    r.end()
    return msg


def _origin(buf: bytes) -> Origin:
    r = _Reader(buf)
    msg = Origin(r.unpack(_U64, "origin commit LSN"), r.cstring("origin name"))
    r.end()
    return msg


def _truncate(buf: bytes) -> Truncate:
    r = _Reader(buf)
    count = r.unpack(_U32, "relation count")
    options = r.unpack(_U8, "options")
    relids = tuple(r.unpack(_U32, f"relation oid {i}") for i in range(count))
    r.end()
    return Truncate(relids, bool(options & 1), bool(options & 2))


def _message(buf: bytes) -> LogicalMessage:
    r = _Reader(buf)
    flags = r.unpack(_U8, "flags")
    lsn = r.unpack(_U64, "message LSN")
    prefix = r.cstring("prefix")
    content = r.raw(r.unpack(_U32, "content length"), "content")
    r.end()
    return LogicalMessage(prefix, content, bool(flags & 1), lsn)


_HANDLERS: Final[dict[int, Callable[[bytes], Message]]] = {
    73: _insert, 85: _update, 68: _delete, 66: _begin, 67: _commit, 82: _relation, 89: _type, 79: _origin,
    84: _truncate, 77: _message,
}
_ROW_KINDS: Final = frozenset((73, 85, 68))


def decode(buf: bytes | memoryview | bytearray) -> Message:
    """Decode one pgoutput message (the payload of one XLogData / one row of the SQL functions).

    Raises:
        DecodeError: the message is empty, of an unknown type, truncated or otherwise malformed;
            the text names the message type byte and the offset of the problem.
    """
    if type(buf) is not bytes:
        buf = bytes(buf)
    if not buf:
        raise DecodeError("cannot decode an empty pgoutput message: the stream is corrupt - restart capture")
    handler = _HANDLERS.get(buf[0])
    if handler is None:
        raise _error(buf, "unknown message type (only protocol version 1 without streaming is supported)", 0)
    try:
        return handler(buf)
    except (_BadKind, IndexError, struct.error):
        if buf[0] not in _ROW_KINDS:
            raise
        return _diagnose(buf)
    except _Malformed as exc:
        raise _error(buf, exc.problem, exc.offset) from None


def _diagnose(buf: bytes) -> Message:
    try:
        msg = _checked_row(buf)
    except _Malformed as exc:
        raise _error(buf, exc.problem, exc.offset) from None
    return msg  # the fast parser gave up on something the checked one accepts: trust the checked one
