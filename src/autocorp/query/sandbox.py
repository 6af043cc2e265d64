"""What untrusted SQL (the wire-protocol and HTTP endpoints) may run.

Two layers: every statement is parsed with DuckDB's own parser and must be exactly one ``SELECT``
(``WITH … SELECT`` parses as SELECT) calling no forbidden function; and the database itself is locked down
(``Engine.lock_down``: no file access outside the lake, no extension loading, configuration locked), so
what the first layer misses the second refuses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from autocorp.errors import QueryError, QueryRejected
from autocorp.query.engine import Engine, ast_nodes, parse_statements

# table/scalar functions that run SQL text, read the environment or reveal secrets
FORBIDDEN_FUNCTIONS = frozenset({
    "query", "query_table", "getenv", "duckdb_secrets", "which_secret", "load_extension",
    "install_extension", "read_text", "read_blob", "glob", "sniff_csv", "duckdb_extensions",
})

T = TypeVar("T")


def check_statement(engine: Engine, sql: str) -> str:
    """Return the single read-only statement in ``sql``.

    Raises:
        QueryRejected: empty, several statements, not a SELECT, or a forbidden function.
        QueryError: the SQL does not parse.
    """
    statements = parse_statements(sql)
    if not statements:
        raise QueryRejected("no SQL statement given: send one SELECT")
    if len(statements) > 1:
        raise QueryRejected(f"{len(statements)} statements in one request: send exactly one SELECT")
    stmt = statements[0]
    if stmt.kind != "SELECT":
        raise QueryRejected(f"{stmt.kind} statements are not allowed: the lake is read-only, send a SELECT")
    tree = engine.ast(stmt.sql)
    if tree.get("error"):
        raise QueryRejected(f"statement cannot be checked: {tree.get('error_message', 'unsupported form')}; "
                            "send a plain SELECT")
    bad = sorted(set(function_names(tree)) & FORBIDDEN_FUNCTIONS)
    if bad:
        raise QueryRejected(f"function {', '.join(bad)} is not allowed over the lake endpoint")
    return stmt.sql


def function_names(node: Any) -> Iterator[str]:
    """Every function name called anywhere in a ``json_serialize_sql`` tree (lower case)."""
    for item in ast_nodes(node):
        name = item.get("function_name")
        if isinstance(name, str):
            yield name.lower()


@contextmanager
def statement_timeout(engine: Engine, seconds: float) -> Iterator[None]:
    """Interrupt the statement running on ``engine`` after ``seconds``.

    Raises:
        QueryError: the statement was cancelled by the timeout.
    """
    fired = threading.Event()

    def cancel() -> None:
        fired.set()
        engine.interrupt()

    timer = threading.Timer(seconds, cancel)
    timer.daemon = True
    timer.start()
    try:
        yield
    except QueryError as exc:
        if fired.is_set():
            raise QueryError(f"statement cancelled after {seconds:g} s (query.statement_timeout_s): "
                             "add filters or raise the limit") from exc
        raise
    finally:
        timer.cancel()


def run_sandboxed(engine: Engine, sql: str, timeout_s: float, run: Callable[[str], T]) -> T:
    """Check ``sql`` and run it through ``run`` under the statement timeout."""
    stmt = check_statement(engine, sql)
    with statement_timeout(engine, timeout_s):
        return run(stmt)
