"""The replication read loop: pgoutput messages -> per-table buffers -> raw files + checkpoints.

Exactly-once rests on three rules (docs/raw-zone.md):

* every change carries its transaction's *commit* LSN (known at Begin as ``final_lsn``);
* the checkpoint moves to a commit only when every buffered change up to it is durable, and
  ``flush_lsn`` is reported to PostgreSQL only after that checkpoint is written;
* on restart, transactions whose commit LSN is <= the checkpoint are skipped.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from autocorp.capture import pgoutput as pg
from autocorp.capture.replication import ReplicationStream
from autocorp.capture.tables import TableBuffer, TableBuffers
from autocorp.capture.writer import FileWriter
from autocorp.lake.checkpoint import Checkpoint
from autocorp.settings import CaptureSettings

_FEEDBACK_EVERY_S = 1.0
_RELID = struct.Struct("!I").unpack_from
_OPS = {73: "I", 85: "U", 68: "D"}


@dataclass
class StreamStats:
    """What one run of the loop did."""

    messages: int = 0
    changes: int = 0
    transactions: int = 0
    skipped_transactions: int = 0
    last_commit_ts: datetime | None = None
    stopped_by: str = ""
    extra: dict[str, int] = field(default_factory=dict)


class ChangeStream:
    """Reads one slot until stopped, caught up, or an error."""

    def __init__(self, repl: ReplicationStream, buffers: TableBuffers, writer: FileWriter, cp: Checkpoint,
                 cfg: CaptureSettings, heartbeat: Callable[[], None]) -> None:
        self.repl, self.buffers, self.writer, self.cfg = repl, buffers, writer, cfg
        self.heartbeat = heartbeat
        self.cp = cp  # last checkpoint queued
        self.stats = StreamStats()
        self._skip_upto = cp.lsn
        self._in_txn = False
        self._skip = False
        self._lsn = 0
        self._ts: datetime = pg.PG_EPOCH  # set by each Begin
        self._xid = 0
        self._seq = 0
        self._stamp: tuple[datetime, int] | None = None
        self._by_oid = buffers.by_oid
        self._max_rows = cfg.flush_max_rows
        self._last_commit: tuple[int, int, datetime] | None = None
        self._sent = 0
        self._fed_at = 0.0
        self._active_at = time.monotonic()
        self._beat_at = time.monotonic()
        self._stop_now = False
        self._until: int | None = None
        self._handlers: dict[type, Callable[..., None]] = {
            pg.Begin: self._begin, pg.Commit: self._commit, pg.Insert: self._insert, pg.Update: self._update,
            pg.Delete: self._delete, pg.Truncate: self._truncate, pg.Relation: self._relation,
            pg.TypeMsg: _ignore, pg.Origin: _ignore, pg.LogicalMessage: _ignore,
        }

    # -- the loop -----------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, until_lsn: int | None = None) -> StreamStats:
        """Stream until ``stop`` is set, or (with ``until_lsn``) the slot reached that WAL position.

        Raises:
            SlotLostError: the slot was invalidated or dropped while streaming.
            DecodeError / LakeError / CaptureError: the stream or the lake failed; the checkpoint is
                intact and a restart resumes from it.
        """
        stop = stop or threading.Event()
        self._until = until_lsn
        decode, handlers = pg.decode, self._handlers
        read = self.repl.read_fast()
        count = 0
        while not self._stop_now:
            try:
                msg = read()
            except Exception as exc:  # noqa: BLE001 - the adapter names and converts it
                raise self.repl.convert(exc) from None
            if msg is not None:
                payload = msg.payload
                kind = payload[0]
                # Insert, Delete, and Update without an old tuple (key unchanged, no FULL identity):
                # kept raw, their tuples are parsed column-wise per batch (capture.rawtuples)
                if (kind == 73 or kind == 68 or kind == 85 and payload[5] == 78) and len(payload) >= 8:
                    self._raw_row(kind, payload)
                else:
                    m = decode(payload)
                    handlers[type(m)](m)
                count += 1
                if not count & 4095:
                    self._tick(stop)
                continue
            self._tick(stop)
            if self._stop_now or self._idle(stop):
                break
            self.repl.wait(0.1)
        self.stats.messages += count
        self._finish()
        return self.stats

    def _tick(self, stop: threading.Event) -> None:
        """Periodic work that must happen even under full load: report durable progress, honour stop."""
        self.writer.raise_if_failed()
        durable = self.writer.durable
        if durable is not None and durable.end_lsn > self._sent:
            self._feedback(durable.end_lsn, force=False)
        if stop.is_set():
            if not self._in_txn:
                self._stop_now, self.stats.stopped_by = True, "signal"
            else:
                self._until = 0  # stop at the end of the current transaction

    def _idle(self, stop: threading.Event) -> bool:
        """Between messages: time-based flush, heartbeat, confirm an idle position; True to stop."""
        now = time.monotonic()
        if self._in_txn:
            return False
        first = self.buffers.first_at
        if first is not None and now - first >= self.cfg.flush_interval_s:
            self._flush()
        if now - self._active_at >= self.cfg.heartbeat_s and now - self._beat_at >= self.cfg.heartbeat_s:
            self._beat_at = now
            self.heartbeat()
        if self._until is not None and self.repl.wal_end >= self._until:
            self.stats.stopped_by = "caught up"
            return True
        if self.buffers.pending or self.buffers.parts_open or not self.writer.idle():
            return False
        # everything received is durable: the server's position can be confirmed, so an idle
        # database (or one busy only with unpublished tables) never pins WAL
        durable = self.writer.durable
        position = max(self.repl.wal_end, durable.end_lsn if durable else 0, self._sent)
        if position > self._sent or now - self._fed_at >= _FEEDBACK_EVERY_S:
            self._feedback(position, force=True)
        return False

    def _feedback(self, lsn: int, force: bool) -> None:
        self.repl.feedback(lsn, force=force)
        self._sent = max(self._sent, lsn)
        self._fed_at = time.monotonic()

    def _keepalive(self) -> None:
        """Called while waiting on the lake: keep the walsender from timing us out."""
        self._feedback(self._sent, force=True)

    def _flush(self) -> None:
        """Queue files for all pending rows, then the checkpoint at the last commit (a boundary)."""
        self.buffers.flush_all(self._keepalive)
        if self._last_commit is not None and self._last_commit[0] > self.cp.lsn:
            lsn, end_lsn, ts = self._last_commit
            self.cp = self.cp.advanced(lsn, end_lsn, ts)
            self.writer.write_checkpoint(self.cp, self._keepalive)

    def _finish(self) -> None:
        if not self._in_txn:
            self._flush()
        self.writer.drain(self._keepalive)
        durable = self.writer.durable
        if durable is not None and durable.end_lsn > self._sent:
            self._feedback(durable.end_lsn, force=True)

    # -- transaction messages ----------------------------------------------------------
    def _begin(self, m: pg.Begin) -> None:
        self._in_txn = True
        self._lsn, self._ts, self._xid, self._seq = m.final_lsn, m.commit_ts, m.xid, 0
        self._stamp = (m.commit_ts, m.final_lsn)
        self._skip = m.final_lsn <= self._skip_upto
        self._active_at = time.monotonic()

    def _commit(self, m: pg.Commit) -> None:
        self._in_txn = False
        if self._skip:
            self.stats.skipped_transactions += 1
            self._skip = False
            return
        self.stats.transactions += 1
        self.stats.changes += self._seq
        self._last_commit = (m.commit_lsn, m.end_lsn, m.commit_ts)
        self.stats.last_commit_ts = m.commit_ts
        b = self.buffers
        if self._seq:
            b.committed_rows()
        if b.parts_open or (b.first_at is not None and time.monotonic() - b.first_at >= self.cfg.flush_interval_s) \
                or b.pending >= self.cfg.flush_max_rows:
            self._flush()
        if self._until is not None and m.end_lsn >= self._until:
            self._stop_now = True
            self.stats.stopped_by = self.stats.stopped_by or ("signal" if self._until == 0 else "caught up")

    def _relation(self, m: pg.Relation) -> None:
        self.buffers.on_relation(m, self._lsn, self._keepalive)

    # -- row messages (hot path) ---------------------------------------------------------
    def _add(self, buf: TableBuffer, op: str, values: pg.Tuple) -> None:
        self._seq += 1
        buf.batch.append(op, self._ts, self._lsn, self._seq, self._xid, values)
        buf.last = self._stamp
        buf.rows += 1
        if buf.rows >= self._max_rows:
            self.buffers.spill(buf, self._stamp, self._keepalive)  # type: ignore[arg-type]

    def _raw_row(self, kind: int, payload: bytes) -> None:
        marker = payload[5]
        if kind == 73 and marker != 78 or kind == 68 and marker != 75 and marker != 79:
            m = pg.decode(payload)  # raises the DecodeError that names the bad marker
            self._handlers[type(m)](m)
            return
        buf = self._by_oid[_RELID(payload, 1)[0]]
        if buf is None or self._skip:
            return
        self._seq = seq = self._seq + 1
        buf.batch.append_raw(_OPS[kind], self._ts, self._lsn, seq, self._xid,
                             payload if type(payload) is bytes else bytes(payload))
        buf.last = self._stamp
        buf.rows += 1
        if buf.rows >= self._max_rows:
            self.buffers.spill(buf, self._stamp, self._keepalive)  # type: ignore[arg-type]

    def _insert(self, m: pg.Insert) -> None:
        buf = self._by_oid[m.relid]
        if buf is None or self._skip:
            return
        self._seq = seq = self._seq + 1
        buf.batch.append("I", self._ts, self._lsn, seq, self._xid, m.new)
        buf.last = self._stamp
        buf.rows += 1
        if buf.rows >= self._max_rows:
            self.buffers.spill(buf, self._stamp, self._keepalive)  # type: ignore[arg-type]

    def _update(self, m: pg.Update) -> None:
        buf = self._by_oid[m.relid]
        if buf is None or self._skip:
            return
        new = m.new
        if m.old_kind == "O":
            new = pg.fill_unchanged(new, m.old)
        if m.old is not None and _key_changed(buf, m.old, new):
            # the row moved to another key: delete the old key so a keyed merge drops it
            self._add(buf, "D", m.old)
        self._add(buf, "U", new)

    def _delete(self, m: pg.Delete) -> None:
        buf = self._by_oid[m.relid]
        if buf is not None and not self._skip:
            self._add(buf, "D", m.old)

    def _truncate(self, m: pg.Truncate) -> None:
        if self._skip:
            return
        for relid in m.relids:
            buf = self._by_oid.get(relid)
            if buf is not None:
                self._add(buf, "T", ())


def _key_changed(buf: TableBuffer, old: pg.Tuple, new: pg.Tuple) -> bool:
    keys = buf.batch.key_columns
    if not keys:
        return False
    cols = buf.relation.columns
    for i, c in enumerate(cols):
        if c.name in keys and old[i] is not pg.UNCHANGED and old[i] != new[i]:
            return True
    return False


def _ignore(_m: object) -> None:
    return None
