"""Where things live in the lake. The one module that knows the zone layout (see docs/raw-zone.md)."""

from __future__ import annotations

import re
from datetime import datetime

RAW = "raw"
CURATED = "curated"
LOGS = "logs"

_CDC_NAME = re.compile(r"^(\d{8}T\d{12})-([0-9A-F]{16})\.parquet$")
_LOAD_NAME = re.compile(r"^LOAD(\d{8})\.parquet$")


def lsn_to_int(text: str) -> int:
    """'16/B374D848' -> int."""
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def lsn_to_str(value: int) -> str:
    """int -> '16/B374D848' (PostgreSQL's pg_lsn text form)."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def raw_table_dir(schema: str, table: str) -> str:
    return f"{RAW}/database/{schema}/{table}"


def load_file(schema: str, table: str, number: int) -> str:
    """DMS-style full-load file name: LOAD00000001.parquet, LOAD00000002..."""
    return f"{raw_table_dir(schema, table)}/LOAD{number:08d}.parquet"


def cdc_file(schema: str, table: str, commit_time: datetime, lsn: int) -> str:
    """CDC file: DMS date folders, named by the commit time and commit LSN of the file's last change."""
    t = commit_time
    stamp = t.strftime("%Y%m%dT%H%M%S%f")
    return f"{raw_table_dir(schema, table)}/{t:%Y/%m/%d}/{stamp}-{lsn:016X}.parquet"


def cdc_file_lsn(rel: str) -> int | None:
    """The commit LSN a CDC file name carries (highest in the file), or None if not a CDC file."""
    m = _CDC_NAME.match(rel.rsplit("/", 1)[-1])
    return int(m.group(2), 16) if m else None


def is_load_file(rel: str) -> bool:
    return _LOAD_NAME.match(rel.rsplit("/", 1)[-1]) is not None


def checkpoint_file(slot: str) -> str:
    return f"{RAW}/_checkpoints/{slot}.json"


def schema_history_dir(schema: str, table: str) -> str:
    return f"{RAW}/_schemas/{schema}/{table}"


def curated_table(table: str) -> str:
    return f"{CURATED}/{table}"


def log_dir(stage: str) -> str:
    return f"{LOGS}/{stage}"


def curated_app_id(pipeline: str, table: str) -> str:
    """Delta application-transaction id under which curate records a table's committed source LSN."""
    return f"{pipeline}:{table}"


def curated_load_app_id(pipeline: str, table: str) -> str:
    """Delta application-transaction id recording the snapshot LSN of the full load a table was built from."""
    return f"{pipeline}:{table}:load"
