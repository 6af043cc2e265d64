"""Output for the CLI: data as JSON on stdout with --json, rich text otherwise; progress on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from autocorp.cli.context import Context

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit(ctx: Context, data: Any, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON (--json) or call ``render`` for the human form."""
    if ctx.as_json:
        print(json.dumps(_plain(data), default=str, indent=2))
    else:
        render()


def _plain(data: Any) -> Any:
    if is_dataclass(data) and not isinstance(data, type):
        return asdict(data)
    return data


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if i else "left")
    for r in rows:
        t.add_row(*[f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in r])
    out.print(t)


def kv(pairs: Mapping[str, Any]) -> None:
    for k, v in pairs.items():
        out.print(f"[bold]{k}[/bold]: {v}")
