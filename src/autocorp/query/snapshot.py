"""What the lake holds at one moment: Delta versions with their committed source LSN, and raw CDC files.

Reads only metadata (``_delta_log`` JSON commits, the capture checkpoint, file names), never table data,
so a snapshot of every table costs a few small reads whatever the tables' size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow.parquet as pq

from autocorp.errors import QueryError
from autocorp.lake import layout
from autocorp.lake.checkpoint import read_checkpoint
from autocorp.lake.rawzone import RawFile, committed_cdc_files, list_dir
from autocorp.lake.storage import Storage

_LOG_DIR = "_delta_log"


@dataclass(frozen=True)
class DeltaCommit:
    """One Delta commit: version, commit time, and the committed source LSN after it (-1 if unknown)."""

    version: int
    timestamp: datetime
    lsn: int


class LakeLog:
    """Cached metadata reader; commit files are immutable, so each is parsed once per process."""

    def __init__(self, storage: Storage, pipeline: str) -> None:
        self.storage = storage
        self.pipeline = pipeline
        self._commits: dict[str, dict[int, tuple[datetime, int | None]]] = {}
        self._checkpoints: dict[tuple[str, int], int] = {}
        self._snapshot_times: dict[int, datetime | None] = {}

    # -- curated tables ------------------------------------------------------------
    def tables(self) -> list[str]:
        """Names of the curated Delta tables (folders under ``curated/`` holding a ``_delta_log``)."""
        return [name for name in _subdirs(self.storage, layout.CURATED)
                if self.storage.exists(f"{layout.curated_table(name)}/{_LOG_DIR}")]

    def commits(self, table: str) -> list[DeltaCommit]:
        """Every Delta commit of ``table`` still in the log (oldest first) with its committed LSN.

        The LSN is carried forward from the last commit holding the pipeline's ``txn``. When ``curate
        --optimize`` has removed the oldest JSON commits, the LSN the retained ones start from comes from the
        log checkpoint, which records every application's last ``txn``.

        Raises:
            QueryError: the table has no commits.
        """
        app_id = layout.curated_app_id(self.pipeline, table)
        cache = self._commits.setdefault(table, {})
        checkpoints: dict[int, list[str]] = {}
        for rel in self.storage.list_files(f"{layout.curated_table(table)}/{_LOG_DIR}"):
            name = rel.rsplit("/", 1)[-1]
            stem = name.split(".", 1)[0]
            if not stem.isdigit():
                continue
            if name.endswith(".json") and name.count(".") == 1 and int(stem) not in cache:
                cache[int(stem)] = _parse_commit(self.storage.read_bytes(rel) or b"", app_id)
            elif ".checkpoint." in name and name.endswith(".parquet"):
                checkpoints.setdefault(int(stem), []).append(rel)
        if not cache:
            raise QueryError(f"curated table {table} has no Delta commits: run `autocorp curate`")
        seed = None
        if 0 not in cache and checkpoints:
            newest = max(checkpoints)
            if (table, newest) not in self._checkpoints:
                self._checkpoints[(table, newest)] = _checkpoint_txn(self.storage, checkpoints[newest], app_id)
            seed = (newest, self._checkpoints[(table, newest)])
        lsns = _commit_lsns(cache, seed)
        return [DeltaCommit(v, cache[v][0], lsns[v]) for v in sorted(cache)]

    # -- raw zone -------------------------------------------------------------------
    def checkpoint_lsn(self) -> int:
        """The capture checkpoint LSN: raw CDC files above it are not committed (-1 without checkpoint)."""
        cp = read_checkpoint(self.storage, self.pipeline)
        return -1 if cp is None else cp.lsn

    def snapshot_point(self) -> tuple[int, datetime] | None:
        """The capture's full load: its snapshot LSN and the snapshot's time (LOAD rows' ``_commit_ts``);
        None while no complete load is in the raw zone."""
        cp = read_checkpoint(self.storage, self.pipeline)
        if cp is None or not cp.load_complete:
            return None
        if cp.snapshot_lsn not in self._snapshot_times:
            self._snapshot_times[cp.snapshot_lsn] = self._load_time()
        when = self._snapshot_times[cp.snapshot_lsn]
        return None if when is None else (cp.snapshot_lsn, when)

    def _load_time(self) -> datetime | None:
        for table in self.tables():
            schema = self.raw_schema(table)
            folder = layout.raw_table_dir(schema, table) if schema else None
            for name, is_dir in list_dir(self.storage, folder) if folder else ():
                if not is_dir and layout.is_load_file(name):
                    path = self.storage.path(f"{folder}/{name}")
                    with self.storage.fs.open_input_file(path) as fh:
                        first = pq.ParquetFile(fh).read_row_group(0, columns=["_commit_ts"]).column(0)
                    if len(first) and first[0].is_valid:
                        return first[0].as_py().astimezone(UTC)
        return None

    def raw_schema(self, table: str) -> str | None:
        """Source schema holding ``table`` in the raw zone (``public`` preferred; None: no raw files)."""
        schemas = _subdirs(self.storage, f"{layout.RAW}/database")
        for schema in sorted(schemas, key=lambda s: s != "public"):
            if self.storage.exists(layout.raw_table_dir(schema, table)):
                return schema
        return None

    def raw_files(self, table: str, above: int, upto: int) -> list[RawFile]:
        """Committed CDC files of ``table`` whose file LSN is in (``above``, ``upto``], oldest first.

        Only the unmerged tail of the raw zone is listed (``lake.rawzone.committed_cdc_files``).
        """
        schema = self.raw_schema(table)
        if schema is None or upto < 0:
            return []
        return committed_cdc_files(self.storage, schema, table, above, upto)

    def primary_key(self, raw: RawFile) -> list[str] | None:
        """Key columns recorded in a raw file's metadata (None when it records none)."""
        with self.storage.fs.open_input_file(self.storage.path(raw.path)) as fh:
            meta = pq.read_schema(fh).metadata or {}
        value = meta.get(b"autocorp.primary_key")
        return list(json.loads(value)) if value else None


def _parse_commit(data: bytes, app_id: str) -> tuple[datetime, int | None]:
    ts, txn = datetime.fromtimestamp(0, UTC), None
    for line in data.splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        if "commitInfo" in action and "timestamp" in action["commitInfo"]:
            ts = datetime.fromtimestamp(action["commitInfo"]["timestamp"] / 1000, UTC)
        elif "txn" in action and action["txn"].get("appId") == app_id:
            txn = int(action["txn"]["version"])
    return ts, txn


def _commit_lsns(commits: dict[int, tuple[datetime, int | None]], seed: tuple[int, int] | None) -> dict[int, int]:
    """Committed LSN after each version: the last ``txn`` at or before it, or the checkpoint's (``seed``).

    The checkpoint at version c fixes the LSN at c; it also holds for the retained versions just before c
    that no ``txn`` separates from it. Versions the log no longer explains get -1.
    """
    out, lsn = {}, -1
    for version in sorted(commits):
        txn = commits[version][1]
        if seed is not None and version == seed[0]:
            lsn = seed[1]
        lsn = txn if txn is not None else lsn
        out[version] = lsn
    if seed is not None and seed[0] in out:
        version = seed[0]
        while version - 1 in out and commits[version][1] is None:
            version -= 1
            out[version] = seed[1]
    return out


def _checkpoint_txn(storage: Storage, parts: list[str], app_id: str) -> int:
    """``app_id``'s txn version recorded in a log checkpoint (its parquet parts), -1 when it holds none."""
    lsn = -1
    for rel in parts:
        with storage.fs.open_input_file(storage.path(rel)) as fh:
            txns = pq.read_table(fh, columns=["txn"]).column("txn").to_pylist()
        lsn = max([lsn] + [int(t["version"]) for t in txns if t and t.get("appId") == app_id])
    return lsn


def _subdirs(storage: Storage, rel: str) -> list[str]:
    return sorted(name for name, is_dir in list_dir(storage, rel) if is_dir)
