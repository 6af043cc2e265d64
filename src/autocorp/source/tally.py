"""Counting what the order simulator did, and the report it hands back."""

from __future__ import annotations

import threading
from dataclasses import dataclass

OPERATIONS = ("order", "payment_change", "quantity_change", "cancellation")


@dataclass(frozen=True)
class SimulationReport:
    """What a simulation did. Row changes are rows actually inserted, updated or deleted."""

    orders: int  # orders created
    transactions: int  # business operations, one transaction each
    row_changes: int  # inserts + updates + deletes
    inserts: int
    updates: int
    deletes: int
    elapsed_s: float
    orders_per_s: float
    transactions_per_s: float
    row_changes_per_s: float
    payment_changes: int
    quantity_changes: int
    cancellations: int
    target_rate: float  # row changes/s asked for; 0 = as fast as possible
    workers: int


class Tally:
    """Thread-safe counters of operations and row changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ops = dict.fromkeys(OPERATIONS, 0)
        self._rows = {"inserts": 0, "updates": 0, "deletes": 0}

    def add(self, operation: str, *, inserts: int = 0, updates: int = 0, deletes: int = 0) -> None:
        """Count one committed operation and the rows it changed."""
        with self._lock:
            self._ops[operation] += 1
            self._rows["inserts"] += inserts
            self._rows["updates"] += updates
            self._rows["deletes"] += deletes

    def report(self, elapsed_s: float, target_rate: float, workers: int) -> SimulationReport:
        """A consistent snapshot of the counters as a report over ``elapsed_s`` seconds."""
        with self._lock:
            ops, rows = dict(self._ops), dict(self._rows)
        transactions = sum(ops.values())
        row_changes = sum(rows.values())

        def per_s(n: int) -> float:
            return round(n / elapsed_s, 1) if elapsed_s > 0 else 0.0

        return SimulationReport(
            orders=ops["order"], transactions=transactions, row_changes=row_changes, **rows,
            elapsed_s=round(elapsed_s, 3), orders_per_s=per_s(ops["order"]),
            transactions_per_s=per_s(transactions), row_changes_per_s=per_s(row_changes),
            payment_changes=ops["payment_change"], quantity_changes=ops["quantity_change"],
            cancellations=ops["cancellation"], target_rate=target_rate, workers=workers,
        )
