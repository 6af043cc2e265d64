"""Helpers shared by the capture tests: settings, reading the raw zone back, rebuilding a table."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from autocorp.capture import slot as slots
from autocorp.lake import layout
from autocorp.lake.checkpoint import Checkpoint, read_checkpoint
from autocorp.lake.storage import Storage
from autocorp.settings import CaptureSettings, LakeSettings, Settings
from autocorp.source.connect import connection

META = ("Op", "_commit_ts", "_lsn", "_seq", "_xid", "_unchanged")


def make_settings(tmp_path: Path, **capture: Any) -> Settings:
    """Settings with a lake under ``tmp_path`` and slot/publication names unique to the test."""
    name = f"cap_{uuid.uuid4().hex[:10]}"
    cfg = {"slot": name, "publication": name, "flush_interval_s": 0.2, "heartbeat_s": 2.0, **capture}
    return Settings(env="dev", home=tmp_path / "home", lake=LakeSettings(root=str(tmp_path / "lake")),
                    capture=CaptureSettings(**cfg))


def storage_of(settings: Settings) -> Storage:
    return Storage(settings.lake_root)


def execute(dsn: str, *statements: str, params: tuple[Any, ...] | None = None) -> None:
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql, params)


def query(dsn: str, sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def committed_files(storage: Storage, cp: Checkpoint, schema: str, table: str) -> list[str]:
    """The files a reader may use, per docs/raw-zone.md."""
    out = []
    for rel in storage.list_files(layout.raw_table_dir(schema, table), ".parquet"):
        lsn = layout.cdc_file_lsn(rel)
        if layout.is_load_file(rel) and cp.load_complete or lsn is not None and lsn <= cp.lsn:
            out.append(rel)
    return out


def raw_rows(settings: Settings, table: str, schema: str = "public") -> list[dict[str, Any]]:
    """Every committed raw row of a table as dicts, ordered by (_lsn, _seq)."""
    storage = storage_of(settings)
    cp = read_checkpoint(storage, settings.slot_name)
    assert cp is not None, "capture wrote no checkpoint"
    rows: list[dict[str, Any]] = []
    for rel in committed_files(storage, cp, schema, table):
        rows.extend(pq.read_table(storage.path(rel)).to_pylist())
    rows.sort(key=lambda r: (r["_lsn"], r["_seq"]))
    return rows


def file_table(settings: Settings, rel: str) -> pa.Table:
    return pq.read_table(storage_of(settings).path(rel))


def rebuild(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Apply the raw changes in order: the state a keyed merge would produce."""
    state: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        op = r["Op"]
        if op == "T":
            state.clear()
            continue
        key = tuple(r[k] for k in keys)
        if op == "D":
            state.pop(key, None)
            continue
        values = {k: v for k, v in r.items() if k not in META}
        for col in r["_unchanged"] or ():
            values[col] = state[key][col]
        state[key] = values
    return state


def source_state(dsn: str, table: str, keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cur.description]
        out = {}
        for row in cur.fetchall():
            rec = dict(zip(names, row, strict=True))
            out[tuple(rec[k] for k in keys)] = rec
        return out


def checkpoint_json(settings: Settings) -> dict[str, Any]:
    data = storage_of(settings).read_bytes(layout.checkpoint_file(settings.slot_name))
    assert data is not None
    return json.loads(data)


def cleanup_slot(dsn: str, settings: Settings) -> None:
    slots.drop_slot(dsn, settings.slot_name)
