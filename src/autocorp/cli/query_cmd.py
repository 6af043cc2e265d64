"""CLI commands: placeholder until the stage lands (registered from cli/main.py or cli/source.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
