"""Which state of the lake a session shows: latest, as of a source LSN, as of a time, or one table's version.

Resolves a ``TimePoint`` into one ``TableSnapshot`` per curated table: the Delta version to read and the
raw CDC files whose changes are added on top of it. ``--lsn`` picks, per table, the greatest Delta version
whose committed LSN is <= the target and adds raw changes in (that LSN, target], so every table shows the
same source transaction boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from autocorp.errors import QueryError
from autocorp.lake import layout
from autocorp.query.snapshot import DeltaCommit, LakeLog, RawFile


@dataclass(frozen=True)
class TimePoint:
    """A requested lake state. At most one of ``lsn``, ``as_of``, ``version`` is set."""

    lsn: int | None = None
    as_of: datetime | None = None
    version: int | None = None
    table: str | None = None  # the table ``version`` applies to

    @property
    def is_latest(self) -> bool:
        return self.lsn is None and self.as_of is None and self.version is None


@dataclass(frozen=True)
class TableSnapshot:
    """One table as a session shows it."""

    name: str
    version: int
    committed_lsn: int
    exists: bool = True  # False: the table had no commit at or before the target
    raw: list[RawFile] = field(default_factory=list)
    upto_lsn: int = -1  # raw changes with _lsn in (committed_lsn, upto_lsn]
    upto_time: datetime | None = None  # and, for --as-of, _commit_ts <= upto_time


def parse_time_point(lsn: str | None = None, as_of: str | None = None, version: int | None = None,
                     table: str | None = None) -> TimePoint:
    """Build a ``TimePoint`` from CLI-style text.

    Raises:
        QueryError: more than one option, a malformed LSN or timestamp, or --version without a table.
    """
    if sum(v is not None for v in (lsn, as_of, version)) > 1:
        raise QueryError("use only one of --lsn, --as-of and --version")
    if version is not None and not table:
        raise QueryError("--version N applies to one table: add --table <name>")
    return TimePoint(lsn=parse_lsn(lsn) if lsn else None, as_of=parse_time(as_of) if as_of else None,
                     version=version, table=table)


def parse_lsn(text: str) -> int:
    """'16/B374D848' or a plain integer -> int.

    Raises:
        QueryError: not an LSN.
    """
    try:
        return layout.lsn_to_int(text) if "/" in text else int(text)
    except ValueError:
        raise QueryError(f"'{text}' is not an LSN: use PostgreSQL's form like 16/B374D848") from None


def parse_time(text: str) -> datetime:
    """ISO timestamp (UTC when no zone is given).

    Raises:
        QueryError: not a timestamp.
    """
    try:
        ts = datetime.fromisoformat(text.strip().replace(" ", "T", 1) if "T" not in text else text.strip())
    except ValueError:
        raise QueryError(f"'{text}' is not a timestamp: use ISO form like 2026-11-26T07:00:00") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def resolve(log: LakeLog, point: TimePoint) -> list[TableSnapshot]:
    """One snapshot per curated table for ``point``.

    Raises:
        QueryError: an unknown table or version, or a target the lake cannot serve.
    """
    checkpoint = log.checkpoint_lsn()
    tables = log.tables()
    if point.table and point.table not in tables:
        raise QueryError(f"no curated table '{point.table}' in the lake (tables: {', '.join(tables) or 'none'})")
    if point.as_of is not None:
        target = lsn_at_time(log, tables, point.as_of, checkpoint)
        if target is None:
            snaps = [_by_commit_time(log, t, point.as_of) for t in tables]
            if tables and not any(s.exists for s in snaps):
                raise QueryError(f"{point.as_of.isoformat()} is before anything the lake holds ({_earliest(log)}): "
                                 "pick a later time")
            return snaps
        return [_at_lsn(log, t, target, checkpoint, point.as_of) for t in tables]
    if point.lsn is not None:
        return [_at_lsn(log, t, point.lsn, checkpoint, None) for t in tables]
    out = []
    for t in tables:
        if point.version is not None and t == point.table:
            out.append(_at_version(log, t, point.version))
        else:
            out.append(_at_lsn(log, t, checkpoint, checkpoint, None))
    return out


def _at_lsn(log: LakeLog, table: str, target: int, checkpoint: int, upto_time: datetime | None) -> TableSnapshot:
    commits = log.commits(table)
    usable = [c for c in commits if c.lsn <= target]
    base = usable[-1] if usable else commits[0]
    lsn = base.lsn if usable else -1
    files = log.raw_files(table, above=lsn, upto=checkpoint)
    kept: list[RawFile] = []
    for f in files:  # a file holds changes up to its name's LSN/time: keep the first one reaching the target
        kept.append(f)
        if (f.time > upto_time) if upto_time else (f.lsn >= target):
            break
    upto = checkpoint if upto_time else min(target, checkpoint)
    return TableSnapshot(table, base.version, lsn, bool(usable), kept, upto, upto_time)


def _at_version(log: LakeLog, table: str, version: int) -> TableSnapshot:
    commits = {c.version: c for c in log.commits(table)}
    if version not in commits:
        raise QueryError(f"table {table} has no version {version} (versions {min(commits)}..{max(commits)})")
    return TableSnapshot(table, version, commits[version].lsn)


def _by_commit_time(log: LakeLog, table: str, when: datetime) -> TableSnapshot:
    commits = log.commits(table)
    usable = [c for c in commits if c.timestamp <= when]
    base: DeltaCommit = usable[-1] if usable else commits[0]
    return TableSnapshot(table, base.version, base.lsn, bool(usable))


def _earliest(log: LakeLog) -> str:
    snapshot = log.snapshot_point()
    return f"its full load was taken at {snapshot[1].isoformat()}" if snapshot else "no full load is complete yet"


def lsn_at_time(log: LakeLog, tables: list[str], when: datetime, checkpoint: int) -> int | None:
    """The highest committed file LSN written at or before ``when`` (None when the raw zone has none).

    File names carry the commit time of their last change, so the result is a lower bound of the source
    LSN at ``when``; the caller adds the rest with a ``_commit_ts <= when`` row filter. A full load taken
    at or before ``when`` counts as a file at the snapshot LSN (the time before the first CDC file).
    """
    snapshot = log.snapshot_point()
    best: int | None = snapshot[0] if snapshot is not None and snapshot[1] <= when else None
    for t in tables:
        commits = log.commits(t)
        floor = max((c.lsn for c in commits if c.timestamp <= when), default=-1)
        for f in log.raw_files(t, above=floor, upto=checkpoint):
            if f.time <= when:
                best = max(best or -1, f.lsn)
        if floor >= 0:
            best = max(best or -1, floor)
    return best
