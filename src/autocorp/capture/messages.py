"""The messages of PostgreSQL's ``pgoutput`` plugin (protocol version 1) as frozen values.

Column values stay ``bytes`` in PostgreSQL's text output format; ``None`` is SQL NULL and
``UNCHANGED`` an unchanged TOAST value that was not sent. ``autocorp.capture.pgoutput`` decodes
the wire format into these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final


class _Unchanged:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __reduce__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = _Unchanged()
"""Sentinel for an unchanged TOAST column value (kind ``'u'``): the new row keeps its stored value."""

Value = bytes | None | _Unchanged
Tuple = tuple[Value, ...]

PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a Relation message."""

    name: str
    type_oid: int
    type_mod: int
    is_key: bool


@dataclass(frozen=True, slots=True)
class Relation:
    """Describes a published table; sent before its first change and after each schema change."""

    oid: int
    schema: str
    table: str
    replica_identity: str  # 'd' default, 'n' nothing, 'f' full, 'i' index
    columns: tuple[Column, ...]

    @property
    def key_columns(self) -> tuple[str, ...]:
        """Names of the replica identity columns, in table order."""
        return tuple(c.name for c in self.columns if c.is_key)


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_ts: datetime
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_ts: datetime


@dataclass(frozen=True, slots=True)
class Insert:
    relid: int
    new: Tuple


@dataclass(frozen=True, slots=True)
class Update:
    relid: int
    old_kind: str | None  # 'K' key columns only, 'O' whole old row (REPLICA IDENTITY FULL), None
    old: Tuple | None
    new: Tuple


@dataclass(frozen=True, slots=True)
class Delete:
    relid: int
    old_kind: str  # 'K' or 'O'
    old: Tuple


@dataclass(frozen=True, slots=True)
class Truncate:
    relids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True, slots=True)
class TypeMsg:
    """A non-built-in type (domain, enum, extension type) used by a published column."""

    oid: int
    schema: str
    name: str


@dataclass(frozen=True, slots=True)
class Origin:
    commit_lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class LogicalMessage:
    """A message from ``pg_logical_emit_message`` (only sent with the ``messages`` option)."""

    prefix: str
    content: bytes
    transactional: bool
    lsn: int


Message = Begin | Commit | Relation | Insert | Update | Delete | Truncate | TypeMsg | Origin | LogicalMessage


def fill_unchanged(new: Tuple, old: Tuple | None) -> Tuple:
    """Replace ``UNCHANGED`` values of ``new`` by the old row's values (REPLICA IDENTITY FULL).

    Values that are still unknown (no old row, or the old value was not sent either) stay ``UNCHANGED``.
    """
    if old is None or UNCHANGED not in new:
        return new
    return tuple(o if v is UNCHANGED and o is not UNCHANGED else v for v, o in zip(new, old, strict=True))
