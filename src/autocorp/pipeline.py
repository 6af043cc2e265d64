"""The one place that wires the stages together: a facade the CLI and tests call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from autocorp.capture.runner import Capture, CaptureResult
from autocorp.capture.status import CaptureStatus, capture_status
from autocorp.errors import DatabaseUnavailable
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
