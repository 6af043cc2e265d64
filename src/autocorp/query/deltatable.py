"""The query layer's one use of ``deltalake``: what DuckDB's delta extension does not give.

- ``DeltaFiles``: the data files of one Delta table version, so DuckDB can read them with ``read_parquet``,
  and each file's column min/max from the log, so the real-time view leaves files no change touches alone.
- ``read_change_feed``: the change data feed (the extension cannot read it).

DuckDB plans from Parquet statistics (column min/max: join and group keys compressed to small integers,
dynamic join filters) that ``read_parquet`` exposes and the pinned delta extension's ``delta_scan`` does
not; the analytics queries that join orders with customers run ~2.5x faster that way (docs/benchmarks.md).
The files alone are the table version only when the log needs nothing else to read them: reader protocol 1
(no deletion vectors, no column mapping) and no partition columns. Otherwise callers keep ``delta_scan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
from deltalake import DeltaTable  # noqa: TID251
from deltalake.exceptions import DeltaError, TableNotFoundError  # noqa: TID251

from autocorp.errors import QueryError
from autocorp.lake import layout
from autocorp.lake.storage import Storage


@dataclass(frozen=True)
class VersionFiles:
    """A Delta version's data files, and per file (column ``uri``) the log's ``min.<col>``/``max.<col>``."""

    uris: list[str]
    stats: pa.Table


class DeltaFiles:
    """Active file lists per table version; keeps one loaded ``DeltaTable`` per table."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._tables: dict[str, DeltaTable] = {}

    def files(self, table: str, version: int) -> VersionFiles | None:
        """The Parquet files making up ``table`` at ``version`` with their statistics; None when plain Parquet
        reads would not equal the Delta table (see the module doc) or the version cannot be loaded."""
        try:
            dt = self._tables.get(table)
            if dt is None:
                dt = _open(self.storage, table, version)
                self._tables[table] = dt
            elif dt.version() != version:
                dt.load_as_version(version)
            if dt.protocol().min_reader_version > 1 or dt.metadata().partition_columns:
                return None
            uris = list(dt.file_uris())
            actions = pa.table(dt.get_add_actions(flatten=True))
        except (DeltaError, OSError):
            self._tables.pop(table, None)
            return None
        by_name = {u.rsplit("/", 1)[-1]: u for u in uris}
        paths = actions.column("path").to_pylist()
        stats = actions.drop_columns([c for c in actions.column_names if not c.startswith(("min.", "max."))])
        return VersionFiles(uris, stats.append_column("uri", pa.array([by_name.get(p) for p in paths], pa.string())))


def _open(storage: Storage, table: str, version: int | None = None) -> DeltaTable:
    return DeltaTable(storage.uri(layout.curated_table(table)), version=version,
                      storage_options=storage.storage_options())


def read_change_feed(storage: Storage, table: str, start_version: int, start_time: datetime | None) -> pa.Table:
    """The change data feed of ``table`` from ``start_version`` (or from ``start_time`` when given).

    Raises:
        QueryError: the table cannot be opened or has no change data feed.
    """
    try:
        dt = _open(storage, table)
        if start_time is not None:
            return pa.table(dt.load_cdf(starting_timestamp=start_time.isoformat(), allow_out_of_range=True))
        return pa.table(dt.load_cdf(starting_version=start_version, allow_out_of_range=True))
    except (DeltaError, TableNotFoundError, OSError) as exc:
        raise QueryError(f"cannot read the change data feed of {table}: {exc}; "
                         "the table needs delta.enableChangeDataFeed (set by `autocorp curate`)") from None


def table_schema(storage: Storage, table: str) -> pa.Schema:
    """The Arrow schema of ``table``'s latest version.

    Raises:
        QueryError: the table cannot be opened.
    """
    try:
        return pa.schema(_open(storage, table).schema().to_arrow())
    except (DeltaError, TableNotFoundError, OSError) as exc:
        raise QueryError(f"cannot open curated table {table}: {exc}") from None
