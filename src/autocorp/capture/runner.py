"""``Capture``: the capture entry point (CLI and ``autocorp run``): full load once, then the stream."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from autocorp.capture import slot as slots
from autocorp.capture.replication import ReplicationStream
from autocorp.capture.snapshot import LoadResult, Snapshot, delete_load_files, load_table
from autocorp.capture.stream import ChangeStream, StreamStats
from autocorp.capture.tables import TableBuffers
from autocorp.capture.writer import FileWriter
from autocorp.errors import AutocorpError, CaptureError
from autocorp.lake import layout
from autocorp.lake.checkpoint import Checkpoint, delete_checkpoint, read_checkpoint, write_checkpoint
from autocorp.lake.storage import Storage, lake_storage
from autocorp.settings import Settings
from autocorp.source.connect import Connection, PgError, connect

log = logging.getLogger("autocorp.capture")
TEMP_FILE_AGE_S = 60.0  # a younger temp file may belong to a writer that is still running


@dataclass
class CaptureResult:
    """What one ``Capture.run`` did."""

    loaded: list[LoadResult] = field(default_factory=list)
    stream: StreamStats | None = None
    checkpoint: Checkpoint | None = None
    removed_leftovers: int = 0
    removed_temp_files: int = 0
    problems: list[CaptureError] = field(default_factory=list)


class Capture:
    """Capture of one source database into the raw zone of one lake, for one environment's settings."""

    def __init__(self, settings: Settings, dsn: str, *, progress: bool = False,
                 say: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.cfg = settings.capture
        self.dsn = dsn
        self.slot = settings.slot_name
        self.publication = settings.publication_name
        self.storage = lake_storage(settings)
        self.progress = progress
        self.say = say or log.info
        self.live: StreamStats | None = None  # the running stream's counters (read by `autocorp run`)

    # -- public API -------------------------------------------------------------------
    def run(self, follow: bool = False, until_caught_up: bool = True, stop_event: threading.Event | None = None,
            resync: bool = False) -> CaptureResult:
        """Load (first time) and stream changes into the raw zone.

        Args:
            follow: stream until ``stop_event`` is set (SIGINT/SIGTERM in the CLI), then flush and return.
            until_caught_up: (without ``follow``) stop once the slot reached the WAL position at start.
            stop_event: set it to stop at the next transaction boundary, with everything flushed.
            resync: drop slot, publication, checkpoint and the captured tables' raw files first.

        Raises:
            SlotLostError: the slot is missing or invalidated: run again with ``resync=True``.
            MissingPrimaryKeyError: (after the other tables were captured) a table cannot be captured.
            CaptureError, LakeError, DatabaseUnavailable: the run failed; the checkpoint is intact.
        """
        self.storage.check()  # a wrong S3 endpoint fails here, before the source is touched
        result = CaptureResult()
        result.removed_temp_files = self.storage.remove_temp_files(layout.RAW, TEMP_FILE_AGE_S)
        if result.removed_temp_files:
            self.say(f"removed {result.removed_temp_files} temp file(s) older than {TEMP_FILE_AGE_S:.0f} s "
                     "left in the raw zone by a killed run")
        if resync:
            self.reset()
        slots.ensure_publication(self.dsn, self.publication, self.cfg.tables)
        published = slots.published_tables(self.dsn, self.publication)
        for t in published:
            if not t.capturable:
                self._problem(result, slots.missing_key_error(t))
        cp = read_checkpoint(self.storage, self.slot)
        if cp is None or not cp.load_complete:
            repl, cp = self._full_load(cp, published, result)
        else:
            repl = self._reopen(cp, result)
        try:
            until = None if follow else slots.current_wal_lsn(self.dsn) if until_caught_up else 0
            result.stream = self._stream(repl, cp, published, until, stop_event, result)
            result.checkpoint = read_checkpoint(self.storage, self.slot)
        finally:
            repl.close()
        if result.problems:
            raise result.problems[0]
        return result

    def reset(self) -> None:
        """Forget everything captured: slot, publication, checkpoint, raw files of the captured tables."""
        cp = read_checkpoint(self.storage, self.slot)
        tables = set(cp.tables if cp else ())
        tables |= {t.name for t in slots.published_tables(self.dsn, self.publication)}
        if slots.drop_slot(self.dsn, self.slot):
            self.say(f"dropped replication slot `{self.slot}`")
        slots.drop_publication(self.dsn, self.publication)
        for name in sorted(tables):
            schema, _, table = name.partition(".")
            self.storage.delete_dir(layout.raw_table_dir(schema, table))
            self.storage.delete_dir(layout.schema_history_dir(schema, table))
        delete_checkpoint(self.storage, self.slot)
        self.say(f"resync: removed the raw files of {len(tables)} table(s) and the checkpoint")

    # -- steps ------------------------------------------------------------------------
    def _problem(self, result: CaptureResult, exc: CaptureError) -> None:
        if any(str(p) == str(exc) for p in result.problems):
            return
        result.problems.append(exc)
        self.say(f"error: {exc}")

    def _full_load(self, cp: Checkpoint | None, published: list[slots.PublishedTable],
                   result: CaptureResult) -> tuple[ReplicationStream, Checkpoint]:
        if slots.get_slot(self.dsn, self.slot) is not None:
            why = "a previous full load did not finish" if cp else "the raw zone has no checkpoint for it"
            self.say(f"replication slot `{self.slot}` exists but {why}: its exported snapshot died with the "
                     "connection, so the slot and any partial LOAD files are dropped and the load starts over")
            slots.drop_slot(self.dsn, self.slot)
        tables = [t for t in published if t.capturable]
        for t in tables:
            delete_load_files(self.storage, t.schema, t.table)
        repl = ReplicationStream(self.dsn, self.slot)
        try:
            lsn, name = repl.create_slot_exported()
            snap = Snapshot(name, lsn, datetime.now(UTC))
            cp = write_checkpoint(self.storage, Checkpoint(self.slot, lsn, lsn, False, tuple(t.name for t in tables)))
            self.say(f"created slot `{self.slot}` at {layout.lsn_to_str(lsn)}; full load of {len(tables)} table(s)")
            result.loaded = self._load_tables(snap, tables)
            cp = write_checkpoint(self.storage, replace(cp, load_complete=True))
        except BaseException:
            repl.close()
            raise
        return repl, cp

    def _load_tables(self, snap: Snapshot, tables: list[slots.PublishedTable]) -> list[LoadResult]:
        if not self.progress:
            return [load_table(self.dsn, snap, self.storage, t, self.cfg.load_file_rows) for t in tables]
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

        estimates = _row_estimates(self.dsn, [t.name for t in tables])
        out = []
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True)) as bar:
            for t in tables:
                task = bar.add_task(f"LOAD {t.name}", total=estimates.get(t.name) or None)
                def on_rows(n: int, task: TaskID = task) -> None:
                    bar.update(task, completed=n)

                res = load_table(self.dsn, snap, self.storage, t, self.cfg.load_file_rows, on_rows=on_rows)
                bar.update(task, completed=res.rows, total=res.rows)
                out.append(res)
        return out

    def _reopen(self, cp: Checkpoint, result: CaptureResult) -> ReplicationStream:
        slots.check_slot(self.dsn, self.slot)
        slots.wait_inactive(self.dsn, self.slot)
        result.removed_leftovers = remove_uncommitted(self.storage, cp)
        if result.removed_leftovers:
            self.say(f"removed {result.removed_leftovers} raw file(s) above checkpoint "
                     f"{layout.lsn_to_str(cp.lsn)} left by an interrupted run; their changes are re-read")
        return ReplicationStream(self.dsn, self.slot)

    def _stream(self, repl: ReplicationStream, cp: Checkpoint, published: list[slots.PublishedTable],
                until: int | None, stop: threading.Event | None, result: CaptureResult) -> StreamStats:
        repl.start(self.publication, start_lsn=cp.end_lsn, status_interval=1.0)
        writer = FileWriter(self.storage)
        beat = _Heartbeat(self.dsn)
        try:
            buffers = TableBuffers(self.storage, writer, {t.name: t for t in published}, self.cfg.flush_max_rows,
                                   on_problem=lambda exc: self._problem(result, exc))
            stream = ChangeStream(repl, buffers, writer, cp, self.cfg, beat.emit)
            self.live = stream.stats
            return stream.run(stop, until)
        finally:
            writer.close()
            beat.close()


def remove_uncommitted(storage: Storage, cp: Checkpoint) -> int:
    """Delete CDC files above the checkpoint (a crash between data files and checkpoint)."""
    removed = 0
    for rel in storage.list_files(f"{layout.RAW}/database", ".parquet"):
        lsn = layout.cdc_file_lsn(rel)
        if lsn is not None and lsn > cp.lsn:
            storage.delete(rel)
            removed += 1
    return removed


def _row_estimates(dsn: str, names: list[str]) -> dict[str, int]:
    from autocorp.source.connect import connection

    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT n.nspname || '.' || c.relname, c.reltuples::bigint FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname || '.' || c.relname = ANY(%s)",
                    (names,))
        return {name: max(int(n), 0) for name, n in cur.fetchall()}


class _Heartbeat:
    """Emits a WAL record on a normal connection so an idle source never pins WAL behind the slot."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: Connection | None = None

    def emit(self) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.dsn, autocommit=True)
            with self._conn.cursor() as cur:
                slots.emit_heartbeat(cur)
        except (PgError, AutocorpError) as exc:
            log.warning("capture heartbeat failed (will retry): %s", exc)
            self.close()

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
