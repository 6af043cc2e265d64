"""`autocorp catalog sync`: register every curated Delta table in the Glue Data Catalog (the crawler part).

Each curated table ``curated/<name>`` becomes a Glue table ``<table_prefix><name>`` the way Athena
reads Delta Lake natively (``table_type=DELTA``, location = the table's ``s3://`` folder), which Spark
(``spark.sql.sources.provider=delta`` + the SerDe ``path``) and Trino's Delta connector read too. The
columns mirror the current Delta schema in Hive types, so Lake Formation, views and column filters
see the same schema as the transaction log.

Idempotent: a table whose definition already matches is left alone. Only tables this command
created (``autocorp.managed=true``) are ever updated or, with ``prune``, removed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from autocorp.catalog.glue import GlueCatalog
from autocorp.catalog.hive import hive_columns
from autocorp.catalog.tables import CuratedTable, list_tables
from autocorp.errors import CatalogError
from autocorp.lake import layout
from autocorp.lake.storage import Storage, lake_storage
from autocorp.settings import Settings

MANAGED = "autocorp.managed"
_PARQUET = "org.apache.hadoop.hive.ql.io.parquet"
_FORMATS = {"InputFormat": f"{_PARQUET}.MapredParquetInputFormat",
            "OutputFormat": f"{_PARQUET}.MapredParquetOutputFormat"}
_SERDE = f"{_PARQUET}.serde.ParquetHiveSerDe"


@dataclass(frozen=True)
class TableSync:
    """What happened to one table: created, updated, unchanged, pruned, or stale (kept; gone from the lake)."""

    table: str
    glue_table: str
    action: str
    location: str
    version: int | None = None
    columns: int = 0
    changes: tuple[str, ...] = ()


@dataclass
class SyncReport:
    """The outcome of one sync."""

    database: str
    region: str
    database_created: bool = False
    tables: list[TableSync] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, action: str) -> int:
        """How many tables had ``action``."""
        return sum(1 for t in self.tables if t.action == action)


def glue_table_name(prefix: str, table: str) -> str:
    """The Glue name of a curated table: lowercase, ``[a-z0-9_]`` only (what Athena accepts)."""
    return re.sub(r"[^a-z0-9_]", "_", f"{prefix}{table}".lower())


def table_input(table: CuratedTable, glue_name: str) -> dict[str, Any]:
    """The Glue ``TableInput`` that registers ``table`` as a native Delta Lake table."""
    columns = [{"Name": c.name, "Type": c.type} for c in hive_columns(table.schema, table.name)]
    return {
        "Name": glue_name,
        "Description": f"AutoCorp Lake {layout.curated_table(table.name)} (Delta Lake; `autocorp catalog sync`)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "table_type": "DELTA", "classification": "delta",
                       "spark.sql.sources.provider": "delta", MANAGED: "true", "autocorp.table": table.name},
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Columns": columns, "Location": table.uri, **_FORMATS, "Compressed": False,
            "SerdeInfo": {"SerializationLibrary": _SERDE,
                          "Parameters": {"serialization.format": "1", "path": table.uri}},
        },
    }


def table_changes(existing: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Which parts of ``wanted`` the Glue table ``existing`` lacks: empty when nothing needs updating."""
    have_sd, want_sd = existing.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
    have_cols = [{"Name": c["Name"], "Type": c["Type"]} for c in have_sd.get("Columns", [])]
    checks = {
        "columns": have_cols == want_sd["Columns"],
        "location": have_sd.get("Location") == want_sd["Location"],
        "format": all(have_sd.get(k) == v for k, v in _FORMATS.items())
        and have_sd.get("SerdeInfo", {}).get("SerializationLibrary") == _SERDE
        and _contains(have_sd.get("SerdeInfo", {}).get("Parameters", {}), want_sd["SerdeInfo"]["Parameters"]),
        "partitions": not existing.get("PartitionKeys"),
        "parameters": existing.get("TableType") == wanted["TableType"]
        and _contains(existing.get("Parameters", {}), wanted["Parameters"]),
        "description": existing.get("Description") == wanted["Description"],
    }
    return [name for name, same in checks.items() if not same]


def _contains(have: dict[str, str], want: dict[str, str]) -> bool:
    return all(have.get(k) == v for k, v in want.items())


def sync_table(catalog: GlueCatalog, table: CuratedTable, prefix: str = "") -> TableSync:
    """Create or update the Glue table of one curated table.

    Raises:
        CatalogError: Glue refused, or a Glue table of that name exists that this command did not create.
    """
    name = glue_table_name(prefix, table.name)
    wanted = table_input(table, name)
    existing = catalog.get_table(name)
    done = TableSync(table.name, name, "created", table.uri, table.version, len(wanted["StorageDescriptor"]["Columns"]))
    if existing is None:
        catalog.create_table(wanted)
        return done
    if existing.get("Parameters", {}).get(MANAGED) != "true":
        raise CatalogError(f"Glue table '{catalog.database}.{name}' exists but was not created by `autocorp catalog "
                           f"sync`: drop it, or set catalog.table_prefix (AUTOCORP_CATALOG__TABLE_PREFIX) so the "
                           f"curated table '{table.name}' gets another name")
    changes = table_changes(existing, wanted)
    if not changes:
        return TableSync(**{**done.__dict__, "action": "unchanged"})
    # keep parameters other tools added (Athena, Lake Formation); ours win
    wanted["Parameters"] = {**existing.get("Parameters", {}), **wanted["Parameters"]}
    catalog.update_table(wanted)
    return TableSync(**{**done.__dict__, "action": "updated", "changes": tuple(changes)})


def _require_s3(root: str) -> None:
    if not root.startswith("s3://"):
        raise CatalogError(f"the Glue Data Catalog needs the lake on S3, but lake.root is the local folder {root}: "
                           "set lake.root (AUTOCORP_LAKE__ROOT) to s3://bucket/prefix — e.g. the `lake_root` output "
                           "of infra/terraform — and run `autocorp curate` there first")


def glue_catalog(settings: Settings) -> GlueCatalog:
    """The Glue database of ``settings`` (``catalog.database`` or ``autocorp_<env>``)."""
    c = settings.catalog
    return GlueCatalog(settings.catalog_database, c.region or settings.lake.s3_region, c.endpoint)


def sync_catalog(settings: Settings, prune: bool = False, storage: Storage | None = None,
                 catalog: GlueCatalog | None = None) -> SyncReport:
    """Register every curated Delta table (and model) of the lake in the Glue Data Catalog.

    Creates the database when missing. Managed Glue tables whose Delta table is gone are reported
    as ``stale``, and dropped only when ``prune`` is set.

    Raises:
        CatalogError: the lake is not on S3, or Glue refused (the table is named).
        LakeError: the lake cannot be listed.
    """
    started = time.monotonic()
    if storage is None:
        _require_s3(settings.lake_root)  # before Storage() would create a local folder
        storage = lake_storage(settings)
    _require_s3(storage.uri())
    catalog = catalog or glue_catalog(settings)
    report = SyncReport(catalog.database, catalog.region)
    report.database_created = catalog.ensure_database(storage.uri(layout.CURATED))
    prefix = settings.catalog.table_prefix
    for table in list_tables(storage):
        report.tables.append(sync_table(catalog, table, prefix))
    current = {t.glue_table for t in report.tables}
    report.tables.extend(_stale_tables(catalog, current, prefix, storage.uri(layout.CURATED) + "/", prune))
    report.seconds = time.monotonic() - started
    return report


def _stale_tables(catalog: GlueCatalog, current: set[str], prefix: str, zone: str, prune: bool) -> list[TableSync]:
    """Managed tables with this prefix, inside this lake's curated ``zone``, that no curated table backs any more.

    They are dropped when ``prune`` is set; tables of another lake sharing the database are never touched.
    """
    stale = []
    for t in catalog.list_tables():
        params, location = t.get("Parameters", {}), t.get("StorageDescriptor", {}).get("Location", "")
        if params.get(MANAGED) != "true" or t["Name"] in current or not t["Name"].startswith(prefix.lower()) \
                or not location.startswith(zone):
            continue
        if prune:
            catalog.delete_table(t["Name"])
        stale.append(TableSync(params.get("autocorp.table", t["Name"]), t["Name"], "pruned" if prune else "stale",
                               location))
    return stale
