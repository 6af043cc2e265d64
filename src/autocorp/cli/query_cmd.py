"""`autocorp query`, `autocorp changes`, `autocorp serve`: SQL over the lake (the Athena part)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from autocorp.cli import context
from autocorp.cli.output import err
from autocorp.errors import QueryError
from autocorp.query import output
from autocorp.query.changes import parse_since, read_changes
from autocorp.query.session import LakeSession, lake_config, open_lake
from autocorp.query.timetravel import parse_time_point

FormatOpt = Annotated[str, typer.Option("--format", "-F", help="Output: table, csv, json or parquet.")]


def register(app: typer.Typer) -> None:
    """Add `query`, `changes` and `serve` to `app`."""
    app.command("query")(query)
    app.command("changes")(changes)
    app.command("serve")(serve)


def query(
    ctx: typer.Context,
    sql: Annotated[str | None, typer.Argument(help="SQL to run; omit for an interactive shell.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Run the SQL in this file.")] = None,
    fmt: FormatOpt = "table",
    out: Annotated[str | None, typer.Option("--out", help="File for --format parquet.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Show the lake as of this time (ISO).")] = None,
    lsn: Annotated[str | None, typer.Option("--lsn", help="Show every table as of this source LSN.")] = None,
    version: Annotated[int | None, typer.Option("--version", help="Delta version of --table.")] = None,
    table: Annotated[str | None, typer.Option("--table", help="The table --version applies to.")] = None,
) -> None:
    """Run SQL over the lake with DuckDB: every table is a real-time view, `<table>_ro` the Delta table alone."""
    c = context.get(ctx)
    fmt = "json" if c.as_json and fmt == "table" else fmt
    point = parse_time_point(lsn=lsn, as_of=as_of, version=version, table=table)
    text = _read_sql(sql, file)
    with open_lake(c.settings, point) as lake:
        if text is None:
            _shell(lake, fmt)
            return
        output.write_result(lake.run_script(text), fmt, sys.stdout, out)


def _read_sql(sql: str | None, file: Path | None) -> str | None:
    if file is not None:
        try:
            return file.read_text()
        except OSError as exc:
            raise QueryError(f"cannot read SQL file {file}: {exc.strerror}; check the path") from None
    if sql == "-":
        return sys.stdin.read()
    return sql


def _shell(lake: LakeSession, fmt: str) -> None:
    """A minimal interactive shell: statements end with ';', `.tables` lists tables, `.quit` leaves."""
    err.print(f"autocorp lake shell: {len(lake.tables)} tables; end statements with ';', .tables, .quit")
    buf: list[str] = []
    while True:
        try:
            line = input("lake> " if not buf else "  ...> ")
        except EOFError:
            return
        if not buf and line.strip() in (".quit", ".exit", "\\q"):
            return
        if not buf and line.strip() == ".tables":
            print("\n".join(lake.tables))
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            text, buf = "\n".join(buf), []
            try:
                lake.refresh_if_stale()
                output.write_result(lake.run_script(text), fmt, sys.stdout)
            except QueryError as exc:
                err.print(f"[red]error:[/red] {exc}")


def changes(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="Curated table, e.g. sales_order.")],
    since: Annotated[str, typer.Option("--since", help="After a version (12), LSN (0/16B3748) or time (ISO).")],
    fmt: FormatOpt = "table",
    out: Annotated[str | None, typer.Option("--out", help="File for --format parquet.")] = None,
) -> None:
    """Change rows of a table from the Delta change data feed: _change_type, commit version and time, _lsn."""
    c = context.get(ctx)
    fmt = "json" if c.as_json and fmt == "table" else fmt
    cfg = lake_config(c.settings)
    data = read_changes(cfg.storage, cfg.pipeline, table, parse_since(since))
    output.write_result(data, fmt, sys.stdout, out)


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Listen address (default query.host).")] = None,
    pg_port: Annotated[int | None, typer.Option("--pg-port", help="PostgreSQL wire port.")] = None,
    http_port: Annotated[int | None, typer.Option("--http-port", help="HTTP port (POST /query).")] = None,
    no_http: Annotated[bool, typer.Option("--no-http", help="Serve the PostgreSQL protocol only.")] = False,
) -> None:
    """Serve the lake read-only over the PostgreSQL wire protocol and HTTP POST /query, until Ctrl-C."""
    from autocorp.query import serve_http, serve_pg

    c = context.get(ctx)
    q = c.settings.query
    lake = LakeSession(lake_config(c.settings), sandboxed=True)
    bind = host or q.host
    password = q.password.get_secret_value() if q.password else None
    pg = serve_pg.start(lake, bind, pg_port if pg_port is not None else q.pg_port, password)
    err.print(f"PostgreSQL protocol on {bind}:{pg.port} (psql -h {bind} -p {pg.port} -U lake lake)"
              + ("" if password else "; no password set (query.password): localhost clients only"))
    web = None
    if not no_http:
        web = serve_http.start(lake, bind, http_port if http_port is not None else q.http_port, password)
        err.print(f"HTTP on http://{bind}:{web.port}/query")
    try:
        while threading.main_thread().is_alive():
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        pg.stop()
        if web:
            web.stop()
        lake.close()
