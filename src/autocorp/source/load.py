"""Load the seed CSV files into the source database: parts, services, mappings, then a customer sample.

Customers are loaded the way the design's ``upload_customers.py`` did: a seeded random sample
(default 1,150 rows) of ``customers.csv``; a sampled row whose email already appeared earlier in
the sample is skipped and reported as a duplicate. With the generator's files and the same seed
this ends with 1,149 customers (see ``source.customers`` for why).

Loading is idempotent: rows whose key is already in the database are left alone
(``ON CONFLICT DO NOTHING``) and counted as ``already_present``, not as duplicates. All files are
read and validated before the database is touched, and everything is loaded in one transaction,
so a rejected file leaves no table half-loaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autocorp.errors import DataFileError, SchemaError
from autocorp.source.connect import PgError, connection, execute_values
from autocorp.source.seedfiles import (
    CUSTOMERS,
    PARTS,
    SERVICE_PARTS,
    SERVICES,
    FileLine,
    FileSpec,
    OnError,
    SeedFile,
    read_seed_file,
    sample_indices,
)

Progress = Callable[[str, int, int], None]  # (table, rows done, rows total)
MAX_REPORTED = 100  # problem lines kept per table in the report
_BATCH = 100
_OPTIONAL = {"phone", "street", "city", "zip"}  # customer columns where an empty value means NULL
_KEYS: dict[str, tuple[str, ...]] = {
    PARTS.table: ("sku",), SERVICES.table: ("serviceid",), SERVICE_PARTS.table: ("serviceid", "sku"),
    CUSTOMERS.table: ("email",),
}


@dataclass(frozen=True)
class TableLoad:
    """How one seed file went into its table.

    ``records`` data rows in the file; ``selected`` rows chosen (all, or the customer sample);
    ``bad_lines`` malformed lines skipped; ``duplicates`` rows skipped because an earlier row had
    the same key; ``inserted`` new rows; ``already_present`` rows whose key the table already held.
    ``problems`` lists the first skipped lines with the reason.
    """

    table: str
    file: str
    records: int
    selected: int
    bad_lines: int
    duplicates: int
    inserted: int
    already_present: int
    problems: tuple[FileLine, ...] = ()


@dataclass(frozen=True)
class LoadReport:
    """The result of ``load_seed_data``: one ``TableLoad`` per table, in load order."""

    data_dir: str
    seed: int
    sample: int
    on_error: str
    tables: tuple[TableLoad, ...]
    seconds: float


def load_seed_data(
    dsn: str,
    data_dir: Path,
    *,
    on_error: OnError = "fail",
    sample: int = 1150,
    seed: int = 42,
    progress: Progress | None = None,
) -> LoadReport:
    """Load ``auto-parts.csv``, ``auto-service.csv``, ``service-parts.csv`` and a customer sample.

    Raises:
        DataFileError: a file is missing, unreadable or has the wrong columns; or, with
            ``on_error="fail"``, a line is malformed, repeats a key or names an unknown part or
            service. Nothing is loaded then.
        DatabaseUnavailable: the server cannot be reached.
        SchemaError: the tables are missing or reject a row (run ``autocorp db init``).
    """
    started = time.perf_counter()
    files = {spec.table: read_seed_file(data_dir / spec.name, spec, on_error=on_error)
             for spec in (PARTS, SERVICES, SERVICE_PARTS, CUSTOMERS)}
    report = progress or (lambda table, done, total: None)
    with connection(dsn) as conn, conn.cursor() as cur:
        loads = tuple(_load_table(cur, files[spec.table], sample, seed, on_error, report)
                      for spec in (PARTS, SERVICES, SERVICE_PARTS, CUSTOMERS))
    return LoadReport(str(data_dir), seed, sample, on_error, loads, round(time.perf_counter() - started, 3))


def _load_table(cur: Any, sf: SeedFile, sample: int, seed: int, on_error: OnError, progress: Progress) -> TableLoad:
    spec = sf.spec
    rows, lines, selected = _select(sf, sample, seed)
    rows, lines, dup = _drop_repeated_keys(sf, rows, lines, strict=spec is not CUSTOMERS, on_error=on_error)
    unknown: list[FileLine] = []
    if spec is SERVICE_PARTS:
        rows, lines, unknown = _drop_unknown_refs(cur, sf, rows, lines, on_error)
    inserted = _insert(cur, spec, rows, progress)
    problems = sorted([*sf.bad, *unknown, *dup], key=lambda p: p.line)
    return TableLoad(spec.table, str(sf.path), sf.records, selected, sf.bad_count + len(unknown),
                     len(dup), inserted, len(rows) - inserted, tuple(problems[:MAX_REPORTED]))


def _select(sf: SeedFile, sample: int, seed: int) -> tuple[list[tuple[str, ...]], list[int], int]:
    """The rows to offer (as tuples in column order) with their lines, and how many were chosen.

    For customers: the records at ``sample_indices(records, sample, seed)``; a sampled record that
    was a bad line is simply absent (it is already reported).
    """
    lines = sf.lines
    index = np.arange(len(lines))
    selected = len(lines)
    if sf.spec is CUSTOMERS:
        wanted = sample_indices(sf.records, sample, seed) + 2  # record i is line i + 2
        index = np.flatnonzero(np.isin(lines, wanted, assume_unique=True))
        selected = len(wanted)
    chosen = sf.rows.take(index)
    columns = [chosen.column(name).to_pylist() for name in sf.spec.column_names]
    rows = list(zip(*columns, strict=True)) if columns else []
    return rows, [int(x) for x in lines[index]], selected


def _drop_repeated_keys(
    sf: SeedFile, rows: list[tuple[str, ...]], lines: list[int], *, strict: bool, on_error: OnError
) -> tuple[list[tuple[str, ...]], list[int], list[FileLine]]:
    """Keep the first row of each key. A repeat is a bad line when ``strict`` (parts, services,
    mappings), and an expected, reported duplicate for customers."""
    positions = [sf.spec.column_names.index(k) for k in _KEYS[sf.spec.table]]
    first: dict[tuple[str, ...], int] = {}
    kept, kept_lines, repeats = [], [], []
    for row, line in zip(rows, lines, strict=True):
        key = tuple(row[p] for p in positions)
        if key in first:
            shown = "/".join(key)
            repeats.append(FileLine(str(sf.path), line, f"duplicate {'/'.join(_KEYS[sf.spec.table])} "
                                                        f"{shown} (first on line {first[key]})"))
            continue
        first[key] = line
        kept.append(row)
        kept_lines.append(line)
    if strict and repeats and on_error == "fail":
        _fail(repeats)
    return kept, kept_lines, repeats


def _drop_unknown_refs(
    cur: Any, sf: SeedFile, rows: list[tuple[str, ...]], lines: list[int], on_error: OnError
) -> tuple[list[tuple[str, ...]], list[int], list[FileLine]]:
    """Mappings must name a service and a part that exist (in the files just loaded or before)."""
    services = _column_values(cur, "SELECT serviceid FROM service")
    skus = _column_values(cur, "SELECT sku FROM auto_parts")
    kept: list[tuple[str, ...]] = []
    kept_lines: list[int] = []
    unknown: list[FileLine] = []
    for (serviceid, sku, quantity), line in zip(rows, lines, strict=True):
        if serviceid not in services:
            unknown.append(FileLine(str(sf.path), line, f"serviceid {serviceid} is in neither {SERVICES.name} "
                                                        "nor the database"))
        elif sku not in skus:
            unknown.append(FileLine(str(sf.path), line, f"sku {sku} is in neither {PARTS.name} nor the database"))
        else:
            kept.append((serviceid, sku, quantity))
            kept_lines.append(line)
    if unknown and on_error == "fail":
        _fail(unknown)
    return kept, kept_lines, unknown


def _column_values(cur: Any, sql: str) -> set[str]:
    try:
        cur.execute(sql)
    except PgError as exc:
        raise _schema_error(exc) from None
    return {r[0] for r in cur.fetchall()}


def _insert(cur: Any, spec: FileSpec, rows: Sequence[tuple[str, ...]], progress: Progress) -> int:
    """Insert in batches; rows whose key exists are skipped. Returns how many rows were new."""
    names = spec.column_names
    optional = [i for i, n in enumerate(names) if spec is CUSTOMERS and n in _OPTIONAL]
    sql = (f"INSERT INTO {spec.table} ({', '.join(names)}) VALUES %s "
           f"ON CONFLICT ({', '.join(_KEYS[spec.table])}) DO NOTHING RETURNING 1")
    inserted = 0
    progress(spec.table, 0, len(rows))
    for start in range(0, len(rows), _BATCH):
        batch = [tuple(None if (i in optional and v == "") else v for i, v in enumerate(row))
                 for row in rows[start:start + _BATCH]]
        try:
            inserted += len(execute_values(cur, sql, batch, page_size=_BATCH))
        except PgError as exc:
            raise _schema_error(exc) from None
        progress(spec.table, min(start + _BATCH, len(rows)), len(rows))
    return inserted


def _schema_error(exc: PgError) -> SchemaError:
    detail = (exc.pgerror or str(exc)).strip().splitlines()[0]
    return SchemaError(f"loading seed data failed: {detail}; run `autocorp db init` to create the schema "
                       "(nothing was loaded)")


def _fail(problems: list[FileLine]) -> None:
    more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
    raise DataFileError(f"{problems[0]}{more}; fix the file or load with --on-error skip to skip bad lines")
