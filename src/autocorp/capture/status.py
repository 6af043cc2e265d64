"""``autocorp capture status``: the slot's health from PostgreSQL joined with the raw-zone checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from autocorp.lake import layout
from autocorp.lake.checkpoint import read_checkpoint
from autocorp.lake.storage import lake_storage
from autocorp.settings import Settings
from autocorp.source.connect import connection

_STATUS_SQL = """
SELECT s.active, s.active_pid, s.restart_lsn::text, s.confirmed_flush_lsn::text, s.wal_status,
       s.invalidation_reason,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint,
       extract(epoch FROM r.flush_lag)::float8,
       pg_current_wal_lsn()::text
FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_name = %s
"""


@dataclass(frozen=True)
class CaptureStatus:
    """One slot's state. LSNs in PostgreSQL text form; None where unknown."""

    slot: str
    publication: str
    exists: bool
    active: bool
    wal_status: str | None
    invalidation_reason: str | None
    confirmed_lsn: str | None
    restart_lsn: str | None
    current_wal_lsn: str | None
    retained_wal_bytes: int | None
    lag_bytes: int | None
    lag_seconds: float | None
    checkpoint_lsn: str | None
    load_complete: bool | None
    last_commit: str | None
    checkpoint_at: str | None
    tables: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        return self.exists and self.invalidation_reason is None and self.wal_status != "lost"


def capture_status(settings: Settings, dsn: str) -> CaptureStatus:
    """Query the slot and read the checkpoint.

    Raises:
        DatabaseUnavailable: the source cannot be reached.
        LakeError: the checkpoint is unreadable.
    """
    storage = lake_storage(settings)
    cp = read_checkpoint(storage, settings.slot_name)
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(_STATUS_SQL, (settings.slot_name,))
        row = cur.fetchone()
        exists = row is not None
        if row is None:
            cur.execute("SELECT pg_current_wal_lsn()::text")
            row = (False, None, None, None, None, None, None, None, None, cur.fetchone()[0])
    active, _pid, restart, confirmed, wal_status, invalid, retained, lag, flush_lag, current = row
    return CaptureStatus(
        slot=settings.slot_name, publication=settings.publication_name, exists=exists, active=bool(active),
        wal_status=wal_status, invalidation_reason=invalid,
        confirmed_lsn=confirmed, restart_lsn=restart, current_wal_lsn=current, retained_wal_bytes=retained,
        lag_bytes=lag, lag_seconds=_lag_seconds(active, lag, flush_lag, cp.updated_at if cp else None),
        checkpoint_lsn=layout.lsn_to_str(cp.lsn) if cp else None, load_complete=cp.load_complete if cp else None,
        last_commit=cp.last_commit_ts if cp else None, checkpoint_at=cp.updated_at if cp else None,
        tables=cp.tables if cp else (),
    )


def _lag_seconds(active: bool, lag: int | None, flush_lag: float | None, checkpoint_at: str | None) -> float | None:
    """PostgreSQL's measured flush lag while capture runs; else the age of the checkpoint if behind."""
    if lag is None:
        return None
    if active:
        return round(flush_lag or 0.0, 3)
    if lag <= 0:
        return 0.0
    if checkpoint_at is None:
        return None
    return round((datetime.now(UTC) - datetime.fromisoformat(checkpoint_at)).total_seconds(), 3)
