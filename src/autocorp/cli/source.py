"""`autocorp source ...`: seed data and the order workload."""

from __future__ import annotations

import typer

from autocorp.cli import seed_cmd, simulate_cmd

app = typer.Typer(help="Generate, load and exercise the AutoCorp source data.", no_args_is_help=True)
seed_cmd.register(app)
simulate_cmd.register(app)
