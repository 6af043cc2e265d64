"""One table (or one ctid range of it) read with ``COPY ... TO STDOUT (FORMAT csv)`` into Arrow columns.

``COPY`` -> an OS pipe -> pyarrow's streaming CSV reader. Only columns whose text can be empty are
quoted, so NULL is the only unquoted empty field and differs from the empty string. In *typed*
mode pyarrow parses numbers, booleans, dates, timestamps and text straight into the column's Arrow
type; any value it cannot parse (a BC date, ``infinity``, numeric ``NaN``) raises ``NotTyped`` and
the caller reads the table again as raw text for ``typemap``. The parsing, like the COPY itself,
runs without the GIL, so several ranges read in parallel threads use several cores.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from autocorp.capture.pgoutput import Relation
from autocorp.capture.typemap import column_type
from autocorp.errors import CaptureError
from autocorp.source.connect import PgError

_CSV_BLOCK = 4 << 20


class NotTyped(Exception):
    """pyarrow's CSV reader could not parse a value into its column's Arrow type."""


@dataclass(frozen=True)
class PageRange:
    """Heap pages ``[first, end)`` of a table (``end`` None: to the end); index orders the ranges."""

    index: int
    first: int
    end: int | None

    def where(self) -> str:
        """The ctid predicate (a TID Range Scan), empty for the whole table."""
        if self.first == 0 and self.end is None:
            return ""
        upper = f" AND ctid < '({self.end},0)'" if self.end is not None else ""
        return f" WHERE ctid >= '({self.first},0)'{upper}"


def page_count(cur: Any, rel: Relation) -> int:
    """Current number of heap pages of ``rel`` (never fewer than hold rows of an older snapshot)."""
    cur.execute("SELECT pg_relation_size(%s::oid) / current_setting('block_size')::int", (rel.oid,))
    return int(cur.fetchone()[0])


def split_pages(pages: int, parts: int, min_pages: int) -> list[PageRange]:
    """``parts`` ranges of about equal pages (one if the table is under ``parts * min_pages``).

    The last range is open-ended, so pages added after ``pages`` was read are still covered.
    """
    parts = max(1, min(parts, pages // max(1, min_pages)))
    if parts == 1:
        return [PageRange(0, 0, None)]
    step = -(-pages // parts)
    return [PageRange(k, k * step, None if k == parts - 1 else (k + 1) * step) for k in range(parts)]


def csv_types(rel: Relation, typed: bool) -> dict[str, pa.DataType]:
    """Column -> the type pyarrow's CSV reader parses it into (binary: raw text for ``typemap``)."""
    out = {}
    for c in rel.columns:
        arrow_type = column_type(c).arrow_type
        out[c.name] = arrow_type if typed and _parses_as_csv(arrow_type) else pa.binary()
    return out


def _parses_as_csv(t: pa.DataType) -> bool:
    """pyarrow's CSV parser reads PostgreSQL's text of these exactly as ``typemap``'s casts do."""
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_date32(t)
            or pa.types.is_timestamp(t) or pa.types.is_decimal128(t) or t == pa.string())


def copy_sql(rel: Relation, pages: PageRange) -> str:
    """The COPY: only columns whose text can be empty are quoted (NULL is the unquoted empty field)."""
    cols = ", ".join(ident(c.name) for c in rel.columns)
    maybe_empty = [ident(c.name) for c in rel.columns if column_type(c).arrow_type == pa.string()]
    quote = f", FORCE_QUOTE ({', '.join(maybe_empty)})" if maybe_empty else ""
    return (f"COPY (SELECT {cols} FROM {ident(rel.schema)}.{ident(rel.table)}{pages.where()}) "
            f"TO STDOUT (FORMAT csv{quote})")


def copy_batches(cur: Any, rel: Relation, pages: PageRange, typed: bool) -> Generator[dict[str, pa.Array]]:
    """Stream ``pages`` of the table through a pipe into pyarrow; yields column-name -> arrays.

    Raises:
        NotTyped: (``typed``) a value did not parse into its column's Arrow type.
        CaptureError: the COPY failed or its output did not parse.
    """
    names = [c.name for c in rel.columns]
    sql = copy_sql(rel, pages)
    rfd, wfd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with io.BufferedWriter(io.FileIO(wfd, "wb"), 1 << 20) as out:
                cur.copy_expert(sql, out, size=1 << 20)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the reading thread
            failure.append(exc)

    producer = threading.Thread(target=produce, name=f"copy-{rel.table}-{pages.index}", daemon=True)
    producer.start()
    # buffered: a raw pipe read returns at most 64 KiB, and pyarrow would make each read a batch
    source = io.BufferedReader(io.FileIO(rfd, "rb"), _CSV_BLOCK)
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=names, block_size=_CSV_BLOCK),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=csv_types(rel, typed), null_values=[""], true_values=["t"], false_values=["f"],
                strings_can_be_null=True, quoted_strings_can_be_null=False),
        )
        for rb in reader:
            yield {n: rb.column(i) for i, n in enumerate(names)}
    except pa.ArrowInvalid as exc:
        if typed and "conversion error" in str(exc):
            raise NotTyped(str(exc)) from None
        if not failure and "Empty CSV" not in str(exc):
            raise CaptureError(f"cannot parse the snapshot of {rel.schema}.{rel.table}: {exc}") from None
    finally:
        source.close()
        producer.join()
    if failure:
        error = failure[0]
        if isinstance(error, PgError):
            raise CaptureError(f"reading {rel.schema}.{rel.table} from the snapshot failed: "
                               f"{str(error).strip()}; restart `autocorp capture`") from None
        raise error


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
