"""`autocorp curate`: merge committed raw changes into the curated Delta tables, exactly once."""

from __future__ import annotations

from typing import Annotated

import typer

from autocorp.cli import context
from autocorp.cli.output import emit, err, out, table
from autocorp.curate.report import CurateReport
from autocorp.curate.runner import Curate
from autocorp.lake import layout


def register(app: typer.Typer) -> None:
    """Add the top-level `curate` command to `app`."""
    app.command("curate")(curate)


def curate(
    ctx: typer.Context,
    optimize: Annotated[bool, typer.Option("--optimize", help="Also compact, vacuum (curate.retention_days) "
                                           "and checkpoint every curated table.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run report as JSON on stdout.")] = False,
) -> None:
    """Merge the raw zone's committed changes into Delta tables at curated/<table>, then build the models."""
    c = context.get(ctx)
    if as_json:
        c.as_json = True
    report = Curate(c.settings).run_once(optimize=optimize)
    emit(c, report, lambda: _render(report))
    if not report.ok:
        raise typer.Exit(1)


def _render(report: CurateReport) -> None:
    if report.note:
        err.print(f"[yellow]{report.note}[/yellow]")
        return
    rows = [(t.table, t.status, _dash(t.version), _lsn(t.lsn), t.commits, t.changes, t.inserted, t.updated,
             t.deleted, f"{t.seconds:.2f}s") for t in report.tables]
    table(f"curated tables (pipeline {report.pipeline}, raw zone at {_lsn(report.checkpoint_lsn)})",
          ["table", "status", "version", "lsn", "commits", "changes", "ins", "upd", "del", "time"], rows)
    if report.models:
        table("models", ["model", "status", "version", "rows", "time"],
              [(m.model, m.status, _dash(m.version), _dash(m.rows), f"{m.seconds:.2f}s") for m in report.models])
    if report.maintenance:
        table("maintenance", ["table", "files removed", "files added", "vacuumed", "checkpoint"],
              [(m.table, m.files_removed, m.files_added, m.vacuumed, _dash(m.checkpoint_version))
               for m in report.maintenance])
    reloaded = [t.table for t in report.tables if t.status == "reloaded"]
    if reloaded:
        out.print(f"rebuilt from the new full load (capture --resync): {', '.join(reloaded)}; "
                  "versions before the resync stay readable (time travel)")
    for problem in [t.error for t in report.tables] + [m.error for m in report.models + report.maintenance]:
        if problem:
            err.print(f"[red]error:[/red] {problem}")
    out.print(f"done in {report.seconds:.2f}s")


def _dash(value: object) -> object:
    return "-" if value is None else value


def _lsn(value: int | None) -> str:
    return "-" if value is None else layout.lsn_to_str(value)
