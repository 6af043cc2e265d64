"""The types of a statement's parameters, for clients that ask the server (asyncpg, psycopg 3 prepared).

PostgreSQL infers a parameter's type from where it stands; DuckDB 1.5 reports them as unknown until values
are bound. So this reads DuckDB's parse tree: a parameter compared with an expression (``=``, ``<`` …,
``BETWEEN``, ``IN``) takes that expression's type, found by describing ``SELECT <expression> FROM <the same
FROM clause>``; an explicit cast (``$1::numeric``) gives its type. Anything else stays unknown (None), and the
client sends it as text, which DuckDB casts from the query's context.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from autocorp.errors import QueryError
from autocorp.query.engine import Engine, ast_nodes


def param_count(engine: Engine, sql: str) -> int:
    """How many parameters a statement takes: its highest parameter number (0 when it does not parse as a
    query); ``$n`` or ``?`` inside literals and comments are not parameters."""
    try:
        tree = engine.ast(sql)
    except QueryError:
        return 0
    return max((_number(node) for node in ast_nodes(tree)), default=0)


def param_types(engine: Engine, sql: str) -> dict[int, str]:
    """DuckDB type names of the parameters (by 1-based number) whose type the statement determines."""
    try:
        tree = engine.ast(sql)
    except QueryError:
        return {}
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        return {}
    out: dict[int, str] = {}
    for number, how, select in _placements(tree["statements"][0]["node"], None):
        if number in out:
            continue
        typ = _type_name(how) if "id" in how else _describe(engine, tree, select, how)
        if typ:
            out[number] = typ
    return out


def _placements(node: Any, select: dict[str, Any] | None) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(parameter number, its cast type or the expression it meets, the enclosing SELECT node)."""
    if isinstance(node, list):
        for item in node:
            yield from _placements(item, select)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "SELECT_NODE":
        select = node
    if select is not None:
        yield from _pairs(node, select)
    for value in node.values():
        yield from _placements(value, select)


def _pairs(node: dict[str, Any], select: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    kind = node.get("class")
    if kind == "CAST" and _number(node.get("child")):
        yield _number(node["child"]), node["cast_type"], select
    elif kind == "COMPARISON":
        yield from _meet(node["left"], node["right"], select)
    elif kind == "BETWEEN":
        yield from _meet(node["input"], node["lower"], select)
        yield from _meet(node["input"], node["upper"], select)
    elif node.get("type") in ("COMPARE_IN", "COMPARE_NOT_IN"):
        for other in node["children"][1:]:
            yield from _meet(node["children"][0], other, select)


def _meet(a: dict[str, Any], b: dict[str, Any], select: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any],
                                                                                          dict[str, Any]]]:
    for param, expr in ((a, b), (b, a)):
        if _number(param) and not _number(expr):
            yield _number(param), {"expr": expr}, select


def _number(node: Any) -> int:
    if isinstance(node, dict) and node.get("class") == "PARAMETER" and str(node.get("identifier", "")).isdigit():
        return int(node["identifier"])
    return 0


def _describe(engine: Engine, tree: dict[str, Any], select: dict[str, Any], how: dict[str, Any]) -> str | None:
    """The type of ``how['expr']`` evaluated over ``select``'s FROM clause (None when it cannot be told)."""
    if "expr" not in how or any(_number(n) for n in ast_nodes(how["expr"])):
        return None
    probe = {**select, "select_list": [how["expr"]], "where_clause": None, "group_expressions": [],
             "group_sets": [], "having": None, "qualify": None, "modifiers": [], "sample": None}
    statement = {**tree, "statements": [{**tree["statements"][0], "node": probe}]}
    try:
        sql = engine.rows("SELECT json_deserialize_sql(?)", [json.dumps(statement)])[0][0]
        return str(engine.rows(f"DESCRIBE {sql}")[0][1])
    except (QueryError, IndexError):
        return None


def _type_name(cast: dict[str, Any]) -> str:
    info = cast.get("type_info") or {}
    if cast["id"] == "DECIMAL" and "width" in info:
        return f"DECIMAL({info['width']},{info['scale']})"
    return str(cast["id"])
