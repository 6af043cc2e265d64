"""The query layer's facade: a DuckDB database whose views show the lake at one time point.

``LakeSession`` is what the CLI, the endpoints, ``pipeline.py`` and tests call::

    with open_lake(settings) as lake:
        table = lake.run("SELECT count(*) FROM sales_order")
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa

from autocorp.lake.storage import Storage, lake_storage
from autocorp.query import sandbox, tablefuncs, views
from autocorp.query.deltatable import DeltaFiles
from autocorp.query.engine import Engine, S3Access, parse_statements
from autocorp.query.snapshot import LakeLog
from autocorp.query.timetravel import TableSnapshot, TimePoint, resolve
from autocorp.settings import QuerySettings, Settings


@dataclass(frozen=True)
class LakeConfig:
    """Where the lake is and how queries over it are limited."""

    storage: Storage
    pipeline: str
    limits: QuerySettings


def lake_config(settings: Settings) -> LakeConfig:
    """The lake of one environment's settings."""
    storage = lake_storage(settings)
    return LakeConfig(storage, settings.slot_name, settings.query)


def s3_access(storage: Storage) -> S3Access:
    """DuckDB's S3 access for an s3:// lake: endpoint and region from the lake settings, credentials from
    the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``)."""
    env = os.environ
    return S3Access(region=storage.s3.region, endpoint=storage.s3.endpoint, key_id=env.get("AWS_ACCESS_KEY_ID"),
                    secret=env.get("AWS_SECRET_ACCESS_KEY"), session_token=env.get("AWS_SESSION_TOKEN"))


class LakeSession:
    """DuckDB over the lake: real-time and read-optimized views, refreshed on demand."""

    def __init__(self, config: LakeConfig, point: TimePoint | None = None, *, sandboxed: bool = False,
                 threads: int | None = None) -> None:
        self.config = config
        self.point = point or TimePoint()
        self.sandboxed = sandboxed
        self.engine = Engine(config.limits.memory_limit, threads)
        if config.storage.is_s3:
            self.engine.connect_s3(s3_access(config.storage))
        self.log = LakeLog(config.storage, config.pipeline)
        self.files = DeltaFiles(config.storage)
        self._defined: dict[str, tuple[object, ...]] = {}
        self._at_points: dict[tuple[str, str], tuple[object, ...]] = {}  # (schema, table) of table functions
        self._lock = threading.Lock()
        self._refreshed_at = 0.0
        self.engine.execute(f"CREATE SCHEMA IF NOT EXISTS {views.RAW_SCHEMA}")
        self.engine.execute(f"CREATE SCHEMA IF NOT EXISTS {views.q(config.pipeline)}")
        self.refresh()
        if sandboxed:
            self.engine.lock_down([config.storage.uri()], config.limits.memory_limit)

    # -- views --------------------------------------------------------------------
    def refresh(self) -> list[TableSnapshot]:
        """Re-read the lake's metadata and redefine the views of tables that changed."""
        with self._lock:
            snaps = resolve(self.log, self.point)
            for snap in snaps:
                if self._defined.get(snap.name) != _signature(snap):
                    self._define(snap, "main")
                    self._defined[snap.name] = _signature(snap)
            views.define_versions(self.engine, self.log, [s.name for s in snaps])
            self._refreshed_at = time.monotonic()
            return snaps

    def expand(self, sql: str, engine: Engine | None = None) -> str:
        """``sql`` with its time-travel table function calls (``<t>_at_lsn``, ``<t>_as_of``) resolved.

        Raises:
            QueryError: a call names an unknown table or has a bad argument.
        """
        return tablefuncs.rewrite(engine or self.engine, sql, self.tables, self._define_point)

    def _define_point(self, point: TimePoint, schema: str, tables: list[str]) -> None:
        """Views of ``tables`` as of ``point`` in ``schema`` (for the time-travel table functions)."""
        with self._lock:
            self.engine.execute(f"CREATE SCHEMA IF NOT EXISTS {views.q(schema)}")
            for snap in resolve(self.log, point):
                if snap.name in tables and self._at_points.get((schema, snap.name)) != _signature(snap):
                    self._define(snap, schema)
                    self._at_points[(schema, snap.name)] = _signature(snap)

    def _define(self, snap: TableSnapshot, schema: str) -> None:
        files = self.files.files(snap.name, snap.version) if snap.exists else None
        pipeline = self.config.pipeline if schema == "main" else None
        views.define_table(self.engine, self.config.storage, self.log, snap, pipeline, schema, files)

    def refresh_if_stale(self, max_age_s: float = 0.2) -> None:
        """Refresh a latest-state session whose views are older than ``max_age_s``."""
        if self.point.is_latest and time.monotonic() - self._refreshed_at > max_age_s:
            self.refresh()

    @property
    def tables(self) -> list[str]:
        return sorted(self._defined)

    # -- queries ------------------------------------------------------------------
    def run(self, sql: str, engine: Engine | None = None) -> pa.Table:
        """Run one query and return its result.

        Raises:
            QueryRejected: a sandboxed session got a statement it refuses.
            QueryError: the query failed.
        """
        eng = engine or self.engine
        sql = self.expand(sql, eng)
        if self.sandboxed:
            return sandbox.run_sandboxed(eng, sql, self.config.limits.statement_timeout_s, eng.arrow)
        return eng.arrow(sql)

    def run_script(self, sql: str) -> pa.Table:
        """Run every statement of ``sql`` (unsandboxed sessions only); return the last result."""
        result = pa.table({})
        for stmt in self.statements(sql):
            result = self.run(stmt)
        return result

    def statements(self, sql: str) -> list[str]:
        """The statements of a script, split by DuckDB's parser."""
        return [s.sql for s in parse_statements(sql)]

    def cursor(self) -> Engine:
        """A separate DuckDB session sharing this lake's views (one per client connection)."""
        return self.engine.cursor()

    def close(self) -> None:
        self.engine.close()


def _signature(snap: TableSnapshot) -> tuple[object, ...]:
    """What a table's views depend on: unchanged signature, views still current."""
    return (snap.version, snap.exists, snap.committed_lsn, snap.upto_lsn, tuple(snap.raw))


@contextmanager
def open_lake(settings: Settings, point: TimePoint | None = None, *, sandboxed: bool = False,
              threads: int | None = None) -> Iterator[LakeSession]:
    """A ``LakeSession`` over the environment's lake, closed on exit."""
    session = LakeSession(lake_config(settings), point, sandboxed=sandboxed, threads=threads)
    try:
        yield session
    finally:
        session.close()
