"""Publication and replication-slot management, and the slot's health (SQL over a normal connection)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from autocorp.errors import CaptureError, MissingPrimaryKeyError, SlotLostError
from autocorp.source.connect import PgError, connection

HEARTBEAT_PREFIX = "autocorp_heartbeat"


@dataclass(frozen=True)
class PublishedTable:
    """A table in the publication, with what capture needs to know about its key."""

    schema: str
    table: str
    replica_identity: str  # d default, f full, i index, n nothing
    key_columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def capturable(self) -> bool:
        """Updates and deletes can be identified: a key, an identity index, or REPLICA IDENTITY FULL."""
        return self.replica_identity == "f" or bool(self.key_columns)


@dataclass(frozen=True)
class SlotInfo:
    """A row of ``pg_replication_slots`` (LSNs as ints)."""

    name: str
    active: bool
    active_pid: int | None
    restart_lsn: int | None
    confirmed_lsn: int | None
    wal_status: str | None
    invalidation_reason: str | None

    @property
    def lost(self) -> bool:
        return self.wal_status == "lost" or self.invalidation_reason is not None


def missing_key_error(t: PublishedTable) -> MissingPrimaryKeyError:
    return MissingPrimaryKeyError(
        f"table {t.name} has no primary key, so its updates and deletes cannot be captured: "
        f"add one (ALTER TABLE {t.name} ADD PRIMARY KEY (...)) or run "
        f"ALTER TABLE {t.name} REPLICA IDENTITY FULL, then `autocorp capture --resync`; "
        "the other tables keep flowing, this one is skipped until then"
    )


def ensure_publication(dsn: str, publication: str, tables: list[str]) -> bool:
    """Create the publication if missing: ``tables`` (``schema.table``), or every table of ``public``.

    Returns True when it was created.

    Raises:
        CaptureError: the publication cannot be created (e.g. a configured table does not exist).
    """
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
        if cur.fetchone():
            return False
        target = "TABLES IN SCHEMA public"
        if tables:
            target = "TABLE " + ", ".join(_quote_qualified(t) for t in tables)
        try:
            cur.execute(f'CREATE PUBLICATION "{publication}" FOR {target}')
        except PgError as exc:
            raise CaptureError(f"cannot create publication `{publication}`: {str(exc).strip().splitlines()[0]}; "
                               "fix capture.tables in the config") from None
        return True


def _quote_qualified(name: str) -> str:
    schema, _, table = name.rpartition(".")
    return f'"{schema or "public"}"."{table}"'


_PUBLISHED_SQL = """
SELECT p.schemaname, p.tablename, c.relreplident,
       COALESCE((SELECT array_agg(a.attname ORDER BY a.attnum)
                 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = c.oid
                   AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))),
                '{}') AS key_columns
FROM pg_publication_tables p
JOIN pg_namespace n ON n.nspname = p.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
WHERE p.pubname = %s
ORDER BY 1, 2
"""


def published_tables(dsn: str, publication: str) -> list[PublishedTable]:
    """The tables of ``publication`` with their replica identity and key columns."""
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(_PUBLISHED_SQL, (publication,))
        return [PublishedTable(s, t, str(ri), tuple(keys)) for s, t, ri, keys in cur.fetchall()]


def slot_info(cur: Any, slot: str) -> SlotInfo | None:
    """The slot's row of ``pg_replication_slots``, or None when it does not exist."""
    cur.execute(
        "SELECT slot_name, active, active_pid, restart_lsn::text, confirmed_flush_lsn::text, wal_status, "
        "invalidation_reason FROM pg_replication_slots WHERE slot_name = %s", (slot,))
    row = cur.fetchone()
    if row is None:
        return None
    return SlotInfo(row[0], bool(row[1]), row[2], _lsn(row[3]), _lsn(row[4]), row[5], row[6])


def _lsn(text: str | None) -> int | None:
    if text is None:
        return None
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def get_slot(dsn: str, slot: str) -> SlotInfo | None:
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        return slot_info(cur, slot)


def wait_inactive(dsn: str, slot: str, timeout: float = 15.0) -> SlotInfo | None:
    """Wait until no walsender uses ``slot`` (a killed capture's walsender takes a moment to exit).

    Raises:
        CaptureError: another process still streams from the slot after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        info = get_slot(dsn, slot)
        if info is None or not info.active:
            return info
        if time.monotonic() > deadline:
            raise CaptureError(
                f"replication slot `{slot}` is in use by server process {info.active_pid}: another "
                "`autocorp capture` is running; stop it first (only one capture per slot)")
        time.sleep(0.2)


def drop_slot(dsn: str, slot: str) -> bool:
    """Drop ``slot`` if it exists (waiting for a dead capture's walsender to go); True if dropped."""
    if wait_inactive(dsn, slot) is None:
        return False
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                    (slot,))
        return cur.rowcount > 0


def drop_publication(dsn: str, publication: str) -> None:
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP PUBLICATION IF EXISTS "{publication}"')


def check_slot(dsn: str, slot: str) -> SlotInfo:
    """The slot, if it exists and is usable.

    Raises:
        SlotLostError: the slot is missing or was invalidated.
    """
    info = get_slot(dsn, slot)
    if info is None:
        raise SlotLostError(f"replication slot `{slot}` is missing although the raw zone has a checkpoint for it: "
                            "run `autocorp capture --resync` to reload with a fresh snapshot")
    if info.lost:
        reason = info.invalidation_reason or info.wal_status
        raise SlotLostError(f"replication slot `{slot}` was invalidated ({reason}), the WAL it needed is gone: "
                            "run `autocorp capture --resync` to reload with a fresh snapshot")
    return info


def current_wal_lsn(dsn: str) -> int:
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_current_wal_insert_lsn()::text")
        return _lsn(cur.fetchone()[0]) or 0


def emit_heartbeat(cur: Any) -> None:
    """Write a tiny WAL record in the source database so the slot can advance on an idle database."""
    cur.execute("SELECT pg_logical_emit_message(false, %s, '')", (HEARTBEAT_PREFIX,))
