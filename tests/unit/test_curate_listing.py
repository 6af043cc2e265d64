"""Curate lists only the raw date folders that can hold unmerged changes, not the table's whole history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from test_curate_rawzone import RawZone, item, make_curate

from autocorp.curate.rawfiles import load_files
from autocorp.lake import layout
from autocorp.lake.rawzone import committed_cdc_files
from autocorp.lake.storage import Storage

DAY0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class CountingHandler(pafs.FileSystemHandler):
    """A local filesystem that records every folder listed, recursive listings apart."""

    def __init__(self) -> None:
        self.fs = pafs.LocalFileSystem()
        self.listed: list[str] = []
        self.recursive: list[str] = []

    def get_file_info_selector(self, selector: pafs.FileSelector) -> Any:
        (self.recursive if selector.recursive else self.listed).append(selector.base_dir)
        return self.fs.get_file_info(selector)

    def get_type_name(self) -> str:
        return "counting"

    def equals(self, other: Any) -> bool:
        return other is self

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> Any:
        return self.fs.get_file_info(paths)

    def create_dir(self, path: str, recursive: bool) -> None:
        self.fs.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.fs.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError

    def delete_file(self, path: str) -> None:
        self.fs.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.fs.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.fs.copy_file(src, dest)

    def open_input_stream(self, path: str) -> Any:
        return self.fs.open_input_stream(path)

    def open_input_file(self, path: str) -> Any:
        return self.fs.open_input_file(path)

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        return self.fs.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        return self.fs.open_append_stream(path, metadata=metadata)


def count_listings(storage: Storage) -> CountingHandler:
    """Route ``storage``'s file access through a counting handler; returns the handler."""
    handler = CountingHandler()
    storage.fs = pafs.PyFileSystem(handler)
    return handler


def day_folders(handler: CountingHandler) -> set[str]:
    """The ``YYYY/MM/DD`` folders of table ``items`` that were listed."""
    tails = (p.split("/items/", 1)[1] for p in handler.listed if "/items/" in p)
    return {t for t in tails if t.count("/") == 2}


@pytest.fixture()
def zone(tmp_path: Path) -> RawZone:
    z = RawZone(tmp_path / "lake")
    z.define("items")
    return z


def write_cdc(zone: RawZone, when: datetime) -> int:
    """One committed-looking CDC file of ``items`` whose last commit is at ``when``; returns its LSN."""
    zone.lsn += 0x100
    rec = {"Op": "I", "_commit_ts": when, "_lsn": zone.lsn, "_seq": 0, "_xid": 1, "_unchanged": None,
           **item(zone.lsn)}
    rows = pa.Table.from_pylist([rec], schema=zone._file_schema("items"))
    zone.storage.write_parquet(layout.cdc_file("public", "items", when, zone.lsn), rows)
    return zone.lsn


def write_days(zone: RawZone, start: datetime, days: int, per_day: int = 2) -> list[int]:
    """``per_day`` CDC files on each of ``days`` consecutive days; returns their LSNs in order."""
    return [write_cdc(zone, start + timedelta(days=d, minutes=i)) for d in range(days) for i in range(per_day)]


def test_old_date_folders_are_not_listed(zone: RawZone) -> None:
    lsns = write_days(zone, DAY0, days=6)  # 2026-11-20 .. 2026-11-25
    handler = count_listings(zone.storage)
    files = committed_cdc_files(zone.storage, "public", "items", above=lsns[-3], upto=lsns[-1])
    assert [f.lsn for f in files] == lsns[-2:]
    # the committed LSN lies on 11-24: that day, the one before (skew) and the newer one; nothing older
    assert day_folders(handler) == {"2026/11/23", "2026/11/24", "2026/11/25"}
    assert handler.recursive == [], "no recursive listing of the table folder"


def test_every_folder_is_listed_while_nothing_is_merged(zone: RawZone) -> None:
    lsns = write_days(zone, DAY0, days=4)
    handler = count_listings(zone.storage)
    files = committed_cdc_files(zone.storage, "public", "items", above=zone.snapshot_lsn, upto=lsns[-1])
    assert [f.lsn for f in files] == lsns
    assert len(day_folders(handler)) == 4


def test_months_and_years_are_walked_newest_first(zone: RawZone) -> None:
    old = write_days(zone, datetime(2025, 3, 1, tzinfo=UTC), days=2)
    merged = write_cdc(zone, datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    newer = write_days(zone, datetime(2027, 1, 1, 0, 30, tzinfo=UTC), days=2)
    handler = count_listings(zone.storage)
    files = committed_cdc_files(zone.storage, "public", "items", above=merged, upto=newer[-1])
    assert [f.lsn for f in files] == newer
    assert day_folders(handler) == {"2026/12/31", "2027/01/01", "2027/01/02"}
    assert not any("/2025" in p for p in handler.listed), f"a 2025 folder was listed (old: {old})"


def test_skewed_commit_time_across_midnight_is_found(zone: RawZone) -> None:
    """A later LSN whose commit time is a little earlier lands in the previous day's folder: still listed."""
    merged = write_cdc(zone, datetime(2026, 11, 25, 0, 0, 0, 5000, tzinfo=UTC))
    skewed = write_cdc(zone, datetime(2026, 11, 24, 23, 59, 59, 990000, tzinfo=UTC))
    files = committed_cdc_files(zone.storage, "public", "items", above=merged, upto=skewed)
    assert [f.lsn for f in files] == [skewed]


def test_files_above_the_checkpoint_are_ignored(zone: RawZone) -> None:
    lsns = write_days(zone, DAY0, days=2)
    files = committed_cdc_files(zone.storage, "public", "items", above=lsns[0], upto=lsns[2])
    assert [f.lsn for f in files] == lsns[1:3]


def test_load_files_do_not_list_date_folders(zone: RawZone) -> None:
    zone.load("items", [item(i) for i in range(5)], per_file=2)
    write_days(zone, DAY0, days=3)
    handler = count_listings(zone.storage)
    paths = load_files(zone.storage, "public", "items")
    assert [p.rsplit("/", 1)[1] for p in paths] == ["LOAD00000001.parquet", "LOAD00000002.parquet",
                                                    "LOAD00000003.parquet"]
    assert handler.listed == [zone.storage.path(layout.raw_table_dir("public", "items"))]
    assert handler.recursive == []


def test_curate_runs_list_only_recent_folders(tmp_path: Path) -> None:
    """Through ``Curate``: after a merge, the next run lists the newest days only and merges what is new."""
    curate = make_curate(tmp_path)
    zone = RawZone(tmp_path / "lake", storage=curate.storage)
    zone.define("items")
    zone.load("items", [item(0)])
    write_days(zone, DAY0, days=5)  # 11-20 .. 11-24
    zone.checkpoint()
    first = curate.run_once()
    assert first.ok and first.tables[0].changes == 1 + 10  # the LOAD row, then 10 CDC changes
    write_days(zone, DAY0 + timedelta(days=5), days=1)  # 11-25
    zone.checkpoint()
    handler = count_listings(curate.storage)
    report = curate.run_once()
    assert report.ok and report.tables[0].changes == 2
    assert day_folders(handler) == {"2026/11/23", "2026/11/24", "2026/11/25"}
    assert not any(p.endswith("/items") for p in handler.recursive)
