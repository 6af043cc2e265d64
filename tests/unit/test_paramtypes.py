"""Parameter types inferred from where a parameter stands, as PostgreSQL does for clients that ask."""

from __future__ import annotations

import pytest

from autocorp.query.engine import Engine
from autocorp.query.paramtypes import param_count, param_types
from autocorp.query.pgvalues import duckdb_type_oid


@pytest.fixture(scope="module")
def engine() -> Engine:
    eng = Engine(threads=1)
    eng.execute("CREATE TABLE t (id BIGINT, total DECIMAL(12,2), d DATE, ts TIMESTAMPTZ, s VARCHAR, ok BOOLEAN)")
    return eng


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT id FROM t o WHERE o.total > $1 AND o.d BETWEEN $2 AND $3 AND s IN ($4, $5) AND ts < $6",
     {1: "DECIMAL(12,2)", 2: "DATE", 3: "DATE", 4: "VARCHAR", 5: "VARCHAR", 6: "TIMESTAMP WITH TIME ZONE"}),
    ("SELECT * FROM t WHERE $1 = id AND ok = ?", {1: "BIGINT", 2: "BOOLEAN"}),
    ("SELECT $1::numeric(10,2) AS x, $2::date AS y", {1: "DECIMAL(10,2)", 2: "DATE"}),
    ("WITH x AS (SELECT * FROM t) SELECT * FROM x WHERE id = ? AND (SELECT max(total) FROM t WHERE d = ?) > 0",
     {1: "BIGINT", 2: "DATE"}),
    ("SELECT $1 AS anything, id FROM t LIMIT $2", {}),
    ("SELECT id FROM t WHERE $1 = $2", {}),
    ("SELECT * FROM nowhere WHERE x = $1", {}),
    ("not sql at all", {})])
def test_parameter_types_come_from_comparisons_and_casts(engine: Engine, sql: str, expected: dict) -> None:
    assert param_types(engine, sql) == expected


def test_duckdb_type_names_map_to_postgresql_oids() -> None:
    assert [duckdb_type_oid(n) for n in ("BIGINT", "DECIMAL(12,2)", "TIMESTAMP WITH TIME ZONE", "VARCHAR",
                                         "DATE", "BOOLEAN", "STRUCT(a INTEGER)")] == \
        [20, 1700, 1184, 1043, 1082, 16, 25]


def test_parameter_count_ignores_literals_and_comments(engine: Engine) -> None:
    assert param_count(engine, "SELECT * FROM t WHERE a > $1 AND b = '$9' AND c < $2") == 2
    assert param_count(engine, "SELECT ?, ? FROM t WHERE s = '?'") == 2 and param_count(engine, "SELECT 1") == 0
    assert param_count(engine, "SELECT 1 -- why? $4") == 0 and param_count(engine, "BEGIN") == 0
