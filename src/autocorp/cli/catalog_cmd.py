"""`autocorp catalog`: register the curated Delta tables in the AWS Glue Data Catalog (Athena, Spark, Trino)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from autocorp.catalog.hive import hive_columns
from autocorp.catalog.sync import SyncReport, glue_table_name, sync_catalog
from autocorp.catalog.tables import list_tables
from autocorp.cli import context
from autocorp.cli.output import emit, out, table
from autocorp.lake.storage import lake_storage

app = typer.Typer(help="Register the curated Delta tables in the AWS Glue Data Catalog.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def register(main: typer.Typer) -> None:
    """Add the `catalog` command group (`catalog sync`, `catalog tables`) to `main`."""
    main.add_typer(app, name="catalog")


@app.command("sync")
def sync(
    ctx: typer.Context,
    prune: Annotated[bool, typer.Option("--prune", help="Drop Glue tables this command created whose Delta "
                                        "table is gone from the lake.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create or update a Glue table (table_type=DELTA) for every curated table and model; needs an s3:// lake."""
    c = context.get(ctx)
    if as_json:
        c.as_json = True
    report = sync_catalog(c.settings, prune=prune)
    emit(c, _report_dict(report), lambda: _render(report))


@app.command("tables")
def tables(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the curated Delta tables with the Glue name and Hive columns `catalog sync` would register."""
    c = context.get(ctx)
    if as_json:
        c.as_json = True
    s = c.settings
    storage = lake_storage(s)
    found = [{"table": t.name, "glue_table": glue_table_name(s.catalog.table_prefix, t.name), "version": t.version,
              "location": t.uri, "columns": [asdict(col) for col in hive_columns(t.schema, t.name)]}
             for t in list_tables(storage)]
    emit(c, {"database": s.catalog_database, "tables": found}, lambda: _render_tables(s.catalog_database, found))


def _report_dict(report: SyncReport) -> dict[str, Any]:
    counts = {a: report.count(a) for a in ("created", "updated", "unchanged", "stale", "pruned")}
    return {**asdict(report), "counts": counts}


def _render(report: SyncReport) -> None:
    if report.database_created:
        out.print(f"created Glue database {report.database}")
    rows = [(t.glue_table, t.action, ", ".join(t.changes) or "-", "-" if t.version is None else t.version, t.columns,
             t.location) for t in report.tables]
    table(f"Glue database {report.database} ({report.region})",
          ["table", "action", "changed", "delta version", "columns", "location"], rows)
    summary = ", ".join(f"{report.count(a)} {a}" for a in ("created", "updated", "unchanged", "stale", "pruned"))
    out.print(f"{summary} in {report.seconds:.2f}s")
    if report.count("stale"):
        out.print("[yellow]stale tables have no Delta table in the lake any more: "
                  "`autocorp catalog sync --prune` drops them[/yellow]")


def _render_tables(database: str, found: list[dict[str, Any]]) -> None:
    rows = [(t["table"], f"{database}.{t['glue_table']}", t["version"],
             ", ".join(f"{col['name']} {col['type']}" for col in t["columns"])) for t in found]
    table("curated tables", ["table", "glue table", "version", "columns"], rows)
