"""`autocorp capture`: full load + change stream into the raw zone; `autocorp capture status`."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from autocorp.cli import context
from autocorp.cli.output import emit, err, kv, out

app = typer.Typer(help="Change data capture: snapshot + logical replication into the raw zone.")


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set the event: capture flushes, checkpoints and returns at the next boundary."""
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        if not stop.is_set():
            err.print(f"[yellow]{signal.Signals(signum).name}: flushing and checkpointing...[/yellow]")
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@app.callback(invoke_without_command=True)
def capture(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("--follow", help="Keep streaming until SIGINT/SIGTERM.")] = False,
    until_caught_up: Annotated[bool, typer.Option(
        "--until-caught-up", help="Stop once the slot reached the WAL position at start (the default).")] = False,
    resync: Annotated[bool, typer.Option(
        "--resync", help="Drop slot, publication, checkpoint and raw files; reload from a fresh snapshot.")] = False,
) -> None:
    """Load every published table once, then stream its changes into raw Parquet files."""
    if ctx.invoked_subcommand is not None:
        return
    if follow and until_caught_up:
        raise typer.BadParameter("--follow and --until-caught-up exclude each other")
    c = context.get(ctx)
    with _stop_on_signals() as stop:
        res = c.pipeline().capture(follow=follow, until_caught_up=not follow, resync=resync, stop_event=stop,
                                   progress=not c.as_json, say=lambda m: err.print(m, markup=False))
    s = res.stream
    cp = res.checkpoint
    summary = {
        "loaded": [{"table": r.table, "rows": r.rows, "files": r.files} for r in res.loaded],
        "changes": s.changes if s else 0, "transactions": s.transactions if s else 0,
        "stopped_by": s.stopped_by if s else "", "removed_leftovers": res.removed_leftovers,
        "checkpoint_lsn": cp.lsn if cp else None, "last_commit": cp.last_commit_ts if cp else None,
    }

    def render() -> None:
        for r in res.loaded:
            out.print(f"loaded {r.table}: {r.rows:,} rows in {r.files} LOAD file(s)")
        out.print(f"streamed {summary['changes']:,} changes in {summary['transactions']:,} transactions "
                  f"({summary['stopped_by'] or 'done'}); checkpoint {_lsn(cp.lsn if cp else None)}")
    emit(c, summary, render)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Slot health: confirmed LSN, retained WAL, wal_status, lag, last commit captured."""
    c = context.get(ctx)
    st = c.pipeline().capture_status()
    if as_json:
        c = context.Context(c.env, True, c.debug)
    data = {**st.__dict__, "healthy": st.healthy}
    emit(c, data, lambda: kv({
        "slot": st.slot + ("" if st.exists else " (missing: run `autocorp capture`)"),
        "active": st.active, "wal_status": st.wal_status or "-",
        "invalidated": st.invalidation_reason or "no",
        "confirmed_lsn": st.confirmed_lsn or "-", "checkpoint_lsn": st.checkpoint_lsn or "-",
        "retained_wal": _bytes(st.retained_wal_bytes), "lag": f"{_bytes(st.lag_bytes)}, {st.lag_seconds} s",
        "last_commit": st.last_commit or "-", "load_complete": st.load_complete,
    }))
    if not st.healthy and st.exists:
        err.print(f"[red]slot `{st.slot}` is lost: run `autocorp capture --resync`[/red]")
        raise typer.Exit(1)


def _lsn(value: int | None) -> str:
    return "-" if value is None else f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def register(main: typer.Typer) -> None:
    """Add `capture` (and `capture status`) to the main app."""
    main.add_typer(app, name="capture")
