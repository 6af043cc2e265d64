"""What the curated zone holds: one Delta table (or model) per folder ``curated/<name>``, read from the lake.

The catalog stage does not ask curate what it wrote; it looks at the lake, like a crawler: every
folder under ``curated/`` with a ``_delta_log`` is a table, and its current Delta schema (as Arrow)
is what gets registered.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable  # noqa: TID251
from deltalake.exceptions import DeltaError, TableNotFoundError  # noqa: TID251

from autocorp.errors import CatalogError, LakeError
from autocorp.lake import layout
from autocorp.lake.storage import Storage


@dataclass(frozen=True)
class CuratedTable:
    """One Delta table of the curated zone at its current version."""

    name: str
    uri: str
    version: int
    schema: pa.Schema
    partition_columns: tuple[str, ...] = ()


def list_table_names(storage: Storage) -> list[str]:
    """Names of the folders under ``curated/`` that hold a Delta table (a ``_delta_log``), sorted.

    Raises:
        LakeError: the lake cannot be listed.
    """
    storage.check()
    base = storage.path(layout.CURATED)
    try:
        entries = storage.fs.get_file_info(pafs.FileSelector(base, recursive=False, allow_not_found=True))
    except OSError as exc:
        raise LakeError(f"cannot list {storage.uri(layout.CURATED)}: {exc}; check lake.root and credentials") \
            from exc
    names = [e.base_name for e in entries
             if e.type == pafs.FileType.Directory and not e.base_name.startswith((".", "_"))]
    return sorted(n for n in names if _has_delta_log(storage, layout.curated_table(n)))


def _has_delta_log(storage: Storage, rel: str) -> bool:
    selector = pafs.FileSelector(storage.path(f"{rel}/_delta_log"), recursive=False, allow_not_found=True)
    try:
        return any(i.base_name.endswith((".json", ".parquet")) for i in storage.fs.get_file_info(selector))
    except OSError as exc:
        raise LakeError(f"cannot list {storage.uri(rel)}/_delta_log: {exc}") from exc


def read_table(storage: Storage, name: str) -> CuratedTable:
    """The current version and schema of the curated table ``name``.

    Raises:
        CatalogError: the folder holds no readable Delta table.
    """
    uri = storage.uri(layout.curated_table(name))
    try:
        dt = DeltaTable(uri, storage_options=storage.storage_options() or None)
        schema = pa.schema(dt.schema().to_arrow())
        partitions = tuple(dt.metadata().partition_columns)
        version = dt.version()
    except (TableNotFoundError, DeltaError, OSError) as exc:
        raise CatalogError(f"curated table '{name}' at {uri} cannot be read as a Delta table: {exc}; "
                           f"check the folder (run `autocorp curate` to rebuild it) or remove it") from exc
    return CuratedTable(name=name, uri=uri, version=version, schema=schema, partition_columns=partitions)


def list_tables(storage: Storage) -> list[CuratedTable]:
    """Every Delta table of the curated zone with its current schema, sorted by name.

    Raises:
        LakeError: the lake cannot be listed.
        CatalogError: a folder with a ``_delta_log`` is not a readable Delta table.
    """
    return [read_table(storage, name) for name in list_table_names(storage)]
