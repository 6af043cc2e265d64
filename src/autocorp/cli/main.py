"""The `autocorp` command: global flags, sub-command groups, one error handler."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from autocorp.cli import (
    capture_cmd,
    catalog_cmd,
    curate_cmd,
    db,
    query_cmd,
    reconcile_cmd,
    run_cmd,
    source,
    status_cmd,
)
from autocorp.cli.context import Context
from autocorp.cli.output import err
from autocorp.errors import AutocorpError
from autocorp.settings import load_settings

app = typer.Typer(
    name="autocorp",
    help="AutoCorp Lake: PostgreSQL -> change data capture -> Delta Lake -> DuckDB SQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(source.app, name="source")
capture_cmd.register(app)
curate_cmd.register(app)
query_cmd.register(app)
status_cmd.register(app)
run_cmd.register(app)
reconcile_cmd.register(app)
catalog_cmd.register(app)

_debug = False


@app.callback()
def _global(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", envvar="AUTOCORP_ENV", help="Environment: dev, staging, prod.")] = "dev",
    as_json: Annotated[bool, typer.Option("--json", help="Print data as JSON on stdout.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """AutoCorp Lake: PostgreSQL -> change data capture -> Delta Lake -> DuckDB SQL."""
    global _debug
    _debug = debug
    load_settings(env)  # validate --env and config early: one clear line if wrong
    ctx.obj = Context(env, as_json, debug)


def main() -> None:
    """Console-script entry point: run the app, turning our errors into one line + exit 1."""
    try:
        rc = app(standalone_mode=False)
    except AutocorpError as exc:
        if _debug:
            raise
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # usage errors arrive here in non-standalone mode
        # click's exceptions (typer >= 0.20 vendors click, so match by behaviour, not by class)
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if isinstance(code, int) and (callable(show) or type(exc).__name__ == "Exit"):
            if callable(show):
                show()
            sys.exit(code)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)
