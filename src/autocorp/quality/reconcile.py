"""Reconciliation: does the lake hold what the source holds? Row counts side by side, table by table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TableCounts:
    """One table's row count in the source, the merged Delta table and the real-time view."""

    table: str
    source: int | None
    curated: int | None
    realtime: int | None

    @property
    def status(self) -> str:
        """``match``: Delta has the source count; ``merge pending``: only the real-time view has it yet."""
        if self.source is None or self.realtime is None:
            return "missing"
        if self.realtime != self.source:
            return "differs"
        return "match" if self.curated == self.source else "merge pending"


def reconcile_counts(source: Mapping[str, int], curated: Mapping[str, int | None],
                     realtime: Mapping[str, int | None]) -> list[TableCounts]:
    """Pair up the three counts of every table any side knows, in name order."""
    names = sorted(set(source) | set(curated) | set(realtime))
    return [TableCounts(n, source.get(n), curated.get(n), realtime.get(n)) for n in names]
