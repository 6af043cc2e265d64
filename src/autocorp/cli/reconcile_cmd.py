"""`autocorp reconcile`: row counts of every table in the source, the Delta table and the real-time view."""

from __future__ import annotations

from typing import Annotated

import typer

from autocorp.cli import context
from autocorp.cli.output import emit, table


def register(app: typer.Typer) -> None:
    """Add the top-level `reconcile` command to `app`."""
    app.command("reconcile")(reconcile)


def reconcile(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON on stdout.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 unless every real-time count matches.")] = False,
) -> None:
    """Compare row counts: source PostgreSQL vs curated Delta table vs real-time view (Delta + unmerged changes)."""
    c = context.get(ctx)
    if as_json:
        c.as_json = True
    rows = c.pipeline().reconcile()
    data = [{"table": r.table, "source": r.source, "curated": r.curated, "realtime": r.realtime,
             "status": r.status} for r in rows]
    emit(c, data, lambda: table("source vs lake", ["table", "source", "curated (Delta)", "real-time view", "status"],
                                [(r.table, _d(r.source), _d(r.curated), _d(r.realtime), r.status) for r in rows]))
    if strict and any(r.status in ("differs", "missing") for r in rows):
        raise typer.Exit(1)


def _d(value: int | None) -> object:
    return "-" if value is None else value
