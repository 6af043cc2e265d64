"""`autocorp source generate` and `autocorp source load`: the seed CSV files and loading them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from autocorp.cli import context
from autocorp.cli.output import emit, err, out, table
from autocorp.source.generate import CUSTOMER_ROWS, ORDER_ROWS, generate
from autocorp.source.load import LoadReport, load_seed_data

SHOWN_PROBLEMS = 10


class OnErrorChoice(StrEnum):
    fail = "fail"
    skip = "skip"


def register(app: typer.Typer) -> None:
    """Add `generate` and `load` to `app` (the `autocorp source` group)."""
    app.command("generate")(generate_cmd)
    app.command("load")(load_cmd)


def generate_cmd(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files into (created if missing).")],
    seed: Annotated[int | None, typer.Option(help="Random seed; same seed, same files. Default: source.seed.")] = None,
    customers: Annotated[int, typer.Option(min=2, help="Rows of customers.csv.")] = CUSTOMER_ROWS,
    orders: Annotated[int, typer.Option(min=0, help="Rows of sales_orders.csv (order history).")] = ORDER_ROWS,
) -> None:
    """Write the seed CSV files (parts, services, mappings, 1.2M customers, order history)."""
    c = context.get(ctx)
    seed = c.settings.source.seed if seed is None else seed
    res = generate(out_dir, seed=seed, customers=customers, orders=orders, sample=c.settings.source.customers_sample)

    def render() -> None:
        table(f"seed files in {res.out_dir} (seed {res.seed})", ["file", "rows"], list(res.rows.items()))
        out.print(f"generated in {res.seconds:.1f} s")

    emit(c, res, render)


def load_cmd(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option("--data", help="Folder holding the seed CSV files.")] = Path("data"),
    on_error: Annotated[OnErrorChoice, typer.Option(
        "--on-error", help="Malformed lines: fail (load nothing) or skip (load the good lines, report the bad).",
    )] = OnErrorChoice.fail,
    sample: Annotated[int | None, typer.Option(
        min=0, help="Customers to sample from customers.csv. Default: source.customers_sample (1150).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the customer sample. Default: source.seed.")] = None,
) -> None:
    """Load parts, services, mappings and a seeded customer sample into the source database (idempotent)."""
    c = context.get(ctx)
    dsn = c.pipeline().server_dsn()
    sample = c.settings.source.customers_sample if sample is None else sample
    seed = c.settings.source.seed if seed is None else seed
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=c.as_json) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=max(total, 1))
            bar.update(tasks[name], completed=done if total else 1)

        report = load_seed_data(dsn, data, on_error=on_error.value, sample=sample, seed=seed, progress=progress)
    _warn_problems(report)
    emit(c, report, lambda: _render(report))


def _warn_problems(report: LoadReport) -> None:
    for t in report.tables:
        for p in t.problems[:SHOWN_PROBLEMS]:
            err.print(f"[yellow]skipped[/yellow] {escape(str(p))}")
        hidden = t.bad_lines + t.duplicates - min(len(t.problems), SHOWN_PROBLEMS)
        if hidden > 0:
            err.print(f"[yellow]... and {hidden} more skipped lines in {escape(t.file)}[/yellow]")


def _render(report: LoadReport) -> None:
    table(f"loaded from {report.data_dir}", ["table", "in file", "chosen", "bad", "dup", "inserted", "present"],
          [(t.table, t.records, t.selected, t.bad_lines, t.duplicates, t.inserted, t.already_present)
           for t in report.tables])
    out.print(f"loaded in {report.seconds:.1f} s (chosen: rows picked, customers by seeded sample; bad: malformed "
              "lines skipped; dup: repeated keys skipped; present: already in the database)")
