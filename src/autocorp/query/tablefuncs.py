"""Time travel as SQL table functions: ``<table>_at_lsn(lsn)`` and ``<table>_as_of(timestamp)``.

``SELECT … FROM sales_order_at_lsn('0/1A2B3C8') o JOIN sales_order_parts_at_lsn('0/1A2B3C8') l …`` reads every
named table as of the same source LSN, exactly like ``autocorp query --lsn`` (the Delta version at or below
the LSN plus the raw changes up to it), so a multi-table read is transaction-consistent; ``_as_of`` does the
same for a point in time (``--as-of``).

DuckDB cannot run Python to pick a Delta version per call, so the calls are resolved before the statement
runs: DuckDB's own parser finds them (``json_serialize_sql`` gives each call's position), each distinct time
point is resolved from the lake's metadata into views in a schema of its own, and the call's text is replaced
by that view's name. Arguments must be literals: an LSN like ``'16/B374D848'`` or an integer, a timestamp
string or ``TIMESTAMP '…'`` (UTC when no zone is given).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from autocorp.errors import QueryError
from autocorp.query.engine import Engine, ast_nodes
from autocorp.query.timetravel import TimePoint, parse_lsn, parse_time
from autocorp.query.views import q

SUFFIXES = ("_at_lsn", "_as_of")
_MAYBE = re.compile(r"_(at_lsn|as_of)\s*\(", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    """One time-travel call in a statement: byte span of ``name(arg)``, the table, its point, and the alias
    to add (the call's name when the statement gives none, so ``sales_order_at_lsn.col`` still resolves)."""

    start: int
    end: int
    table: str
    point: TimePoint
    alias: str


def schema_for(point: TimePoint) -> str:
    """The schema holding the views of one time point (stable for equal points)."""
    key = f"lsn={point.lsn}" if point.lsn is not None else f"as_of={point.as_of.isoformat() if point.as_of else ''}"
    return "_at_" + hashlib.sha1(key.encode()).hexdigest()[:12]


def rewrite(engine: Engine, sql: str, tables: list[str],
            define: Callable[[TimePoint, str, list[str]], None]) -> str:
    """``sql`` with every ``<table>_at_lsn(…)`` / ``<table>_as_of(…)`` call replaced by its time point's view.

    ``define(point, schema, tables)`` creates (or refreshes) the views of ``tables`` as of ``point`` in
    ``schema``. SQL without such calls, or that does not parse, is returned unchanged (running it reports the
    error).

    Raises:
        QueryError: a call names an unknown table or its argument is not a literal LSN / timestamp.
    """
    if not _MAYBE.search(sql):
        return sql
    tree = engine.ast(sql)
    if tree.get("error"):
        return sql
    data = sql.encode()
    calls = sorted(_calls(tree, data, {t.lower(): t for t in tables}), key=lambda c: c.start)
    if not calls:
        return sql
    wanted: dict[TimePoint, set[str]] = {}
    for call in calls:
        wanted.setdefault(call.point, set()).add(call.table)
    for point, names in wanted.items():
        define(point, schema_for(point), sorted(names))
    out, pos = [], 0
    for call in calls:
        alias = f" AS {q(call.alias)}" if call.alias else ""
        out += [data[pos:call.start], f"{q(schema_for(call.point))}.{q(call.table)}{alias}".encode()]
        pos = call.end
    out.append(data[pos:])
    return b"".join(out).decode()


def _calls(tree: dict[str, Any], data: bytes, tables: dict[str, str]) -> Iterator[Call]:
    """The time-travel calls in ``tree``; ``tables`` maps lower-case names to the lake's table names."""
    for node in ast_nodes(tree):
        if node.get("type") != "TABLE_FUNCTION" or not isinstance(node.get("function"), dict):
            continue
        func = node["function"]
        name = str(func.get("function_name", ""))
        suffix = next((s for s in SUFFIXES if name.lower().endswith(s)), None)
        if suffix is None or func.get("schema"):
            continue
        table = tables.get(name[: -len(suffix)].lower(), "")  # SQL names are case-insensitive
        if not table:
            raise QueryError(f"{name}(): there is no curated table '{name[: -len(suffix)]}' "
                             f"(tables: {', '.join(sorted(tables.values())) or 'none'})")
        args = func.get("children") or []
        if len(args) != 1:
            raise QueryError(f"{name}() takes one argument: {_usage(suffix)}")
        text = _literal(args[0])
        if text is None:
            raise QueryError(f"{name}() needs a literal argument: {_usage(suffix)}")
        point = TimePoint(lsn=parse_lsn(text)) if suffix == "_at_lsn" else TimePoint(as_of=parse_time(text))
        start = int(func["query_location"])
        end = _call_end(data, start)
        yield Call(start, end, table, point, "" if node.get("alias") else name)


def _literal(arg: dict[str, Any]) -> str | None:
    """Text of a constant argument (also under a cast like ``TIMESTAMP '…'``); None for anything else."""
    while arg.get("type") == "OPERATOR_CAST":
        arg = arg["child"]
    if arg.get("type") != "VALUE_CONSTANT" or arg["value"].get("is_null"):
        return None
    return str(arg["value"]["value"])


def _call_end(data: bytes, start: int) -> int:
    """Byte offset just after the ``)`` closing the call that starts at ``start`` (quotes respected)."""
    depth, i, quote = 0, data.index(b"(", start), 0
    while i < len(data):
        ch = data[i]
        if quote:
            if ch == quote:
                quote = 0
        elif ch in (0x27, 0x22):  # ' "
            quote = ch
        elif ch == 0x28:
            depth += 1
        elif ch == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise QueryError("unbalanced parentheses in a time-travel call")


def _usage(suffix: str) -> str:
    if suffix == "_at_lsn":
        return "an LSN like '16/B374D848' or an integer"
    return "a timestamp like '2026-11-26 07:00:00' (UTC) or TIMESTAMPTZ '2026-11-26 07:00:00+00'"
