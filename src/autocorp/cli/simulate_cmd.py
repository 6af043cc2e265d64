"""`autocorp source simulate`: the order workload (new orders, updates, cancellations) at a chosen rate."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.live import Live
from rich.text import Text

from autocorp.cli import context
from autocorp.cli.output import emit, err, table
from autocorp.source.simulate import SimulationReport, simulate


def _progress_line(r: SimulationReport) -> Text:
    return Text(f"simulating: {r.orders:,} orders, {r.transactions:,} transactions, "
                f"{r.row_changes:,} row changes in {r.elapsed_s:.1f} s  "
                f"({r.row_changes_per_s:,.0f} row changes/s, {r.transactions_per_s:,.0f} tx/s)")


def _render(r: SimulationReport) -> None:
    target = f"{r.target_rate:,.0f}/s" if r.target_rate else "as fast as possible"
    table(f"order workload: {r.elapsed_s:.1f} s, {r.workers} worker(s), target {target}",
          ["measure", "value"],
          [("orders created", r.orders), ("payment changes", r.payment_changes),
           ("quantity changes", r.quantity_changes), ("cancellations", r.cancellations),
           ("transactions", r.transactions), ("rows inserted", r.inserts), ("rows updated", r.updates),
           ("rows deleted", r.deletes), ("row changes", r.row_changes),
           ("orders/s", f"{r.orders_per_s:,.1f}"), ("transactions/s", f"{r.transactions_per_s:,.1f}"),
           ("row changes/s", f"{r.row_changes_per_s:,.1f}")])


def simulate_orders(
    ctx: typer.Context,
    rate: Annotated[float, typer.Option(min=0, help="Target row changes per second (0 = as fast as possible).")] = 0,
    duration: Annotated[float | None, typer.Option(min=0.001, help="Stop after this many seconds.")] = None,
    orders: Annotated[int | None, typer.Option(min=0, help="Stop once exactly this many orders were created.")]
    = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: source.seed).")] = None,
    update_share: Annotated[float, typer.Option(min=0, max=1, help="Share of operations that update an order "
                                                "(payment method or a line quantity).")] = 0.1,
    delete_share: Annotated[float, typer.Option(min=0, max=1, help="Share of operations that cancel an order "
                                                "with its lines.")] = 0.05,
    workers: Annotated[int, typer.Option(min=1, help="Worker connections writing in parallel.")] = 1,
) -> None:
    """Write realistic sales (Parts, Service, Mixed orders) plus updates and cancellations.

    One transaction per business operation. Stops after --duration or --orders (with neither, at Ctrl-C).

    Reports orders/s, transactions/s and row changes/s (rows inserted + updated + deleted).
    """
    c = context.get(ctx)
    dsn = c.pipeline().server_dsn()
    if duration is None and orders is None:
        err.print("no --duration or --orders: simulating until Ctrl-C")
    with Live(Text("simulating: connecting..."), console=err, transient=True, refresh_per_second=4) as live:
        report = simulate(
            dsn, rate=rate, duration=duration, orders=orders,
            seed=c.settings.source.seed if seed is None else seed,
            update_share=update_share, delete_share=delete_share, workers=workers,
            progress=lambda r: live.update(_progress_line(r)),
        )
    emit(c, report, lambda: _render(report))
    if report.target_rate and report.row_changes_per_s < 0.9 * report.target_rate:
        err.print(f"[yellow]achieved {report.row_changes_per_s:,.0f} of the {report.target_rate:,.0f} row changes/s "
                  "asked for: the database or this machine is the limit; try more --workers[/yellow]")


def register(app: typer.Typer) -> None:
    """Add `simulate` to the `autocorp source` group."""
    app.command("simulate")(simulate_orders)
