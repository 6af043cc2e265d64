"""Reconciliation of row counts: every table any side knows, with a status that says what differs."""

from __future__ import annotations

from autocorp.quality.reconcile import reconcile_counts


def test_statuses() -> None:
    rows = reconcile_counts(
        source={"a": 3, "b": 5, "c": 2, "d": 1},
        curated={"a": 3, "b": 4, "c": 2},
        realtime={"a": 3, "b": 5, "c": 1},
    )
    assert [(r.table, r.status) for r in rows] == [
        ("a", "match"), ("b", "merge pending"), ("c", "differs"), ("d", "missing")]


def test_tables_only_in_the_lake_are_listed() -> None:
    rows = reconcile_counts(source={}, curated={"old": 2}, realtime={"old": 2})
    assert rows[0].table == "old" and rows[0].source is None and rows[0].status == "missing"
