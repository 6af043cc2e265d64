"""What one curate run did: per table, per model, and maintenance."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TableReport:
    """One curated table after a run.

    Attributes:
        table: curated table name (source table without schema).
        status: ``merged`` (changes applied), ``loaded`` (created from the full load), ``reloaded``
            (rebuilt in one overwrite commit from the new full load of ``capture --resync``, then
            merged; earlier versions stay readable), ``current`` (nothing pending), ``waiting`` (full
            load not complete; an existing table is left untouched) or ``failed``.
        version: Delta version after the run (None: no table yet).
        lsn: committed source LSN after the run (None: no table yet).
        commits: Delta commits made by this run.
        files: raw files consumed.
        changes: raw change rows consumed.
        inserted, updated, deleted: target rows affected.
        added_columns: columns added by schema evolution.
        seconds: wall time spent on the table.
        error: why the table failed (status ``failed``).
    """

    table: str
    status: str = "current"
    version: int | None = None
    lsn: int | None = None
    commits: int = 0
    files: int = 0
    changes: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    added_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


@dataclass
class ModelReport:
    """One analytics model: ``built``, ``current`` (inputs unchanged), ``waiting`` or ``failed``."""

    model: str
    status: str
    version: int | None = None
    rows: int | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass
class MaintenanceReport:
    """``--optimize`` for one table: files compacted, files vacuumed, checkpoint version."""

    table: str
    files_removed: int = 0
    files_added: int = 0
    vacuumed: int = 0
    checkpoint_version: int | None = None
    error: str | None = None


@dataclass
class CurateReport:
    """Everything one ``Curate.run_once`` did."""

    pipeline: str
    checkpoint_lsn: int | None
    tables: list[TableReport] = field(default_factory=list)
    models: list[ModelReport] = field(default_factory=list)
    maintenance: list[MaintenanceReport] = field(default_factory=list)
    seconds: float = 0.0
    note: str | None = None

    @property
    def ok(self) -> bool:
        """No table, model or maintenance step failed."""
        return not any(t.error for t in self.tables) and not any(m.error for m in self.models) \
            and not any(m.error for m in self.maintenance)

    @property
    def changes(self) -> int:
        return sum(t.changes for t in self.tables)
