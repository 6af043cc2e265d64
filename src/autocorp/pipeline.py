"""The one place that wires the stages together: a facade the CLI and tests call, and `autocorp run`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autocorp.capture.runner import Capture, CaptureResult
from autocorp.capture.status import CaptureStatus, capture_status
from autocorp.curate.report import CurateReport
from autocorp.curate.runner import Curate
from autocorp.curate.state import TableState, last_run, table_states
from autocorp.errors import DatabaseUnavailable
from autocorp.lake import layout
from autocorp.lake.storage import lake_storage
from autocorp.quality.reconcile import TableCounts, reconcile_counts
from autocorp.query.session import open_lake
from autocorp.settings import Settings
from autocorp.source import embedded, schema
from autocorp.source.connect import connection, mask_dsn, with_database


@dataclass(frozen=True)
class DbStatus:
    mode: str  # "embedded" | "external"
    running: bool
    url: str  # password masked
    pgdata: str | None
    pid: int | None


class Pipeline:
    """Everything a command needs, for one environment's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- source database -------------------------------------------------
    def server_dsn(self) -> str:
        """DSN of the source server (database = ``source.database``); may hold a password.

        Raises:
            DatabaseUnavailable: the embedded server is not running.
        """
        s = self.settings
        if s.source.dsn is not None:
            return with_database(s.source.dsn.get_secret_value(), s.source.database)
        state = embedded.status(s.pgdata)
        if not state.running:
            raise DatabaseUnavailable(
                f"the embedded PostgreSQL for env '{s.env}' is not running: run `autocorp db start`"
            )
        return state.url(s.source.database)

    def db_start(self) -> tuple[DbStatus, bool]:
        s = self.settings
        if not s.uses_embedded:
            with connection(with_database(self.server_dsn(), "postgres")):
                pass
            return self.db_status(), False
        s.env_dir.mkdir(parents=True, exist_ok=True)
        _, started = embedded.start(s.pgdata, s.embedded)
        return self.db_status(), started

    def db_stop(self) -> bool:
        if not self.settings.uses_embedded:
            return False
        return embedded.stop(self.settings.pgdata)

    def db_status(self) -> DbStatus:
        s = self.settings
        if not s.uses_embedded:
            dsn = with_database(s.source.dsn.get_secret_value(), s.source.database)  # type: ignore[union-attr]
            try:
                with connection(with_database(dsn, "postgres")):
                    running = True
            except DatabaseUnavailable:
                running = False
            return DbStatus("external", running, mask_dsn(dsn), None, None)
        state = embedded.status(s.pgdata)
        url = state.url(s.source.database) if state.running else ""
        return DbStatus("embedded", state.running, url, str(s.pgdata.resolve()), state.pid)

    def db_init(self) -> schema.InitResult:
        return schema.init_database(self.server_dsn())

    def db_stats(self) -> dict[str, int]:
        return schema.table_counts(self.server_dsn())

    # -- capture (logical replication -> raw zone) ----------------------------------------------
    def capture(self, *, follow: bool = False, until_caught_up: bool = True, resync: bool = False,
                stop_event: threading.Event | None = None, progress: bool = False,
                say: Callable[[str], None] | None = None) -> CaptureResult:
        """Full load (first run) then stream changes into the raw zone; see ``Capture.run``."""
        cap = Capture(self.settings, self.server_dsn(), progress=progress, say=say)
        return cap.run(follow=follow, until_caught_up=until_caught_up, stop_event=stop_event, resync=resync)

    def capture_status(self) -> CaptureStatus:
        """The replication slot's health joined with the raw-zone checkpoint."""
        return capture_status(self.settings, self.server_dsn())

    def run(self, stop: threading.Event, on_tick: Callable[[RunTick], None] | None = None,
            say: Callable[[str], None] | None = None) -> RunTick:
        """Capture and curate together until ``stop`` is set (see ``run_pipeline``)."""
        return run_pipeline(self.settings, self.server_dsn(), stop, on_tick, say)

    def reconcile(self) -> list[TableCounts]:
        """Row counts per table: source PostgreSQL, merged Delta table, real-time view.

        Raises:
            DatabaseUnavailable: the source cannot be reached.
        """
        source = schema.table_counts(self.server_dsn())
        states = table_states(lake_storage(self.settings), self.settings.slot_name)
        curated = {st.table: st.rows for st in states}
        realtime: dict[str, int | None] = {}
        with open_lake(self.settings) as lake:
            for name in source:
                if name in lake.tables:
                    realtime[name] = int(lake.run(f'SELECT count(*) FROM "{name}"').column(0)[0].as_py())
        return reconcile_counts(source, curated, realtime)

    # -- curate + status ---------------------------------------------------------------------
    def curate(self, optimize: bool = False, build_models: bool | None = None) -> CurateReport:
        """Merge every committed raw change into the curated Delta tables (see ``Curate.run_once``)."""
        return Curate(self.settings).run_once(optimize=optimize, build_models=build_models)

    def status(self) -> LakeStatus:
        """Per table: Delta version, rows, committed LSN, lag behind the source, last run.

        Raises:
            DatabaseUnavailable: the source cannot be reached.
        """
        cap = self.capture_status()
        storage = lake_storage(self.settings)
        current = layout.lsn_to_int(cap.current_wal_lsn) if cap.current_wal_lsn else None
        tables = [TableLag(st, _lag_bytes(st, current, cap.lag_bytes), _lag_seconds(st, cap.lag_seconds))
                  for st in table_states(storage, self.settings.slot_name)]
        return LakeStatus(cap, tables, last_run(storage))


@dataclass(frozen=True)
class TableLag:
    """A curated table's state plus how far it is behind the source."""

    state: TableState
    lag_bytes: int | None
    lag_seconds: float | None


@dataclass(frozen=True)
class LakeStatus:
    capture: CaptureStatus
    tables: list[TableLag]
    last_run: dict[str, Any] | None


def _lag_bytes(st: TableState, current: int | None, capture_lag: int | None) -> int | None:
    """WAL behind the source: from the table's LSN when raw changes wait for it, else capture's own lag."""
    if st.pending_files and current is not None and st.lsn is not None:
        return max(current - st.lsn, 0)
    return capture_lag


def _lag_seconds(st: TableState, capture_lag: float | None) -> float | None:
    """Age of the oldest source change the table lacks: in the raw zone, else still in PostgreSQL."""
    if st.oldest_pending is not None:
        age = datetime.now(UTC) - datetime.fromisoformat(st.oldest_pending)
        return round(max(age.total_seconds(), 0.0), 3)
    return capture_lag


# -- `autocorp run`: capture and curate together in one process ------------------------------
@dataclass
class RunTick:
    """What `autocorp run` shows on its status line."""

    elapsed_s: float = 0.0
    captured: int = 0
    changes_per_s: float = 0.0
    merges: int = 0
    merged: int = 0
    last_report: CurateReport | None = None
    tables: list[TableState] = field(default_factory=list)  # refreshed every few seconds
    failed: dict[str, str] = field(default_factory=dict)  # table -> error of the latest merge
    models_built: int = 0


def run_pipeline(settings: Settings, dsn: str, stop: threading.Event,
                 on_tick: Callable[[RunTick], None] | None = None,
                 say: Callable[[str], None] | None = None) -> RunTick:
    """Run capture + curate until ``stop`` is set; returns the final tick.

    Three workers: capture streams in one thread; this thread merges whenever
    ``curate.merge_interval_s`` passed or ``curate.merge_max_changes`` changes were captured since
    the last merge; a third thread rebuilds the analytics models every ``curate.models_interval_s``
    (a full rebuild of a big model must never hold back the merges). On stop, capture flushes and
    checkpoints, then one last merge brings every table to the checkpoint.

    Raises:
        The capture worker's error (SlotLostError, CaptureError, ...), after the last merge.
    """
    return _PipelineRun(settings, dsn, stop, say).run(on_tick)


class _PipelineRun:
    def __init__(self, settings: Settings, dsn: str, stop: threading.Event,
                 say: Callable[[str], None] | None) -> None:
        self.cfg = settings.curate
        self.stop = stop
        self.cap = Capture(settings, dsn, say=say)
        self.cur = Curate(settings)
        self.tick = RunTick()
        self.failure: list[BaseException] = []

    def run(self, on_tick: Callable[[RunTick], None] | None) -> RunTick:
        workers = [self._thread("autocorp-capture", self._capture)]
        if self.cfg.models:
            workers.append(self._thread("autocorp-models", self._models))
        self._merge_loop(on_tick)
        for w in workers:
            w.join()
        tick = self.tick
        tick.captured = self.cap.live.changes if self.cap.live else tick.captured
        _merge(self.cur, tick, build_models=self.cfg.models)
        tick.tables = table_states(self.cur.storage, self.cur.pipeline)
        if self.failure:
            raise self.failure[0]
        return tick

    def _thread(self, name: str, target: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.failure.append(exc)
                self.stop.set()

        worker = threading.Thread(target=guarded, name=name, daemon=True)
        worker.start()
        return worker

    def _capture(self) -> None:
        self.cap.run(follow=True, stop_event=self.stop)

    def _models(self) -> None:
        while not self.stop.wait(self.cfg.models_interval_s):
            self.tick.models_built += sum(m.status == "built" for m in self.cur.build_models())

    def _merge_loop(self, on_tick: Callable[[RunTick], None] | None) -> None:
        tick, cfg = self.tick, self.cfg
        t0 = last_merge = last_look = time.monotonic()
        seen = 0
        while not self.stop.wait(0.25):
            now = time.monotonic()
            captured = self.cap.live.changes if self.cap.live else 0
            tick.changes_per_s = (captured - tick.captured) / max(now - t0 - tick.elapsed_s, 1e-6)
            tick.captured, tick.elapsed_s = captured, now - t0
            if now - last_merge >= cfg.merge_interval_s or captured - seen >= cfg.merge_max_changes:
                _merge(self.cur, tick, build_models=False)
                seen, last_merge = captured, time.monotonic()
            if on_tick:
                if now - last_look >= 2.0:
                    tick.tables, last_look = table_states(self.cur.storage, self.cur.pipeline), now
                on_tick(tick)


def _merge(cur: Curate, tick: RunTick, build_models: bool) -> None:
    report = cur.run_once(build_models=build_models)
    tick.merges += 1
    tick.merged += report.changes
    tick.last_report = report
    tick.failed = {t.table: t.error for t in report.tables if t.error}

