"""Incremental reads: the Delta change data feed of a curated table (the design's ``_hoodie_commit_time > …``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from autocorp.errors import QueryError
from autocorp.lake.storage import Storage
from autocorp.query.deltatable import read_change_feed, table_schema
from autocorp.query.snapshot import LakeLog
from autocorp.query.timetravel import parse_lsn, parse_time

FEED_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")


@dataclass(frozen=True)
class Since:
    """Where an incremental read starts (exclusive): after a version, a time, or a source LSN."""

    version: int | None = None
    time: datetime | None = None
    lsn: int | None = None


def parse_since(text: str) -> Since:
    """``12`` or ``version:12`` -> version; ``0/16B3748`` or ``lsn:123`` -> LSN; otherwise a timestamp.

    Raises:
        QueryError: none of those forms.
    """
    text = text.strip()
    if text.startswith("lsn:"):
        return Since(lsn=parse_lsn(text[4:]))
    if text.startswith("version:"):
        text = text[8:]
    if text.isdigit():
        return Since(version=int(text))
    if re.fullmatch(r"[0-9A-Fa-f]+/[0-9A-Fa-f]+", text):
        return Since(lsn=parse_lsn(text))
    return Since(time=parse_time(text))


def read_changes(storage: Storage, pipeline: str, table: str, since: Since) -> pa.Table:
    """Change rows of ``table`` committed after ``since``, oldest first.

    Columns: the table's columns (with ``_lsn``, the source commit LSN, and ``_commit_ts``), then
    ``_change_type`` (insert, update_preimage, update_postimage, delete), ``_commit_version`` and
    ``_commit_timestamp`` (the Delta commit).

    Raises:
        QueryError: the table does not exist or has no change data feed.
    """
    log = LakeLog(storage, pipeline)
    if table not in log.tables():
        raise QueryError(f"no curated table '{table}' in the lake (tables: {', '.join(log.tables()) or 'none'})")
    commits = log.commits(table)
    start = _start_version(since, [(c.version, c.lsn) for c in commits])
    if start > commits[-1].version:
        return _empty(storage, table)
    data = read_change_feed(storage, table, start, since.time)
    return _filter(_plain_types(data), since)


def _start_version(since: Since, versions: list[tuple[int, int]]) -> int:
    if since.version is not None:
        return since.version + 1
    if since.lsn is not None:  # the first commit that can hold a change above the LSN
        return next((v for v, lsn in versions if lsn > since.lsn), versions[-1][0] + 1)
    return 0


def _filter(data: pa.Table, since: Since) -> pa.Table:
    if since.lsn is not None and "_lsn" in data.column_names:
        data = data.filter(pc.greater(data["_lsn"], since.lsn))
    if since.time is not None:
        data = data.filter(pc.greater(data["_commit_timestamp"], pa.scalar(since.time, data["_commit_timestamp"].type)))
    keys = [("_commit_version", "ascending")] + ([("_lsn", "ascending")] if "_lsn" in data.column_names else [])
    return data.sort_by(keys)


def _plain_types(data: pa.Table) -> pa.Table:
    """string_view -> string and ms timestamps -> us UTC, so every output format handles the columns."""
    fields = []
    for f in data.schema:
        typ = f.type
        if pa.types.is_string_view(typ) or pa.types.is_large_string(typ):
            typ = pa.string()
        elif f.name == "_commit_timestamp":
            typ = pa.timestamp("us", tz="UTC")
        elif f.name == "_commit_version":
            typ = pa.int64()
        fields.append(pa.field(f.name, typ))
    return data.cast(pa.schema(fields))


def _empty(storage: Storage, table: str) -> pa.Table:
    schema = table_schema(storage, table)
    extra = [pa.field("_change_type", pa.string()), pa.field("_commit_version", pa.int64()),
             pa.field("_commit_timestamp", pa.timestamp("us", tz="UTC"))]
    return _plain_types(pa.schema(list(schema) + extra).empty_table())
