"""The deltalake (delta-rs) adapter: the only curate module that imports ``deltalake``.

Every curate commit carries a Delta application transaction (``txn``: app id -> source commit
LSN) and ``autocorp.*`` commit metadata. Commits never retry inside delta-rs
(``max_commit_retries=0``): if another writer committed first, ours fails and the caller re-reads
the table's LSN before trying again, so a batch can never land in two versions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pds
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake  # noqa: TID251
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError  # noqa: TID251

from autocorp.curate.dedupe import KEEP_PREFIX, Changes
from autocorp.errors import CurateConflict, CurateError

CHANGE_COLUMNS = ("_lsn", "_commit_ts")


@dataclass(frozen=True)
class CommitSpec:
    """What a curate commit records: ``txn`` (app id, LSN) and commit metadata.

    Attributes:
        load: a second ``txn`` (app id, snapshot LSN) naming the full load the table is built from;
            set by the commits that (re)build a table from LOAD files.
    """

    app_id: str
    lsn: int
    metadata: Mapping[str, Any]
    load: tuple[str, int] | None = None

    def properties(self) -> CommitProperties:
        txns = [Transaction(self.app_id, self.lsn)]
        if self.load is not None:
            txns.append(Transaction(*self.load))
        return CommitProperties(custom_metadata=dict(self.metadata), max_commit_retries=0, app_transactions=txns)


@dataclass(frozen=True)
class MergeOutcome:
    """Result of one merge commit."""

    version: int
    inserted: int
    updated: int
    deleted: int
    added_columns: tuple[str, ...]


class CuratedTable:
    """One Delta table of the curated zone, opened lazily."""

    def __init__(self, uri: str, storage_options: Mapping[str, str]) -> None:
        self.uri = uri
        self.options = dict(storage_options)
        self._dt: DeltaTable | None = None

    def load(self) -> bool:
        """(Re)read the table's log; False when no table exists yet."""
        try:
            self._dt = DeltaTable(self.uri, storage_options=self.options)
        except TableNotFoundError:
            self._dt = None
        except DeltaError as exc:
            raise CurateError(f"cannot open Delta table {self.uri}: {exc}; check the lake storage") from exc
        return self._dt is not None

    @property
    def table(self) -> DeltaTable:
        if self._dt is None and not self.load():
            raise CurateError(f"Delta table {self.uri} does not exist yet: run `autocorp curate`")
        assert self._dt is not None
        return self._dt

    def version(self) -> int:
        return int(self.table.version())

    def committed_lsn(self, app_id: str) -> int | None:
        """The source LSN recorded under ``app_id`` in the table's ``txn`` actions (None: never)."""
        value = self.table.transaction_version(app_id)
        return None if value is None else int(value)

    def columns(self) -> list[str]:
        return [f.name for f in self.table.schema().fields]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(self.table.schema().to_arrow())

    def create(self, data: pa.RecordBatchReader, commit: CommitSpec, configuration: Mapping[str, str],
               partition_by: Sequence[str] | None = None) -> int:
        """Create the table from ``data`` as version 0 with ``commit`` recorded.

        Raises:
            CurateConflict: someone else created the table meanwhile.
        """
        try:
            write_deltalake(self.uri, data, mode="error", configuration=dict(configuration),
                            partition_by=list(partition_by) if partition_by else None,
                            storage_options=self.options, commit_properties=commit.properties())
        except (CommitFailedError, DeltaError) as exc:
            if "already exists" in str(exc).lower() or isinstance(exc, CommitFailedError):
                raise CurateConflict(f"{self.uri} was created by another writer meanwhile; rerun curate") from exc
            raise CurateError(f"cannot create Delta table {self.uri}: {exc}") from exc
        self.load()
        return self.version()

    def rebuild(self, data: pa.RecordBatchReader, commit: CommitSpec) -> int:
        """Replace the table's rows and schema with ``data`` in one commit; earlier versions stay readable.

        The overwrite is based on the version read by :meth:`load` and never retried, so a commit
        that landed meanwhile makes it fail instead of being silently replaced.

        Raises:
            CurateConflict: another commit landed since :meth:`load`; reload and retry.
            CurateError: delta-rs refused the write.
        """
        try:
            write_deltalake(self.table, data, mode="overwrite", schema_mode="overwrite",
                            commit_properties=commit.properties())
        except CommitFailedError as exc:
            raise CurateConflict(f"another writer committed to {self.uri} meanwhile ({exc}); rerun curate") from exc
        except DeltaError as exc:
            raise CurateError(f"cannot rebuild Delta table {self.uri}: {exc}; check the lake storage") from exc
        self.load()
        return self.version()

    def merge(self, changes: Changes, key: Sequence[str], commit: CommitSpec) -> MergeOutcome:
        """Apply ``changes`` (latest change per key) in one MERGE commit.

        Raises:
            CurateConflict: another commit landed since :meth:`load`; reload and retry.
            CurateError: delta-rs refused the merge.
        """
        target_schema = self.arrow_schema()
        target_cols = target_schema.names
        source = _with_dropped_columns(changes.rows, target_schema)
        src_cols = [c for c in source.column_names if c != "Op" and not c.startswith(KEEP_PREFIX)]
        added = tuple(c for c in src_cols if c not in target_cols)
        merger = self.table.merge(
            source, " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in key), source_alias="s", target_alias="t",
            merge_schema=bool(added), commit_properties=commit.properties())
        merger = merger.when_matched_delete("s.\"Op\" = 'D'")
        merger = merger.when_matched_update(_update_exprs(src_cols, changes.keep_columns),
                                            "s.\"Op\" <> 'D'")
        merger = merger.when_not_matched_insert({_q(c): f"s.{_q(c)}" for c in src_cols}, "s.\"Op\" <> 'D'")
        if changes.truncate:
            merger = merger.when_not_matched_by_source_delete()
        metrics = self._execute(merger)
        return MergeOutcome(self.version(), int(metrics.get("num_target_rows_inserted", 0)),
                            int(metrics.get("num_target_rows_updated", 0)),
                            int(metrics.get("num_target_rows_deleted", 0)), added)

    def _execute(self, merger: Any) -> dict[str, Any]:
        try:
            metrics = merger.execute()
        except CommitFailedError as exc:
            raise CurateConflict(f"another writer committed to {self.uri} meanwhile ({exc}); rerun curate") from exc
        except DeltaError as exc:
            raise CurateError(f"merge into {self.uri} failed: {exc}") from exc
        self.load()
        return dict(metrics)

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        return list(self.table.history(limit))


def delta_compatible(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every field nullable and types Delta lacks (time, decimal256) as strings."""
    fields = []
    for f in schema:
        t = f.type
        if pa.types.is_time(t) or pa.types.is_decimal256(t):
            t = pa.string()
        fields.append(pa.field(f.name, t, nullable=True, metadata=f.metadata))
    return pa.schema(fields)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _with_dropped_columns(source: pa.Table, target: pa.Schema) -> pa.Table:
    """Add the target columns the source no longer has, as nulls: a dropped source column stays, empty."""
    for f in target:
        if f.name not in source.column_names:
            source = source.append_column(pa.field(f.name, f.type), pa.nulls(source.num_rows, f.type))
    return source


def _update_exprs(src_cols: Sequence[str], keep: Sequence[str]) -> dict[str, str]:
    """SET list of the matched update: the source value, or the stored one for an unsent TOAST value."""
    exprs = {}
    for c in src_cols:
        if c in keep:
            exprs[_q(c)] = f"CASE WHEN s.{_q(KEEP_PREFIX + c)} THEN t.{_q(c)} ELSE s.{_q(c)} END"
        else:
            exprs[_q(c)] = f"s.{_q(c)}"
    return exprs


# -- whole-table operations (maintenance, models) -----------------------------------------------


@contextmanager
def _delta_errors(uri: str, action: str) -> Iterator[None]:
    """Turn delta-rs errors into CurateError naming the table and what failed."""
    try:
        yield
    except CommitFailedError as exc:
        raise CurateConflict(f"cannot {action} {uri}: another writer committed meanwhile ({exc}); rerun") from exc
    except (DeltaError, OSError) as exc:
        raise CurateError(f"cannot {action} {uri}: {exc}; check the lake storage") from exc


def _open(uri: str, storage_options: Mapping[str, str], version: int | None = None) -> DeltaTable:
    return DeltaTable(uri, version=version, storage_options=dict(storage_options))


def table_exists(uri: str, storage_options: Mapping[str, str]) -> bool:
    return bool(DeltaTable.is_deltatable(uri, storage_options=dict(storage_options)))


def table_version(uri: str, storage_options: Mapping[str, str]) -> int | None:
    """Current version of the table, or None when it does not exist."""
    try:
        return int(_open(uri, storage_options).version())
    except TableNotFoundError:
        return None


def read_dataset(uri: str, storage_options: Mapping[str, str], version: int | None = None) -> pds.Dataset:
    """A lazily scanned pyarrow dataset of the table (optionally at ``version``)."""
    with _delta_errors(uri, "read"):
        return _open(uri, storage_options, version).to_pyarrow_dataset()


def overwrite_table(uri: str, storage_options: Mapping[str, str], data: pa.Table | pa.RecordBatchReader,
                    metadata: Mapping[str, Any], configuration: Mapping[str, str]) -> int:
    """Replace the table's content and schema in one commit; returns the new version."""
    with _delta_errors(uri, "write"):
        write_deltalake(uri, data, mode="overwrite", schema_mode="overwrite", configuration=dict(configuration),
                        storage_options=dict(storage_options),
                        commit_properties=CommitProperties(custom_metadata=dict(metadata)))
        return int(_open(uri, storage_options).version())


def last_commit_metadata(uri: str, storage_options: Mapping[str, str]) -> dict[str, Any]:
    """commitInfo of the table's latest commit ({} when the table does not exist)."""
    if not table_exists(uri, storage_options):
        return {}
    with _delta_errors(uri, "read the history of"):
        history = _open(uri, storage_options).history(1)
    return dict(history[0]) if history else {}


def compact(uri: str, storage_options: Mapping[str, str], target_size: int) -> dict[str, Any]:
    """Rewrite small files into files of about ``target_size`` bytes."""
    with _delta_errors(uri, "compact"):
        return dict(_open(uri, storage_options).optimize.compact(target_size=target_size))


def vacuum(uri: str, storage_options: Mapping[str, str], retention_hours: int) -> list[str]:
    """Delete files no version younger than ``retention_hours`` needs; returns the deleted paths."""
    with _delta_errors(uri, "vacuum"):
        dt = _open(uri, storage_options)
        return list(dt.vacuum(retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False))


def checkpoint(uri: str, storage_options: Mapping[str, str]) -> int:
    """Write a log checkpoint at the current version and drop log files past the log retention."""
    with _delta_errors(uri, "checkpoint"):
        dt = _open(uri, storage_options)
        dt.create_checkpoint()
        dt.cleanup_metadata()
        return int(dt.version())
