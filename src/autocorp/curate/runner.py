"""``Curate``: raw zone -> curated Delta tables, exactly once, one merge per batch.

Where a table's next batch starts is read back from the table itself (its Delta ``txn`` for the
app id ``<pipeline>:<table>``), never from side files. A crash before, during or after a commit
therefore neither repeats nor skips a change: an unfinished commit leaves only unreferenced data
files (removed by vacuum), a finished one moves the table's LSN with it atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from autocorp.curate import maintain, models
from autocorp.curate.dedupe import latest_changes
from autocorp.curate.merge import CommitSpec, CuratedTable, delta_compatible
from autocorp.curate.rawfiles import (
    RawBatch,
    iter_batches,
    load_files,
    read_files,
    table_columns,
)
from autocorp.curate.report import CurateReport, ModelReport, TableReport
from autocorp.curate.state import record_run
from autocorp.errors import AutocorpError, CurateConflict, CurateError
from autocorp.lake import layout
from autocorp.lake.checkpoint import Checkpoint, read_checkpoint
from autocorp.lake.rawzone import committed_cdc_files
from autocorp.lake.storage import Storage, lake_storage
from autocorp.settings import Settings

Hook = Callable[[str, str], None]
"""Called as ``hook(point, table)`` at ``before_write`` and ``after_commit`` (tests inject crashes here)."""

CHANGE_COLUMNS = ("_lsn", "_commit_ts")
CONFLICT_RETRIES = 3


class Curate:
    """The curate stage for one environment's settings."""

    def __init__(self, settings: Settings, *, storage: Storage | None = None, hook: Hook | None = None) -> None:
        self.settings = settings
        self.storage = storage or lake_storage(settings)
        self.pipeline = settings.slot_name
        self._hook: Hook = hook or (lambda point, table: None)

    def run_once(self, optimize: bool = False, build_models: bool | None = None) -> CurateReport:
        """Merge every committed raw change into the curated tables, then rebuild the models.

        Per-table failures are reported (``TableReport.error``), not raised, so one bad table
        does not stop the others; ``report.ok`` tells whether everything succeeded.

        Args:
            optimize: also compact, vacuum and checkpoint every curated table.
            build_models: rebuild the analytics models (default: ``curate.models``).
        """
        t0 = time.monotonic()
        ckpt = read_checkpoint(self.storage, self.pipeline)
        report = CurateReport(self.pipeline, ckpt.lsn if ckpt else None)
        if ckpt is None:
            report.note = f"no capture checkpoint for '{self.pipeline}' yet: run `autocorp capture` first"
            return report
        report.tables = [self.curate_table(name, ckpt) for name in ckpt.tables]
        if self.settings.curate.models if build_models is None else build_models:
            report.models = models.build_models(self.storage, self.settings.curate)
        if optimize:
            names = [r.table for r in report.tables if r.version is not None]
            report.maintenance = maintain.maintain_tables(self.storage, names, self.settings.curate)
        report.seconds = round(time.monotonic() - t0, 3)
        record_run(self.storage, report)
        return report

    def build_models(self) -> list[ModelReport]:
        """Rebuild the analytics models whose inputs changed (``autocorp run`` does it on its own thread)."""
        return models.build_models(self.storage, self.settings.curate)

    def table_lsn(self, table: str) -> int | None:
        """The source LSN curated table ``table`` holds (None: not created yet)."""
        target = self._target(table)
        return target.committed_lsn(self.app_id(table)) if target.load() else None

    def app_id(self, table: str) -> str:
        return layout.curated_app_id(self.pipeline, table)

    def load_app_id(self, table: str) -> str:
        """The ``txn`` app id under which a table records the snapshot LSN of the full load it was built from."""
        return layout.curated_load_app_id(self.pipeline, table)

    def curate_table(self, qualified: str, ckpt: Checkpoint) -> TableReport:
        """Bring one table (``schema.table``) up to the checkpoint; errors end up in the report."""
        schema, _, table = qualified.rpartition(".")
        rep = TableReport(table)
        t0 = time.monotonic()
        for attempt in range(CONFLICT_RETRIES):
            try:
                self._curate(schema or "public", table, ckpt, rep)
                rep.error = None
                break
            except CurateConflict as exc:  # someone committed first: re-read the LSN and go again
                rep.status, rep.error = "failed", str(exc)
                time.sleep(0.05 * (attempt + 1))
            except AutocorpError as exc:
                rep.status, rep.error = "failed", str(exc)
                break
        rep.seconds = round(time.monotonic() - t0, 3)
        return rep

    # -- one table ------------------------------------------------------------------------------
    def _target(self, table: str) -> CuratedTable:
        return CuratedTable(self.storage.uri(layout.curated_table(table)), self.storage.storage_options())

    def _curate(self, schema: str, table: str, ckpt: Checkpoint, rep: TableReport) -> None:
        target = self._target(table)
        lsn = self._start(schema, table, ckpt, target, rep)
        if lsn is None:
            return
        files = committed_cdc_files(self.storage, schema, table, above=lsn, upto=ckpt.lsn)
        for batch in iter_batches(self.storage, files, self.settings.curate.batch_max_rows):
            lsn = self._merge_batch(table, target, batch, lsn, rep)
        rep.version, rep.lsn = target.version(), lsn
        if rep.status not in ("merged", "loaded", "reloaded"):
            rep.status = "current"

    def _start(self, schema: str, table: str, ckpt: Checkpoint, target: CuratedTable,
               rep: TableReport) -> int | None:
        """The LSN the table holds once it is built from the checkpoint's full load (None: wait for it).

        A table built from an older full load (``capture --resync`` took a new snapshot since) is
        rebuilt from the new LOAD files: changes made at the source while no slot recorded them
        exist in no CDC file, so merging alone could never catch them.
        """
        if not target.load():
            if not ckpt.load_complete:
                rep.status = "waiting"
                return None
            return self._create(schema, table, ckpt, target, rep)
        lsn = target.committed_lsn(self.app_id(table))
        if lsn is None:
            raise CurateError(
                f"{target.uri} exists but holds no commit of pipeline '{self.pipeline}': "
                "delete it to rebuild, or set capture.slot to the pipeline that wrote it")
        if not self._older_load(target, table, lsn, ckpt):
            return lsn
        if not ckpt.load_complete:  # never merge into a table whose reload is still being written
            rep.status, rep.version, rep.lsn = "waiting", target.version(), lsn
            return None
        return self._rebuild(schema, table, ckpt, target, rep)

    def _older_load(self, target: CuratedTable, table: str, lsn: int, ckpt: Checkpoint) -> bool:
        """True when the table was built from a full load other than the checkpoint's."""
        generation = target.committed_lsn(self.load_app_id(table))
        if generation is None:  # written before load generations were recorded: only a resync puts it behind
            return lsn < ckpt.snapshot_lsn
        return generation != ckpt.snapshot_lsn

    def _create(self, schema: str, table: str, ckpt: Checkpoint, target: CuratedTable,
                rep: TableReport) -> int | None:
        """Version 0 from the LOAD files (or empty, shaped like the first CDC file); its LSN is the snapshot's."""
        paths = load_files(self.storage, schema, table)
        if paths:
            data, counter = self._load_reader(paths)
        else:
            cdc = committed_cdc_files(self.storage, schema, table, above=-1, upto=ckpt.lsn)
            if not cdc:
                rep.status = "waiting"
                return None
            first = read_files(self.storage, [cdc[0].path]).rows
            data, counter = _reader(_curated_schema(first.schema), []), [0]
        commit = self._load_commit(table, ckpt, paths, data.schema, "load")
        self._hook("before_write", table)
        rep.version = target.create(data, commit, self._table_config())
        self._hook("after_commit", table)
        _count_load(rep, "loaded", paths, counter[0])
        return ckpt.snapshot_lsn

    def _rebuild(self, schema: str, table: str, ckpt: Checkpoint, target: CuratedTable, rep: TableReport) -> int:
        """One overwrite commit from the LOAD files (none: empty, shaped like the table); history stays."""
        paths = load_files(self.storage, schema, table)
        if paths:
            data, counter = self._load_reader(paths)
        else:
            data, counter = _reader(target.arrow_schema(), [])
        commit = self._load_commit(table, ckpt, paths, data.schema, "reload")
        self._hook("before_write", table)
        rep.version = target.rebuild(data, commit)
        self._hook("after_commit", table)
        _count_load(rep, "reloaded", paths, counter[0])
        return ckpt.snapshot_lsn

    def _load_commit(self, table: str, ckpt: Checkpoint, paths: list[str], schema: pa.Schema,
                     operation: str) -> CommitSpec:
        """A commit holding the full load at ``ckpt.snapshot_lsn``: the table's LSN and its load generation."""
        snap = ckpt.snapshot_lsn
        cols = [c for c in schema.names if c not in CHANGE_COLUMNS]
        return CommitSpec(self.app_id(table), snap, {
            "autocorp.operation": operation, "autocorp.lsn_from": snap, "autocorp.lsn_to": snap,
            "autocorp.raw_files": paths, "autocorp.columns": cols}, load=(self.load_app_id(table), snap))

    def _load_reader(self, paths: list[str]) -> tuple[pa.RecordBatchReader, list[int]]:
        dataset = pds.dataset([self.storage.path(p) for p in paths], filesystem=self.storage.fs, format="parquet")
        schema = _curated_schema(dataset.schema)
        return _reader(schema, dataset.to_batches(columns=schema.names))

    def _merge_batch(self, table: str, target: CuratedTable, batch: RawBatch, lsn: int, rep: TableReport) -> int:
        rows = batch.rows.filter(pc.greater(batch.rows.column("_lsn"), lsn))  # never re-apply a committed change
        changes = latest_changes(rows, batch.primary_key)
        changes = type(changes)(changes.rows.cast(delta_compatible(changes.rows.schema)), changes.keep_columns,
                                changes.truncate, changes.changes_in)
        commit = CommitSpec(self.app_id(table), batch.lsn_to, self._merge_metadata(target, batch, changes))
        self._hook("before_write", table)
        outcome = target.merge(changes, batch.primary_key, commit)
        self._hook("after_commit", table)
        if rep.status != "reloaded":  # a reload followed by merges still reports the reload
            rep.status = "merged"
        rep.commits, rep.files = rep.commits + 1, rep.files + len(batch.files)
        rep.changes += changes.changes_in
        rep.inserted += outcome.inserted
        rep.updated += outcome.updated
        rep.deleted += outcome.deleted
        rep.added_columns += list(outcome.added_columns)
        return batch.lsn_to

    def _merge_metadata(self, target: CuratedTable, batch: RawBatch, changes: Any) -> dict[str, Any]:
        columns = table_columns(batch.last_columns)
        before = _previous_columns(target)
        meta: dict[str, Any] = {
            "autocorp.operation": "merge", "autocorp.lsn_from": batch.lsn_from, "autocorp.lsn_to": batch.lsn_to,
            "autocorp.raw_files": list(batch.files), "autocorp.columns": columns,
            "autocorp.rows": {"changes": changes.changes_in, "keys": changes.rows.num_rows,
                              "truncate": changes.truncate},
        }
        added = [c for c in columns if c not in before]
        dropped = [c for c in before if c not in columns]
        if added or dropped:
            meta["autocorp.schema_changes"] = {"added": added, "dropped": dropped}
        return meta

    def _table_config(self) -> dict[str, str]:
        cfg = self.settings.curate
        return {
            "delta.enableChangeDataFeed": "true",
            "delta.targetFileSize": str(cfg.target_file_size),
            "delta.deletedFileRetentionDuration": f"interval {cfg.retention_days} days",
            "delta.logRetentionDuration": f"interval {cfg.retention_days} days",
        }


def _count_load(rep: TableReport, status: str, paths: list[str], rows: int) -> None:
    """Account one load commit of ``rows`` rows read from ``paths`` in the report."""
    rep.status, rep.commits, rep.files = status, rep.commits + 1, rep.files + len(paths)
    rep.changes += rows
    rep.inserted += rows


def _previous_columns(target: CuratedTable) -> list[str]:
    """Source columns recorded by the latest curate commit (maintenance commits carry none)."""
    for commit in target.history(50):
        cols = commit.get("autocorp.columns")
        if isinstance(cols, list):
            return [str(c) for c in cols]
    return [c for c in target.columns() if c not in CHANGE_COLUMNS]


def _curated_schema(raw: pa.Schema) -> pa.Schema:
    """Table columns, then ``_lsn`` and ``_commit_ts``, in Delta-compatible nullable types."""
    names = table_columns(raw.names)
    return delta_compatible(pa.schema([raw.field(n) for n in names + list(CHANGE_COLUMNS)]))


def _reader(schema: pa.Schema, batches: Any) -> tuple[pa.RecordBatchReader, list[int]]:
    """A reader casting ``batches`` to ``schema`` and counting rows into the returned one-element list."""
    counter = [0]

    def gen() -> Any:
        for b in batches:
            counter[0] += b.num_rows
            yield b.cast(schema)

    return pa.RecordBatchReader.from_batches(schema, gen()), counter
