"""Result formats of the query commands: table, csv, json, parquet."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from autocorp.errors import QueryError

FORMATS = ("table", "csv", "json", "parquet")


def json_value(value: Any) -> Any:
    """A JSON-friendly form: decimals as strings keep their exact digits, times in ISO form."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def to_json(table: pa.Table) -> str:
    """Rows as a JSON array of objects."""
    return json.dumps(table.to_pylist(), default=json_value)


def to_csv(table: pa.Table) -> str:
    buf = io.BytesIO()
    pacsv.write_csv(_csv_safe(table), buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(table.column_names)
    return head.getvalue() + buf.getvalue().decode()


def _csv_safe(table: pa.Table) -> pa.Table:
    cols = [pa.array([None if v is None else json.dumps(v, default=json_value) for v in c.to_pylist()], pa.string())
            if pa.types.is_nested(c.type) else c for c in table.columns]
    return pa.table(cols, names=table.column_names)


def text_cells(table: pa.Table) -> list[list[str]]:
    """Rows as display strings (NULL shown as 'NULL')."""
    return [["NULL" if v is None else str(v) for v in row.values()] for row in table.to_pylist()]


def write_result(table: pa.Table, fmt: str, stream: TextIO, out_path: str | None = None) -> None:
    """Write ``table`` in ``fmt`` to ``stream`` (parquet needs ``out_path``).

    Raises:
        QueryError: unknown format or parquet without --out.
    """
    if fmt == "json":
        stream.write(to_json(table) + "\n")
    elif fmt == "csv":
        stream.write(to_csv(table))
    elif fmt == "parquet":
        if not out_path:
            raise QueryError("--format parquet writes a file: add --out result.parquet")
        pq.write_table(table, out_path)
    elif fmt == "table":
        from rich.console import Console
        from rich.table import Table

        t = Table(show_lines=False)
        for name in table.column_names:
            t.add_column(name)
        for row in text_cells(table):
            t.add_row(*row)
        Console(file=stream, highlight=False, width=None if stream.isatty() else 1000).print(t)
        stream.write(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})\n")
    else:
        raise QueryError(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")
