"""The lake's tables as DuckDB views.

- ``<table>_ro`` (read-optimized): the Delta table alone, pinned to the snapshot's version.
- ``<table>`` (real-time): Delta rows whose key has no newer raw change, plus the latest raw change per key
  above the table's committed LSN (deletes dropped, a truncate hides everything before it, ``_unchanged``
  columns taken from the Delta row). The unmerged raw changes are small, so they are read once per refresh
  into ``_lake.<table>`` and every query joins against that, and only for the Delta files whose key range
  (min/max in the Delta log) holds one of their keys: the other files are read as they are.
- ``<pipeline>.<table>``: the same views under the capture slot's name (the design's ``"autocorp_dev"."x"``).
- ``<table>_at_version(v)``: a table macro reading the Delta table at version ``v``.
- Time-travel table functions (``<table>_at_lsn(lsn)``, ``<table>_as_of(ts)``) define the same two views in a
  schema of their own per time point (``query.tablefuncs``).
- ``lake_versions``: every table's Delta versions with commit time and committed source LSN.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from autocorp.errors import QueryError
from autocorp.lake.storage import Storage
from autocorp.query.deltatable import VersionFiles
from autocorp.query.engine import Engine
from autocorp.query.snapshot import LakeLog
from autocorp.query.timetravel import TableSnapshot

RAW_SCHEMA = "_lake"
_META = ("Op", "_lsn", "_seq", "_commit_ts", "_unchanged")


@dataclass(frozen=True)
class Columns:
    """A Delta table's columns (name, DuckDB type) and its key columns."""

    all: list[tuple[str, str]]
    key: list[str]


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def define_table(engine: Engine, storage: Storage, log: LakeLog, snap: TableSnapshot, pipeline: str | None,
                 schema: str = "main", files: VersionFiles | None = None) -> None:
    """Create or replace ``<t>_ro`` and ``<t>`` for one table snapshot in ``schema``.

    ``files`` are the Delta version's data files when plain Parquet reads equal it (``query.deltatable``):
    ``<t>_ro`` then reads them with ``read_parquet`` (statistics for the planner), else with ``delta_scan``,
    and the real-time view checks only the files whose key range holds an unmerged change.

    In ``main`` the unmerged raw changes go to ``_lake.<t>``, the ``<t>_at_version`` macro is defined and
    ``pipeline`` names a schema that gets aliases of both views; in any other schema the raw changes go to
    ``<schema>._raw_<t>``.
    """
    t = snap.name
    uri = storage.uri(f"curated/{t}")
    where = "" if snap.exists else " WHERE false"
    ro = f"{q(schema)}.{q(t + '_ro')}"
    scan = f"SELECT * FROM delta_scan({lit(uri)}, version={snap.version})"
    direct = _parquet_read(engine, scan, files.uris) if files and snap.exists else None
    engine.execute(f"CREATE OR REPLACE VIEW {ro} AS {direct or scan}{where}")
    scratch = (RAW_SCHEMA, t) if schema == "main" else (schema, "_raw_" + t)  # where unmerged changes go
    body = f"SELECT * FROM {ro}"
    if snap.raw:
        body = _realtime_body(engine, log, snap, [storage.uri(f.path) for f in snap.raw], ro, scratch,
                              files if direct else None)
    engine.execute(f"CREATE OR REPLACE VIEW {q(schema)}.{q(t)} AS {body}")
    if schema != "main":
        return
    engine.execute(f"CREATE OR REPLACE MACRO {q(t + '_at_version')}(v) AS TABLE "
                   f"SELECT * FROM delta_scan({lit(uri)}, version=v)")
    if pipeline:
        for name in (t, t + "_ro"):
            engine.execute(f"CREATE OR REPLACE VIEW {q(pipeline)}.{q(name)} AS SELECT * FROM main.{q(name)}")


def _parquet_read(engine: Engine, scan: str, uris: list[str]) -> str | None:
    """``read_parquet`` over a Delta version's files when it gives exactly the columns and types of ``scan``
    (older files lacking a newer column read it as NULL); None otherwise."""
    if not uris:
        return None
    want = engine.rows(f"DESCRIBE {scan}")
    direct = f"SELECT {', '.join(q(r[0]) for r in want)} FROM {_files(uris)}"
    try:
        got = engine.rows(f"DESCRIBE {direct}")
    except QueryError:
        return None
    return direct if [r[:2] for r in got] == [r[:2] for r in want] else None


def _files(uris: list[str]) -> str:
    return f"read_parquet([{', '.join(lit(u) for u in uris)}], union_by_name=true)"


def _subset_read(engine: Engine, uris: list[str], cols: list[tuple[str, str]]) -> str:
    """Some of a version's files with the version's columns and types (NULL where none of them has one)."""
    present = {r[0]: r[1] for r in engine.rows(f"DESCRIBE SELECT * FROM {_files(uris)}")}
    picks = [q(c) if present.get(c) == typ else f"CAST({q(c)} AS {typ}) AS {q(c)}" if c in present
             else f"NULL::{typ} AS {q(c)}" for c, typ in cols]
    return f"SELECT {', '.join(picks)} FROM {_files(uris)}"


def _realtime_body(engine: Engine, log: LakeLog, snap: TableSnapshot, paths: list[str], ro: str,
                   scratch: tuple[str, str], files: VersionFiles | None) -> str:
    """Delta rows no unmerged change replaces, plus the unmerged changes; ``scratch`` is the (schema, name)
    the changes are read into (the key ranges of ``files`` go to ``<name>__files`` beside it)."""
    raw = f"{q(scratch[0])}.{q(scratch[1])}"
    cols = [(r[0], r[1]) for r in engine.rows(f"DESCRIBE SELECT * FROM {ro}")]
    names = [c for c, _ in cols]
    key = log.primary_key(snap.raw[-1]) or [c for c in names if c not in ("_lsn", "_commit_ts")]
    trunc, unchanged = _load_raw(engine, snap, cols, key, paths, raw)
    match = " AND ".join(f"r.{q(k)} IS NOT DISTINCT FROM d.{q(k)}" for k in key)
    keep = f"NOT EXISTS (SELECT 1 FROM {raw} r WHERE {match})"
    after_trunc = f"d._lsn > {trunc}" if trunc is not None else "true"
    if unchanged:
        picks = ", ".join(f"CASE WHEN list_contains(r._unchanged, {lit(c)}) THEN d.{q(c)} ELSE r.{q(c)} END AS {q(c)}"
                          for c in names)
        fresh = f"SELECT {picks} FROM {raw} r LEFT JOIN {ro} d ON {match} WHERE r.Op <> 'D'"
    else:
        fresh = f"SELECT {', '.join('r.' + q(c) for c in names)} FROM {raw} r WHERE r.Op <> 'D'"
    ranges = f"{q(scratch[0])}.{q(scratch[1] + '__files')}"
    touched = None if files is None else _touched_files(engine, files, key, raw, ranges)
    if files is None or touched is None:
        return f"SELECT d.* FROM {ro} d WHERE {keep} AND {after_trunc} UNION ALL {fresh}"
    # files no unmerged change can be in are read as they are; only the others are checked key by key
    clean, dirty = [u for u in files.uris if u not in touched], [u for u in files.uris if u in touched]
    parts = [f"SELECT d.* FROM ({_subset_read(engine, clean, cols)}) d WHERE {after_trunc}"] if clean else []
    if dirty:
        parts.append(f"SELECT d.* FROM ({_subset_read(engine, dirty, cols)}) d WHERE {keep} AND {after_trunc}")
    return " UNION ALL ".join(parts + [fresh])


# key types whose log min/max are exact bounds (delta-rs may truncate string statistics)
_RANGE_TYPES = (pa.types.is_integer, pa.types.is_decimal, pa.types.is_date, pa.types.is_timestamp)


def _touched_files(engine: Engine, files: VersionFiles, key: list[str], raw: str, table: str) -> set[str] | None:
    """Files whose key range (from the Delta log, loaded into ``table``) holds a key of the changes in ``raw``;
    None when the log's statistics cannot tell (a key column without exact min/max)."""
    stats = files.stats
    for k in key:
        for side in ("min", "max"):
            name = f"{side}.{k}"
            if name not in stats.column_names or not any(f(stats.schema.field(name).type) for f in _RANGE_TYPES):
                return None
    if stats.column("uri").null_count:  # a file the log names but the version's file list does not
        return None
    bounds = {f"{bound}{i}": stats.column(f"{side}.{k}")
              for i, k in enumerate(key) for bound, side in (("lo", "min"), ("hi", "max"))}
    ranges = pa.table({"uri": stats.column("uri"), **bounds})
    inside = " AND ".join(f"(r.{q(k)} IS NULL OR f.lo{i} IS NULL OR f.hi{i} IS NULL "
                          f"OR r.{q(k)} BETWEEN f.lo{i} AND f.hi{i})" for i, k in enumerate(key))
    try:
        engine.load(table, ranges)
        return {r[0] for r in engine.rows(
            f"SELECT f.uri FROM {table} f WHERE EXISTS (SELECT 1 FROM {raw} r WHERE {inside})")}
    except QueryError:
        return None


def _load_raw(engine: Engine, snap: TableSnapshot, cols: list[tuple[str, str]],
              key: list[str], paths: list[str], raw: str) -> tuple[int | None, bool]:
    """Read the snapshot's raw changes into the table ``raw``: latest per key after the last truncate.

    Returns the truncate LSN (None without a truncate) and whether any change has unchanged columns.
    """
    files = "[" + ", ".join(lit(p) for p in paths) + "]"
    src = f"read_parquet({files}, union_by_name=true)"
    present = {r[0] for r in engine.rows(f"DESCRIBE SELECT * FROM {src}")}
    picks = [f"{q(c)}" if c in present else f"NULL::{'VARCHAR[]' if c == '_unchanged' else 'BIGINT'} AS {q(c)}"
             for c in _META]
    picks += [f"CAST({q(c)} AS {typ}) AS {q(c)}" if c in present else f"NULL::{typ} AS {q(c)}"
              for c, typ in cols if c not in _META]
    cond = f"_lsn > {snap.committed_lsn} AND _lsn <= {snap.upto_lsn}"
    if snap.upto_time is not None:
        cond += f" AND _commit_ts <= {lit(snap.upto_time.isoformat())}::TIMESTAMPTZ"
    engine.execute(f"CREATE OR REPLACE TABLE {raw} AS SELECT {', '.join(picks)} FROM {src} WHERE {cond}")
    trunc, seq = engine.rows(f"SELECT _lsn, _seq FROM {raw} WHERE Op = 'T' ORDER BY _lsn DESC, _seq DESC LIMIT 1")[0] \
        if engine.rows(f"SELECT count(*) FROM {raw} WHERE Op = 'T'")[0][0] else (None, None)
    after = f" AND (_lsn, _seq) > ({trunc}, {seq})" if trunc is not None else ""
    part = ", ".join(q(k) for k in key)
    engine.execute(f"CREATE OR REPLACE TABLE {raw} AS SELECT * FROM {raw} WHERE Op <> 'T'{after} "
                   f"QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY _lsn DESC, _seq DESC) = 1")
    unchanged = engine.rows(f"SELECT count(*) FROM {raw} WHERE len(coalesce(_unchanged, [])) > 0")[0][0] > 0
    return trunc, bool(unchanged)


def define_versions(engine: Engine, log: LakeLog, tables: list[str]) -> None:
    """Create ``lake_versions`` (table, version, commit_time, committed_lsn)."""
    rows = [f"({lit(t)}, {c.version}, {lit(c.timestamp.isoformat())}::TIMESTAMPTZ, {c.lsn})"
            for t in tables for c in log.commits(t)]
    values = ", ".join(rows) or "(NULL, NULL, NULL, NULL)"
    engine.execute("CREATE OR REPLACE VIEW lake_versions AS SELECT * FROM (VALUES " + values +
                   ") v(table_name, version, commit_time, committed_lsn) WHERE table_name IS NOT NULL")
