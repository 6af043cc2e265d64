"""The data files of one Delta table version, so DuckDB can read them with ``read_parquet``.

DuckDB plans from Parquet statistics (column min/max: join and group keys compressed to small integers,
dynamic join filters) that ``read_parquet`` exposes and the pinned delta extension's ``delta_scan`` does
not; the analytics queries that join orders with customers run ~2.5x faster that way (docs/benchmarks.md).
The files alone are the table version only when the log needs nothing else to read them: reader protocol 1
(no deletion vectors, no column mapping) and no partition columns. Otherwise callers keep ``delta_scan``.
"""

from __future__ import annotations

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from autocorp.lake import layout
from autocorp.lake.storage import Storage


class DeltaFiles:
    """Active file lists per table version; keeps one loaded ``DeltaTable`` per table."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._tables: dict[str, DeltaTable] = {}

    def files(self, table: str, version: int) -> list[str] | None:
        """URIs of the Parquet files making up ``table`` at ``version``; None when plain Parquet reads would
        not equal the Delta table (see the module doc) or the version cannot be loaded."""
        try:
            dt = self._tables.get(table)
            if dt is None:
                dt = DeltaTable(self.storage.uri(layout.curated_table(table)), version=version,
                                storage_options=self.storage.storage_options())
                self._tables[table] = dt
            elif dt.version() != version:
                dt.load_as_version(version)
            if dt.protocol().min_reader_version > 1 or dt.metadata().partition_columns:
                return None
            return list(dt.file_uris())
        except (DeltaError, OSError):
            self._tables.pop(table, None)
            return None
