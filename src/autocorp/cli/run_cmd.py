"""`autocorp run`: capture and curate together until stopped, with a live status line."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.text import Text

from autocorp.cli import context
from autocorp.cli.output import emit, err, out
from autocorp.pipeline import RunTick


def register(app: typer.Typer) -> None:
    """Add the top-level `run` command to `app`."""
    app.command("run")(run)


def run(
    ctx: typer.Context,
    duration: Annotated[float | None, typer.Option("--duration", help="Stop after this many seconds.")] = None,
    merge_interval: Annotated[float | None, typer.Option(
        "--merge-interval", help="Seconds between merges (curate.merge_interval_s).")] = None,
) -> None:
    """Stream changes into the raw zone and merge them into the curated tables until Ctrl-C / SIGTERM."""
    c = context.get(ctx)
    overrides: dict[str, Any] = {}
    if merge_interval is not None:
        overrides["curate"] = {**c.settings.curate.model_dump(), "merge_interval_s": merge_interval}
    pipeline = c.pipeline(**overrides)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    timer = threading.Timer(duration, stop.set) if duration else None
    if timer:
        timer.daemon = True
        timer.start()
    with Live(Text("starting capture ..."), console=err, refresh_per_second=4, transient=False) as live:
        tick = pipeline.run(stop, on_tick=lambda t: live.update(_line(t)),
                            say=lambda msg: live.console.print(msg))
        live.update(_line(tick))
    pending = {t.table: t.pending_changes for t in tick.tables if t.pending_changes}
    summary = {"seconds": round(tick.elapsed_s, 1), "captured": tick.captured, "merges": tick.merges,
               "merged": tick.merged, "pending": pending, "failed": tick.failed}
    emit(c, summary, lambda: out.print(
        f"stopped after {tick.elapsed_s:.1f}s: captured {tick.captured:,} changes, merged {tick.merged:,} "
        f"in {tick.merges} curate run(s); "
        + ("every table is at the capture checkpoint" if not pending else f"still pending: {pending}")))
    if tick.failed:
        for name, problem in tick.failed.items():
            err.print(f"[red]error:[/red] {name}: {problem}")
        raise typer.Exit(1)


def _line(t: RunTick) -> Text:
    behind = [f"{s.table} {s.pending_changes:,} ({_age(s.oldest_pending)})" for s in t.tables if s.pending_changes]
    lag = "; ".join(behind) or "none"
    return Text(f"{t.elapsed_s:6.1f}s  captured {t.captured:,} ({t.changes_per_s:,.0f}/s)  "
                f"merged {t.merged:,} in {t.merges} run(s)  pending: {lag}")


def _age(iso: str | None) -> str:
    if iso is None:
        return "-"
    return f"{(datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds():.1f}s behind"
