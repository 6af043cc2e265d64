"""The seed CSV files: their names and columns, reading them with validation, and the customer sample.

Both the generator (``source.generate``) and the loader (``source.load``) use this module, so the
files they write and read cannot drift apart. Every problem is reported with file and line:

* a missing, unreadable or non-UTF-8 file, or a header without the expected column set, always
  raises ``DataFileError``;
* a malformed row (wrong column count, bad number, invalid email, ...) raises ``DataFileError``
  with ``on_error="fail"``; with ``on_error="skip"`` it is left out and listed in ``SeedFile.bad``.

Lines are physical file lines: the header is line 1, data record ``i`` (0-based) is line ``i + 2``.
Seed files never hold quoted newlines, so a record is always one line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from autocorp.errors import DataFileError

OnError = Literal["fail", "skip"]

SERVICE_CATEGORIES = (
    "Engine & Powertrain", "Transmission & Drivetrain", "Tires & Wheels", "Brakes", "Cooling System",
    "Electrical System", "HVAC", "Suspension & Steering", "General Preventive Maintenance",
    "Exhaust & Emissions", "Fluids & Filters",
)
ORDER_TYPES = ("Parts", "Service", "Mixed")
PAYMENT_METHODS = ("Credit Card", "Debit Card", "Cash", "Check", "Financing", "Gift Card")

# kind -> (RE2 pattern a valid value matches, what a valid value looks like)
_KINDS: dict[str, tuple[str, str]] = {
    "text": (r"^[^\x00]*\S[^\x00]*$", "a non-empty text"),
    "opt_text": (r"^[^\x00]*$", "a text without NUL bytes"),
    "sku": (r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$", "a SKU of 1-20 letters, digits, '.', '_' or '-'"),
    "serviceid": (r"^[0-9]{8}$", "an 8-digit service id"),
    "money": (r"^[0-9]{1,8}(\.[0-9]{1,2})?$", "an amount like 12.50"),
    "big_money": (r"^[0-9]{1,10}(\.[0-9]{1,2})?$", "an amount like 12.50"),
    "count": (r"^[0-9]{1,9}$", "a whole number >= 0"),
    "positive": (r"^0*[1-9][0-9]{0,8}$", "a whole number > 0"),
    "email": (r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an email address like name@example.com"),
    "state": (r"^[A-Z]{2}$", "a 2-letter state code"),
    "opt_zip": (r"^([0-9]{5}(-[0-9]{4})?)?$", "a ZIP code like 12345 or 12345-6789"),
    "invoice": (r"^INV-[0-9]{4}-[0-9]{1,12}$", "an invoice number like INV-2025-000001"),
    "timestamp": (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})$",
                  "an ISO timestamp with zone like 2025-01-31T12:00:00Z"),
}
_ENUMS: dict[str, tuple[str, ...]] = {
    "category": SERVICE_CATEGORIES,
    "order_type": ORDER_TYPES,
    "payment_method": PAYMENT_METHODS,
}


@dataclass(frozen=True)
class FileSpec:
    """One seed file: its name, the table it feeds and its ``(column, kind)`` pairs in file order."""

    name: str
    table: str
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]


PARTS = FileSpec("auto-parts.csv", "auto_parts", (
    ("sku", "sku"), ("name", "text"), ("category", "text"), ("brand", "text"),
    ("unit_price", "money"), ("cost", "money"), ("stock_quantity", "count")))
SERVICES = FileSpec("auto-service.csv", "service", (
    ("serviceid", "serviceid"), ("service", "text"), ("category", "category"),
    ("labor_minutes", "positive"), ("labor_cost", "money")))
SERVICE_PARTS = FileSpec("service-parts.csv", "service_parts", (
    ("serviceid", "serviceid"), ("sku", "sku"), ("quantity", "positive")))
CUSTOMERS = FileSpec("customers.csv", "customers", (
    ("first_name", "text"), ("last_name", "text"), ("email", "email"), ("phone", "opt_text"),
    ("street", "opt_text"), ("city", "opt_text"), ("state", "state"), ("zip", "opt_zip")))
SALES_ORDERS = FileSpec("sales_orders.csv", "sales_order", (
    ("invoice_number", "invoice"), ("customer_email", "email"), ("order_date", "timestamp"),
    ("order_type", "order_type"), ("payment_method", "payment_method"), ("total_amount", "big_money")))

SEED_FILES = (PARTS, SERVICES, SERVICE_PARTS, CUSTOMERS, SALES_ORDERS)


@dataclass(frozen=True)
class FileLine:
    """A line of a seed file that was not loaded, and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class SeedFile:
    """The valid rows of a seed file (all columns as strings) and what was wrong with the others."""

    path: Path
    spec: FileSpec
    rows: pa.Table
    lines: np.ndarray  # file line of each row in ``rows``
    records: int  # data records in the file, valid or not
    bad: tuple[FileLine, ...]  # the malformed lines (at most ~1,000 per column are itemised)
    bad_count: int = 0  # all malformed lines


def sample_indices(n_rows: int, k: int, seed: int) -> np.ndarray:
    """The record positions (0-based, ascending) of the seeded customer sample.

    The generator plants exactly one duplicate-email pair inside ``sample_indices(n, 1150, seed)``
    and the loader draws the same positions, which is how the default load ends with 1,149
    customers, as in the design. Draws ``min(k, n_rows)`` distinct positions.
    """
    rng = np.random.default_rng([seed, 0x5EED])
    k = max(0, min(k, n_rows))
    return np.sort(rng.choice(n_rows, size=k, replace=False)).astype(np.int64)


def read_seed_file(path: Path, spec: FileSpec, *, on_error: OnError = "fail") -> SeedFile:
    """Read and validate one seed file; every value stays a string.

    Raises:
        DataFileError: the file is missing, unreadable, not UTF-8 or has the wrong columns; or a row
            is malformed and ``on_error`` is ``"fail"``. The message names file and line.
    """
    header = _read_header(path, spec)
    table, broken = _parse(path, spec, header)
    lines = _line_numbers(table.num_rows, [b.line for b in broken])
    blank = _blank_rows(table)
    valid, problems = _validate(path, spec, table, lines, blank)
    bad = sorted(broken + problems, key=lambda b: b.line)
    bad_count = len(broken) + int((~valid).sum())
    if bad and on_error == "fail":
        more = f" ({bad_count - 1} more bad lines)" if bad_count > 1 else ""
        raise DataFileError(f"{bad[0]}{more}; fix the file or load with --on-error skip to skip bad lines")
    keep = np.asarray(valid) & ~blank
    rows = table.select(spec.column_names).filter(pa.array(keep))
    return SeedFile(path, spec, rows, lines[keep], table.num_rows + len(broken), tuple(bad), bad_count)


def _read_header(path: Path, spec: FileSpec) -> list[str]:
    try:
        with path.open("rb") as fh:
            first = fh.readline().decode("utf-8-sig").rstrip("\r\n")
        header = next(csv.reader([first]), None) if first else None
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found; run `autocorp source generate --out {path.parent}` "
                            "or pass --data with the folder that holds the seed files") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}:1: cannot read the file ({exc.__class__.__name__}: {exc}); "
                            "check its permissions and encoding (UTF-8)") from None
    expected = spec.column_names
    if header is None or sorted(header) != sorted(expected) or len(set(header)) != len(header):
        missing = [c for c in expected if c not in (header or [])]
        extra = [c for c in (header or []) if c not in expected]
        raise DataFileError(
            f"{path}:1: wrong columns {header or []} (missing {missing}, unexpected {extra}); "
            f"the header must name exactly: {','.join(expected)}")
    return header


def _parse(path: Path, spec: FileSpec, header: list[str]) -> tuple[pa.Table, list[FileLine]]:
    broken: list[FileLine] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        broken.append(FileLine(str(path), int(row.number or 0),
                               f"expected {row.expected_columns} columns, found {row.actual_columns}"))
        return "skip"

    try:
        # single-threaded so the invalid-row handler learns line numbers
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}),
        )
    except pa.ArrowInvalid as exc:
        line = _first_undecodable_line(path)
        where = f"{path}:{line}" if line else str(path)
        raise DataFileError(f"{where}: cannot parse the CSV ({exc}); fix the file (UTF-8, "
                            f"comma-separated, header {','.join(spec.column_names)})") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read the file ({exc}); check its permissions") from None
    return table, broken


def _first_undecodable_line(path: Path) -> int | None:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _line_numbers(n_rows: int, broken_lines: list[int]) -> np.ndarray:
    """File line of each parsed row: lines 2.. minus the lines the parser dropped as broken."""
    total = n_rows + len(broken_lines)
    all_lines = np.arange(2, total + 2, dtype=np.int64)
    return np.setdiff1d(all_lines, np.asarray(broken_lines, dtype=np.int64), assume_unique=True)


def _blank_rows(table: pa.Table) -> np.ndarray:
    """Rows that were blank lines (every field empty): ignored, not reported."""
    blank = np.ones(table.num_rows, dtype=bool)
    for col in table.columns:
        blank &= np.asarray(pc.equal(pc.utf8_length(col), 0).to_numpy(zero_copy_only=False), dtype=bool)
    return blank


def _validate(
    path: Path, spec: FileSpec, table: pa.Table, lines: np.ndarray, blank: np.ndarray
) -> tuple[np.ndarray, list[FileLine]]:
    valid = np.ones(table.num_rows, dtype=bool)
    problems: list[FileLine] = []
    for name, kind in spec.columns:
        col = table.column(name)
        ok = _check(col, kind) | blank
        if ok.all():
            continue
        what = _ENUMS[kind] if kind in _ENUMS else _KINDS[kind][1]
        for i in np.flatnonzero(~ok)[:1000]:
            if not valid[i]:
                continue  # one reason per line is enough
            problems.append(FileLine(str(path), int(lines[i]), f"{name} {col[int(i)].as_py()!r} is not {_fmt(what)}"))
        valid &= ok
    return valid, problems


def _check(col: pa.ChunkedArray, kind: str) -> np.ndarray:
    if kind in _ENUMS:
        mask = pc.is_in(col, value_set=pa.array(_ENUMS[kind]))
    else:
        mask = pc.match_substring_regex(col, _KINDS[kind][0])
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _fmt(what: str | tuple[str, ...]) -> str:
    return f"one of {', '.join(what)}" if isinstance(what, tuple) else what
