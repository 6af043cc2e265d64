"""The replication connection: the one adapter around psycopg2's logical replication protocol.

Sessions run with ``TimeZone=UTC DateStyle=ISO IntervalStyle=iso_8601 bytea_output=hex`` so that
every text value pgoutput sends has one, lossless form.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from typing import Any, TypeAlias

import psycopg2  # noqa: TID251 - this module is the capture stage's replication adapter
import psycopg2.errors  # noqa: TID251
import psycopg2.extras  # noqa: TID251

from autocorp.errors import CaptureError, DatabaseUnavailable, SlotLostError
from autocorp.lake.layout import lsn_to_int
from autocorp.source.connect import SESSION_OPTIONS, mask_dsn, scrub

ReplicationMessage: TypeAlias = psycopg2.extras.ReplicationMessage


def _resync_hint(slot: str) -> str:
    return f"run `autocorp capture --resync` to drop slot `{slot}` and reload with a fresh snapshot"


class ReplicationStream:
    """A logical replication connection for one slot.

    Use ``create_slot_exported`` (before any other command) to create the slot and export its
    snapshot, then ``start`` to stream pgoutput from it.
    """

    def __init__(self, dsn: str, slot: str) -> None:
        self.slot = slot
        self._dsn = dsn
        try:
            self._conn = psycopg2.connect(
                dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection,
                options=SESSION_OPTIONS, connect_timeout=10,
            )
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(
                f"cannot open a replication connection to {mask_dsn(dsn)}: {scrub(str(exc).strip(), dsn)}; "
                "check the server runs with wal_level=logical and max_wal_senders > 0"
            ) from None
        self._cur: Any = self._conn.cursor()

    def create_slot_exported(self) -> tuple[int, str]:
        """Create the slot with an exported snapshot; returns (consistent point LSN, snapshot name).

        The snapshot stays importable while this connection is open and runs no other command.

        Raises:
            CaptureError: the slot exists already or cannot be created.
        """
        try:
            self._cur.execute(f'CREATE_REPLICATION_SLOT "{self.slot}" LOGICAL pgoutput (SNAPSHOT \'export\')')
            row = self._cur.fetchone()
        except psycopg2.Error as exc:
            raise CaptureError(f"cannot create replication slot `{self.slot}`: {_first_line(exc)}; "
                               f"{_resync_hint(self.slot)}") from None
        return lsn_to_int(row[1]), str(row[2])

    def start(self, publication: str, start_lsn: int = 0, status_interval: float = 10.0) -> None:
        """Start streaming pgoutput (protocol 1) for ``publication`` from the slot.

        Raises:
            SlotLostError: the slot does not exist or was invalidated.
            CaptureError: the server refused for another reason.
        """
        try:
            self._cur.start_replication(
                slot_name=self.slot, decode=False, start_lsn=start_lsn, status_interval=status_interval,
                options={"proto_version": "1", "publication_names": publication},
            )
        except psycopg2.Error as exc:
            raise translate(exc, self.slot) from None

    @property
    def wal_end(self) -> int:
        """The server's WAL position from the last message or keepalive (0 before any)."""
        return int(self._cur.wal_end or 0)

    def read(self) -> ReplicationMessage | None:
        """The next message if one is buffered, else None (never blocks).

        Raises:
            SlotLostError / CaptureError: the server ended the stream.
        """
        try:
            return self._cur.read_message()
        except psycopg2.Error as exc:
            raise translate(exc, self.slot) from None

    def read_fast(self) -> Callable[[], ReplicationMessage | None]:
        """The raw ``read`` for the hot loop: errors must go through ``convert``."""
        return self._cur.read_message  # type: ignore[no-any-return]

    def convert(self, exc: Exception) -> Exception:
        """Our error for an exception raised by ``read_fast``'s function (others pass unchanged)."""
        return translate(exc, self.slot) if isinstance(exc, psycopg2.Error) else exc

    def wait(self, timeout: float) -> None:
        """Block until data may be readable or ``timeout`` seconds passed."""
        select.select([self._conn], [], [], timeout)

    def feedback(self, flush_lsn: int, force: bool = False) -> None:
        """Report ``flush_lsn`` (durable position) to the server; sent at once when ``force``."""
        try:
            self._cur.send_feedback(write_lsn=flush_lsn, flush_lsn=flush_lsn, apply_lsn=flush_lsn, force=force)
        except psycopg2.Error as exc:
            raise translate(exc, self.slot) from None

    def close(self) -> None:
        try:
            self._conn.close()
        except psycopg2.Error:
            pass


def translate(exc: Exception, slot: str) -> CaptureError:
    """Our error for a psycopg2 error raised by the replication protocol."""
    text = _first_line(exc)
    lowered = text.lower()
    if "does not exist" in lowered and "slot" in lowered or "invalidated" in lowered or "can no longer" in lowered \
            or "has been removed" in lowered:
        return SlotLostError(f"replication slot `{slot}` is lost ({text}): {_resync_hint(slot)}")
    if isinstance(exc, psycopg2.OperationalError):
        return CaptureError(f"the replication connection failed ({text}): restart `autocorp capture`; "
                            "it resumes from the last checkpoint")
    return CaptureError(f"replication on slot `{slot}` failed: {text}")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
