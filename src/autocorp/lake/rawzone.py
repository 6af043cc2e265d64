"""Listing the raw zone's CDC files (docs/raw-zone.md), shared by curate and the query layer.

Only the date folders (``YYYY/MM/DD``) that can hold unmerged changes are listed, so the cost
of finding them does not grow with a table's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow.fs as pafs

from autocorp.errors import LakeError
from autocorp.lake import layout
from autocorp.lake.storage import Storage


@dataclass(frozen=True)
class RawFile:
    """One committed CDC file: its path relative to the lake root and the commit LSN in its name."""

    path: str
    lsn: int

    @property
    def time(self) -> datetime:
        """Commit time of the file's last change (from its name)."""
        name = self.path.rsplit("/", 1)[-1]
        return datetime.strptime(name[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)


def committed_cdc_files(storage: Storage, schema: str, table: str, above: int, upto: int) -> list[RawFile]:
    """CDC files of a table with ``above < file LSN <= upto``, in commit-LSN order.

    Lists only the date folders (``YYYY/MM/DD``) that can hold such files, so the cost does not grow
    with the table's history: the folders are walked newest first, down to the newest one holding a
    file at or below ``above`` (an already merged change: the day of the table's committed LSN), plus
    the calendar day before it, because commit times of neighbouring LSNs may straddle midnight or be
    skewed. This assumes a later commit LSN never carries a commit time more than a day earlier.
    """
    out = []
    for rel in _cdc_candidates(storage, layout.raw_table_dir(schema, table), above):
        lsn = layout.cdc_file_lsn(rel)
        if lsn is not None and above < lsn <= upto:
            out.append(RawFile(rel, lsn))
    return sorted(out, key=lambda f: (f.lsn, f.path))


def _cdc_candidates(storage: Storage, base: str, above: int) -> list[str]:
    """Files of the date folders from the day before the newest one holding an LSN <= ``above`` onward.

    Walks years, months and days newest first and never lists a year or month wholly before that day.
    """
    files: list[str] = []
    floor: date | None = None
    for year in _numbered_dirs(storage, base, 4):
        if floor is not None and int(year) < floor.year:
            break
        for month in _numbered_dirs(storage, f"{base}/{year}", 2):
            if floor is not None and (int(year), int(month)) < (floor.year, floor.month):
                break
            for day in _numbered_dirs(storage, f"{base}/{year}/{month}", 2):
                when = _calendar_day(year, month, day)
                if when is None:
                    continue
                if floor is not None and when < floor:
                    break
                folder = f"{base}/{year}/{month}/{day}"
                names = [f"{folder}/{name}" for name, is_dir in list_dir(storage, folder) if not is_dir]
                files += names
                lsns = (layout.cdc_file_lsn(n) for n in names)
                if floor is None and any(lsn is not None and lsn <= above for lsn in lsns):
                    floor = when - timedelta(days=1)
    return files


def _calendar_day(year: str, month: str, day: str) -> date | None:
    """The date a ``YYYY/MM/DD`` folder stands for (None: not a calendar day, so not a folder capture wrote)."""
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _numbered_dirs(storage: Storage, rel: str, width: int) -> list[str]:
    """Sub-folders of ``rel`` named by ``width`` digits, highest first."""
    names = [n for n, is_dir in list_dir(storage, rel) if is_dir and len(n) == width and n.isdigit()]
    return sorted(names, reverse=True)


def list_dir(storage: Storage, rel: str) -> list[tuple[str, bool]]:
    """``(name, is_dir)`` of the entries directly in ``rel`` (none when it does not exist), temp files skipped.

    Raises:
        LakeError: the lake storage cannot be listed.
    """
    selector = pafs.FileSelector(storage.path(rel), recursive=False, allow_not_found=True)
    try:
        infos = storage.fs.get_file_info(selector)
    except OSError as exc:
        raise LakeError(f"cannot list {storage.uri(rel)}: {exc}; check the lake storage") from exc
    return [(i.base_name, i.type == pafs.FileType.Directory) for i in infos
            if i.type in (pafs.FileType.File, pafs.FileType.Directory) and not i.base_name.startswith(".tmp-")]
