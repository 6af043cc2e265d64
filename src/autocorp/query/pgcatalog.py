"""pg_catalog shims so PostgreSQL clients (psql's backslash commands, BI tools) can browse the lake.

DuckDB ships a partial ``pg_catalog``; what psql and drivers need beyond it lives in the ``pgshim`` schema,
and ``rewrite`` sends ``pg_catalog.<name>`` references there. The lake's views are shown as tables
(relkind ``r``): to a client they are the lake's tables. Shims describe only what the lake has: no keys,
indexes, sequences or comments; ``format_type`` names column types as PostgreSQL does (``bigint``,
``character varying``, ``numeric(12,2)``, ``timestamp with time zone``) so drivers such as SQLAlchemy map them.
"""

from __future__ import annotations

import re

from autocorp.query.engine import Engine

SHIM_SCHEMA = "pgshim"
_HIDDEN = "('_lake', 'pgshim')"

# DuckDB's pg_attribute gives DuckDB's own type ids (BIGINT = 14, VARCHAR = 25 ...) where clients expect the
# PostgreSQL type OIDs that DuckDB's pg_type and the wire protocol use: DuckDB type id -> PostgreSQL OID.
# Unsigned and huge integers become the smallest PostgreSQL type that holds every value; the rest is text.
PG_TYPE_OIDS: dict[int, int] = {
    10: 16, 11: 21, 12: 21, 13: 23, 14: 20, 15: 1082, 16: 1083, 17: 1114, 18: 1114, 19: 1114, 20: 1114,
    21: 1700, 22: 700, 23: 701, 24: 1043, 25: 1043, 26: 17, 27: 1186, 28: 21, 29: 23, 30: 20, 31: 1700,
    32: 1184, 34: 1266, 50: 1700, 51: 1700, 54: 2950,
}
# PostgreSQL OID -> the name PostgreSQL's format_type gives (what drivers such as SQLAlchemy map)
PG_TYPE_NAMES: dict[int, str] = {
    16: "boolean", 17: "bytea", 20: "bigint", 21: "smallint", 23: "integer", 25: "text", 700: "real",
    701: "double precision", 1043: "character varying", 1082: "date", 1083: "time without time zone",
    1114: "timestamp without time zone", 1184: "timestamp with time zone", 1186: "interval",
    1266: "time with time zone", 1700: "numeric", 2950: "uuid",
}
_DECIMAL_ID = 21

# PostgreSQL-only settings drivers read with current_setting(): answered as PostgreSQL's defaults
PG_SETTINGS: dict[str, str] = {"default_table_access_method": "heap", "server_version_num": "150000",
                               "standard_conforming_strings": "on", "integer_datetimes": "on"}

# name -> SQL creating it inside the shim schema ({s} = schema)
_SHIMS: dict[str, str] = {
    "pg_table_is_visible": (
        "CREATE OR REPLACE MACRO {s}.pg_table_is_visible(id) AS id IN (SELECT c.oid FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'main')"),
    "pg_get_expr": "CREATE OR REPLACE MACRO {s}.pg_get_expr(e, r, p := false) AS NULL::VARCHAR",
    "pg_relation_is_publishable": "CREATE OR REPLACE MACRO {s}.pg_relation_is_publishable(x) AS false",
    "array_upper": "CREATE OR REPLACE MACRO {s}.array_upper(a, d) AS len(a)",
    "pg_get_userbyid": "CREATE OR REPLACE MACRO {s}.pg_get_userbyid(id) AS 'lake'",
    "pg_class": (
        "CREATE OR REPLACE VIEW {s}.pg_class AS SELECT * REPLACE ("
        "CASE WHEN relkind = 'v' THEN 'r' ELSE relkind END AS relkind, 0 AS relowner, "
        "CASE WHEN relkind = 'i' THEN relam END AS relam), "
        "false AS relforcerowsecurity "
        "FROM pg_catalog.pg_class WHERE relnamespace NOT IN "
        f"(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN {_HIDDEN})"),
    "pg_namespace": (
        "CREATE OR REPLACE VIEW {s}.pg_namespace AS SELECT * FROM pg_catalog.pg_namespace "
        f"WHERE nspname NOT IN {_HIDDEN}"),
    "pg_tables": (
        "CREATE OR REPLACE VIEW {s}.pg_tables AS SELECT n.nspname AS schemaname, c.relname AS tablename, "
        "'lake' AS tableowner, NULL AS tablespace, false AS hasindexes, false AS hasrules, "
        "false AS hastriggers, false AS rowsecurity FROM {s}.pg_class c JOIN {s}.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind = 'r'"),
    "pg_index": ("CREATE OR REPLACE VIEW {s}.pg_index AS SELECT *, false AS indnullsnotdistinct "
                 "FROM pg_catalog.pg_index"),
    # DuckDB lists its generic ENUM placeholder (no oid) as a type; the lake defines no enum
    "pg_type": "CREATE OR REPLACE VIEW {s}.pg_type AS SELECT * FROM pg_catalog.pg_type WHERE oid IS NOT NULL",
    # DuckDB's system and temp catalogs are not databases a client can connect to
    "pg_database": ("CREATE OR REPLACE VIEW {s}.pg_database AS SELECT * FROM pg_catalog.pg_database "
                    "WHERE datname = current_database()"),
    "pg_roles": ("CREATE OR REPLACE VIEW {s}.pg_roles AS SELECT 0::BIGINT AS oid, 'lake' AS rolname, "
                 "true AS rolsuper, true AS rolcanlogin"),
    "pg_user": "CREATE OR REPLACE VIEW {s}.pg_user AS SELECT 'lake' AS usename, 0::BIGINT AS usesysid",
    "pg_get_indexdef": "CREATE OR REPLACE MACRO {s}.pg_get_indexdef(a, b := 0, c := false) AS ''",
    "pg_encoding_to_char": "CREATE OR REPLACE MACRO {s}.pg_encoding_to_char(e) AS 'UTF8'",
    "version": "CREATE OR REPLACE MACRO {s}.version() AS 'PostgreSQL 15.0 (autocorp lake on DuckDB)'",
    "pg_get_partkeydef": "CREATE OR REPLACE MACRO {s}.pg_get_partkeydef(x) AS NULL",
    "pg_get_statisticsobjdef_columns": "CREATE OR REPLACE MACRO {s}.pg_get_statisticsobjdef_columns(x) AS NULL",
    "format_type": (
        "CREATE OR REPLACE MACRO {s}.format_type(typid, typmod) AS CASE typid "
        + " ".join(f"WHEN {oid} THEN '{name}'" for oid, name in PG_TYPE_NAMES.items())
        + " ELSE 'text' END || CASE WHEN typid = 1700 AND typmod >= 4 "
        "THEN concat('(', (typmod - 4) >> 16, ',', (typmod - 4) & 65535, ')') ELSE '' END"),
    # PostgreSQL OIDs and typmods (numeric: ((precision << 16) | scale) + 4) in place of DuckDB's
    "pg_attribute": (
        "CREATE OR REPLACE VIEW {s}.pg_attribute AS SELECT * REPLACE (CASE atttypid "
        + " ".join(f"WHEN {duck} THEN {oid}" for duck, oid in PG_TYPE_OIDS.items())
        + f" ELSE 25 END AS atttypid, CASE WHEN atttypid = {_DECIMAL_ID} "
        "THEN ((atttypmod // 1000) << 16) + atttypmod % 1000 + 4 ELSE -1 END AS atttypmod) "
        "FROM pg_catalog.pg_attribute"),
    "pg_backend_pid": "CREATE OR REPLACE MACRO {s}.pg_backend_pid() AS current_connection_id()::BIGINT",
    "pg_get_serial_sequence": "CREATE OR REPLACE MACRO {s}.pg_get_serial_sequence(t, c) AS NULL::VARCHAR",
}

# catalogs the lake has nothing in: empty relations with the columns psql asks for
_EMPTY: dict[str, str] = {
    "pg_policy": "oid BIGINT, polname VARCHAR, polpermissive BOOLEAN, polroles BIGINT[], polqual VARCHAR, "
                 "polwithcheck VARCHAR, polcmd VARCHAR, polrelid BIGINT",
    "pg_statistic_ext": "oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, stxkeys INTEGER[], "
                        "stxkind VARCHAR[], stxstattarget INTEGER, stxowner BIGINT",
    "pg_publication": "oid BIGINT, pubname VARCHAR, puballtables BOOLEAN, pubinsert BOOLEAN, pubupdate BOOLEAN, "
                      "pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN, pubowner BIGINT",
    "pg_publication_rel": "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs INTEGER[]",
    "pg_publication_namespace": "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT",
    "pg_inherits": "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "pg_trigger": "oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR, tgenabled VARCHAR, "
                  "tgisinternal BOOLEAN, tgconstraint BIGINT",
    "pg_rewrite": "oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, is_instead BOOLEAN",
    "pg_foreign_table": "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]",
    "pg_partitioned_table": "partrelid BIGINT, partstrat VARCHAR, partnatts INTEGER",
    "pg_event_trigger": "oid BIGINT, evtname VARCHAR, evtevent VARCHAR, evtenabled VARCHAR",
    "pg_extension": "oid BIGINT, extname VARCHAR, extversion VARCHAR, extnamespace BIGINT",
    "pg_opclass": "oid BIGINT, opcmethod BIGINT, opcname VARCHAR, opcnamespace BIGINT, opcdefault BOOLEAN, "
                  "opcintype BIGINT",
    "pg_collation": "oid BIGINT, collname VARCHAR, collnamespace BIGINT, collprovider VARCHAR",
}
_OPERATOR = re.compile(r'OPERATOR\s*\(\s*"?pg_catalog"?\s*\.\s*([^)\s]+)\s*\)', re.IGNORECASE)
_COLLATE = re.compile(r'\s+COLLATE\s+"?pg_catalog"?\s*\.\s*"?default"?', re.IGNORECASE)
_CAST_SCHEMA = re.compile(r'(::\s*|\bAS\s+)"?pg_catalog"?\s*\.\s*', re.IGNORECASE)
_REG_CAST = re.compile(r'(::\s*|\bAS\s+)(regtype|regclass|regproc|regnamespace|regrole)\b', re.IGNORECASE)
_SETTING = re.compile(r"\bcurrent_setting\s*\(\s*'([a-z_]+)'\s*\)", re.IGNORECASE)
_JSON_BUILD = re.compile(r"\bjson_build_object\s*\(", re.IGNORECASE)
# shims clients also name without the schema: functions (a name and "(") and pg_* relations
_UNQUALIFIED = re.compile(r'(?<![.\w"\'])\b([a-z_][a-z0-9_]*)\b(?!\s*\.)(\s*\()?', re.IGNORECASE)
_QUALIFIED = re.compile(r'\b(?:"?pg_catalog"?)\s*\.\s*"?([a-z_][a-z0-9_]*)"?', re.IGNORECASE)


_MACRO = "CREATE OR REPLACE MACRO"
_builtin: set[str] = set()


def install(engine: Engine) -> None:
    """Create the shim schema and objects (idempotent)."""
    engine.execute(f"CREATE SCHEMA IF NOT EXISTS {SHIM_SCHEMA}")
    for sql in _SHIMS.values():
        engine.execute(sql.format(s=SHIM_SCHEMA))
    for name, cols in _EMPTY.items():
        nulls = ", ".join(f"NULL::{typ} AS {col}" for col, typ in (c.strip().split(" ", 1) for c in cols.split(",")))
        engine.execute(f"CREATE OR REPLACE VIEW {SHIM_SCHEMA}.{name} AS SELECT {nulls} WHERE false")
    _builtin.update(r[0] for r in engine.rows(
        "SELECT function_name FROM duckdb_functions() WHERE schema_name = 'pg_catalog' "
        "UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'pg_catalog'"))


def rewrite(sql: str) -> str:
    """Point ``pg_catalog.<name>`` (and unqualified shim calls and ``pg_*`` relations) at the shim schema.

    Also turns PostgreSQL spellings DuckDB lacks into DuckDB's: ``json_build_object`` -> ``json_object``,
    ``current_setting`` of a PostgreSQL-only setting -> its PostgreSQL default, reg* casts -> VARCHAR.
    """
    def sub(m: re.Match[str]) -> str:
        name = m.group(1).lower()
        if name in _SHIMS or name in _EMPTY:
            return f"{SHIM_SCHEMA}.{name}"
        return m.group(0) if name in _builtin else name  # a DuckDB built-in such as array_to_string

    sql = _COLLATE.sub("", _OPERATOR.sub(r"\1", sql))
    sql = _JSON_BUILD.sub("json_object(", sql)
    sql = _SETTING.sub(_setting, sql)
    # psql's publication query indexes an array by a generate_series alias (a struct in DuckDB)
    sql = re.sub(r"\bprattrs\s*\[\s*s\s*\]", "prattrs[s.generate_series]", sql, flags=re.IGNORECASE)
    sql = _REG_CAST.sub(r"\1VARCHAR", _CAST_SCHEMA.sub(r"\1", sql))
    return _QUALIFIED.sub(sub, _UNQUALIFIED.sub(_qualify, sql))


def _setting(m: re.Match[str]) -> str:
    value = PG_SETTINGS.get(m.group(1).lower())
    return m.group(0) if value is None else f"'{value}'"


def _qualify(m: re.Match[str]) -> str:
    """Send an unqualified shim function call, or an unqualified pg_* shim relation, to the shim schema."""
    name, call = m.group(1).lower(), m.group(2)
    shimmed = name in _SHIMS or name in _EMPTY
    if shimmed and (call or (name.startswith("pg_") and not _SHIMS.get(name, "").startswith(_MACRO))):
        return f"{SHIM_SCHEMA}.{m.group(0)}"
    return m.group(0)
