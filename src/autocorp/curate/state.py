"""What the curated zone holds right now, per table, and the record of the last curate run.

Everything is read from the lake: Delta logs (version, rows, committed LSN), the raw zone (changes
captured but not merged yet) and ``logs/curate/last_run.json`` (written after every run).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from autocorp.curate.merge import CuratedTable
from autocorp.curate.report import CurateReport
from autocorp.lake import layout
from autocorp.lake.checkpoint import Checkpoint, read_checkpoint
from autocorp.lake.rawzone import committed_cdc_files
from autocorp.lake.storage import Storage

LAST_RUN = f"{layout.log_dir('curate')}/last_run.json"


@dataclass(frozen=True)
class TableState:
    """One curated table as the lake has it.

    Attributes:
        table: source table name (without schema).
        version: Delta version (None: not created yet).
        rows: live rows, from the Delta log's file statistics.
        lsn: source commit LSN the table holds.
        committed_at: time of the table's latest Delta commit (ISO, UTC).
        pending_files: committed raw CDC files not merged yet.
        pending_changes: change rows in those files (from their Parquet footers).
        pending_bytes: WAL distance between the raw zone's checkpoint and the table's LSN.
        oldest_pending: commit time of the oldest source change not merged yet (ISO, UTC).
    """

    table: str
    version: int | None
    rows: int | None
    lsn: int | None
    committed_at: str | None
    pending_files: int
    pending_changes: int
    pending_bytes: int
    oldest_pending: str | None


def table_state(storage: Storage, pipeline: str, qualified: str, ckpt: Checkpoint) -> TableState:
    """The state of curated table ``schema.table`` relative to the capture checkpoint ``ckpt``."""
    schema, _, table = qualified.rpartition(".")
    target = CuratedTable(storage.uri(layout.curated_table(table)), storage.storage_options())
    if not target.load():
        return TableState(table, None, None, None, None, 0, 0, max(ckpt.lsn - ckpt.snapshot_lsn, 0), None)
    lsn = target.committed_lsn(layout.curated_app_id(pipeline, table))
    dt = target.table
    actions = pa.table(dt.get_add_actions(flatten=True))  # deltalake hands out arro3 tables
    rows = int(pc.sum(actions.column("num_records")).as_py() or 0) if actions.num_rows else 0
    last = dt.history(1)
    committed_at = _iso_ms(last[0].get("timestamp")) if last else None
    pending = committed_cdc_files(storage, schema or "public", table, above=lsn or -1, upto=ckpt.lsn)
    oldest = _min_commit_ts(storage, pending[0].path) if pending else None
    changes = sum(_footer_rows(storage, f.path) for f in pending)
    return TableState(table, int(dt.version()), rows, lsn, committed_at, len(pending), changes,
                      max(ckpt.lsn - (lsn or 0), 0) if pending else 0, oldest)


def _footer_rows(storage: Storage, rel: str) -> int:
    with storage.fs.open_input_file(storage.path(rel)) as fh:
        return int(pq.read_metadata(fh).num_rows)


def table_states(storage: Storage, pipeline: str) -> list[TableState]:
    """The state of every table the capture checkpoint of ``pipeline`` lists ([] before the first capture)."""
    ckpt = read_checkpoint(storage, pipeline)
    return [table_state(storage, pipeline, name, ckpt) for name in ckpt.tables] if ckpt else []


def _min_commit_ts(storage: Storage, rel: str) -> str | None:
    with storage.fs.open_input_file(storage.path(rel)) as fh:
        col = pq.read_table(fh, columns=["_commit_ts"]).column("_commit_ts")
    value = pc.min(col).as_py()
    return value.astimezone(UTC).isoformat() if value is not None else None


def _iso_ms(ms: Any) -> str | None:
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat() if ms is not None else None


def record_run(storage: Storage, report: CurateReport) -> None:
    """Keep the outcome of the latest run in the logs zone (``autocorp status`` shows it)."""
    body = {"finished_at": datetime.now(UTC).isoformat(), "ok": report.ok, **asdict(report)}
    storage.write_bytes(LAST_RUN, json.dumps(body, default=str).encode())


def last_run(storage: Storage) -> dict[str, Any] | None:
    """The record of the latest curate run, or None before the first."""
    data = storage.read_bytes(LAST_RUN)
    return json.loads(data) if data else None
