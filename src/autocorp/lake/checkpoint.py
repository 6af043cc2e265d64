"""The capture checkpoint: the last commit whose changes are durable in the raw zone.

The one reader and writer of the checkpoint file, shared by capture (writes it), curate and
the query layer (read it).

Written atomically to ``raw/_checkpoints/<slot>.json`` (see docs/raw-zone.md) *after* the data
files it covers, and *before* the matching ``flush_lsn`` is reported to PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from autocorp.errors import LakeError
from autocorp.lake import layout
from autocorp.lake.storage import Storage


@dataclass(frozen=True)
class Checkpoint:
    """What the raw zone holds for one slot.

    Attributes:
        slot: replication slot name.
        lsn: commit LSN of the last transaction whose changes are all durable (0: none yet).
        snapshot_lsn: the slot's consistent point; LOAD rows carry it as ``_lsn``.
        load_complete: True once every LOAD file of every table is written.
        tables: ``schema.table`` names captured.
        end_lsn: end LSN of the commit record at ``lsn`` (what ``flush_lsn`` reports).
        last_commit_ts: ISO time of the commit at ``lsn`` (None before the first change).
        updated_at: ISO time the checkpoint was written.
    """

    slot: str
    lsn: int
    snapshot_lsn: int
    load_complete: bool
    tables: tuple[str, ...] = ()
    end_lsn: int = 0
    last_commit_ts: str | None = None
    updated_at: str = ""

    def advanced(self, lsn: int, end_lsn: int, commit_ts: datetime | None) -> Checkpoint:
        """A copy moved forward to the commit at ``lsn``."""
        ts = commit_ts.isoformat() if commit_ts is not None else self.last_commit_ts
        return replace(self, lsn=lsn, end_lsn=max(end_lsn, self.end_lsn), last_commit_ts=ts)


def read_checkpoint(storage: Storage, slot: str) -> Checkpoint | None:
    """The stored checkpoint of ``slot``, or None when capture never ran.

    Raises:
        LakeError: the file exists but is not a valid checkpoint.
    """
    rel = layout.checkpoint_file(slot)
    data = storage.read_bytes(rel)
    if data is None:
        return None
    try:
        raw = json.loads(data)
        return Checkpoint(
            slot=raw["slot"], lsn=int(raw["lsn"]), snapshot_lsn=int(raw["snapshot_lsn"]),
            load_complete=bool(raw["load_complete"]), tables=tuple(raw.get("tables", ())),
            end_lsn=int(raw.get("end_lsn", raw["lsn"])), last_commit_ts=raw.get("last_commit_ts"),
            updated_at=raw.get("updated_at", ""),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(
            f"checkpoint {storage.uri(rel)} is corrupt ({exc}): run `autocorp capture --resync` to start over"
        ) from exc


def write_checkpoint(storage: Storage, cp: Checkpoint) -> Checkpoint:
    """Atomically replace the checkpoint file; returns the checkpoint as written."""
    cp = replace(cp, updated_at=datetime.now(UTC).isoformat())
    body = asdict(cp)
    body["lsn_text"] = layout.lsn_to_str(cp.lsn)
    body["tables"] = list(cp.tables)
    storage.write_bytes(layout.checkpoint_file(cp.slot), json.dumps(body, indent=1).encode())
    return cp


def delete_checkpoint(storage: Storage, slot: str) -> None:
    storage.delete(layout.checkpoint_file(slot))
