"""`autocorp source ...`: seed data and the order workload."""

from __future__ import annotations

import typer

app = typer.Typer(help="Generate, load and exercise the AutoCorp source data.", no_args_is_help=True)
