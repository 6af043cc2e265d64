"""`autocorp db ...`: the source database (embedded cluster or external server)."""

from __future__ import annotations

import typer

from autocorp.cli import context
from autocorp.cli.output import emit, err, kv, out, table

app = typer.Typer(help="Manage the source PostgreSQL: embedded cluster or external server.", no_args_is_help=True)


@app.command()
def start(ctx: typer.Context) -> None:
    """Start the embedded PostgreSQL (or check the external server named by source.dsn)."""
    c = context.get(ctx)
    status, started = c.pipeline().db_start()
    if status.mode == "external":
        msg = f"using external PostgreSQL at {status.url} (source.dsn is set); nothing to start"
    elif started:
        msg = f"embedded PostgreSQL started at {status.url} (pid {status.pid}, data {status.pgdata})"
    else:
        msg = f"embedded PostgreSQL already running at {status.url} (pid {status.pid})"
    emit(c, {"started": started, **status.__dict__}, lambda: out.print(msg))


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL; leaves no server process behind."""
    c = context.get(ctx)
    stopped = c.pipeline().db_stop()
    mode = c.settings.uses_embedded
    msg = ("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running") if mode \
        else "source.dsn names an external server; autocorp does not stop it"
    emit(c, {"stopped": stopped}, lambda: out.print(msg))


@app.command()
def status(ctx: typer.Context) -> None:
    """Show whether the source database is running and where."""
    c = context.get(ctx)
    st = c.pipeline().db_status()
    emit(c, st, lambda: kv({"mode": st.mode, "running": st.running, "url": st.url or "-",
                             "data": st.pgdata or "-", "pid": st.pid or "-"}))


@app.command()
def url(ctx: typer.Context) -> None:
    """Print the connection URL of the source database (password masked)."""
    c = context.get(ctx)
    st = c.pipeline().db_status()
    if not st.running:
        err.print("[yellow]the source database is not running: run `autocorp db start`[/yellow]")
        raise typer.Exit(1)
    emit(c, {"url": st.url}, lambda: print(st.url))


@app.command()
def init(ctx: typer.Context) -> None:
    """Create database `autocorp` and apply the schema files it lacks (idempotent)."""
    c = context.get(ctx)
    res = c.pipeline().db_init()
    def render() -> None:
        if res.database_created:
            out.print(f"created database {c.settings.source.database}")
        if res.applied:
            out.print(f"applied schema: {', '.join(res.applied)} (now version {res.current_version})")
        else:
            out.print(f"schema up to date (version {res.current_version})")
    emit(c, res, render)


@app.command()
def stats(ctx: typer.Context) -> None:
    """Row counts of the source tables (the design's "View Database Status")."""
    c = context.get(ctx)
    counts = c.pipeline().db_stats()
    emit(c, counts, lambda: table("autocorp source tables", ["table_name", "count"],
                                  sorted(counts.items())))
