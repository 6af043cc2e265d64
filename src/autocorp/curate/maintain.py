"""``autocorp curate --optimize``: compact small files, vacuum past the retention window, checkpoint the log.

Maintenance commits carry no ``txn``: a table's committed LSN survives them unchanged, and a
conflicting curate merge simply retries on the new version.
"""

from __future__ import annotations

from collections.abc import Sequence

from autocorp.curate import merge
from autocorp.curate.report import MaintenanceReport
from autocorp.errors import CurateError
from autocorp.lake import layout
from autocorp.lake.storage import Storage
from autocorp.settings import CurateSettings


def maintain_tables(storage: Storage, tables: Sequence[str], settings: CurateSettings) -> list[MaintenanceReport]:
    """Compact, vacuum and checkpoint each curated table in ``tables``; failures are reported per table."""
    return [maintain_table(storage, t, settings) for t in tables]


def maintain_table(storage: Storage, table: str, settings: CurateSettings) -> MaintenanceReport:
    """Compact ``curated/<table>`` to the target file size, vacuum with ``retention_days``, checkpoint."""
    uri, opts = storage.uri(layout.curated_table(table)), storage.storage_options()
    rep = MaintenanceReport(table)
    try:
        metrics = merge.compact(uri, opts, settings.target_file_size)
        rep.files_removed = int(metrics.get("numFilesRemoved", 0))
        rep.files_added = int(metrics.get("numFilesAdded", 0))
        rep.vacuumed = len(merge.vacuum(uri, opts, settings.retention_days * 24))
        rep.checkpoint_version = merge.checkpoint(uri, opts)
    except CurateError as exc:
        rep.error = str(exc)
    return rep
