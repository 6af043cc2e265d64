"""Real-time, read-optimized and time-travel views over a lake written per the zone contracts."""

from __future__ import annotations

import pyarrow as pa
import pytest
from query_lake import TestLake

from autocorp.errors import QueryError
from autocorp.query.session import LakeConfig, LakeSession
from autocorp.query.snapshot import LakeLog
from autocorp.query.timetravel import TimePoint, parse_time_point
from autocorp.settings import QuerySettings

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("qty", pa.int32())])


def ins(lsn: int, i: int, name: str, qty: int = 1, op: str = "I") -> dict:
    return {"Op": op, "_lsn": lsn, "id": i, "name": name, "qty": qty}


@pytest.fixture()
def lake(tmp_path) -> TestLake:
    lk = TestLake(str(tmp_path / "lake"))
    lk.define("items", SCHEMA, ["id"])
    first = [ins(100, 1, "a"), ins(100, 2, "b"), ins(100, 3, "c")]
    lk.write_cdc("items", first)
    lk.merge("items", first, 100)
    lk.checkpoint(100)
    return lk


def session(lake: TestLake, point: TimePoint | None = None) -> LakeSession:
    return LakeSession(LakeConfig(lake.storage, lake.pipeline, QuerySettings()), point, threads=1)


def rows(s: LakeSession, view: str) -> list[tuple]:
    return [tuple(r.values()) for r in s.run(f"SELECT id, name, qty FROM {view} ORDER BY id").to_pylist()]


def add_unmerged(lake: TestLake) -> None:
    lake.write_cdc("items", [ins(200, 2, "b2", op="U"), {"Op": "D", "_lsn": 210, "id": 3}])
    lake.write_cdc("items", [ins(220, 4, "d")])
    lake.checkpoint(220)


def test_realtime_view_adds_unmerged_changes_and_drops_deletes(lake: TestLake) -> None:
    add_unmerged(lake)
    lake.write_cdc("items", [ins(300, 5, "uncommitted")])  # above the checkpoint: must stay invisible
    s = session(lake)
    assert rows(s, "items") == [(1, "a", 1), (2, "b2", 1), (4, "d", 1)]
    assert rows(s, "items_ro") == [(1, "a", 1), (2, "b", 1), (3, "c", 1)]
    assert rows(s, "autocorp_test.items") == rows(s, "items")


def test_refresh_sees_new_raw_file_and_merge(lake: TestLake) -> None:
    s = session(lake)
    assert rows(s, "items") == [(1, "a", 1), (2, "b", 1), (3, "c", 1)]
    add_unmerged(lake)
    s.refresh()
    assert rows(s, "items") == [(1, "a", 1), (2, "b2", 1), (4, "d", 1)]
    lake.merge("items", [ins(200, 2, "b2", op="U"), {"Op": "D", "_lsn": 210, "id": 3}, ins(220, 4, "d")], 220)
    snaps = s.refresh()
    assert snaps[0].committed_lsn == 220 and snaps[0].raw == []
    assert rows(s, "items") == rows(s, "items_ro") == [(1, "a", 1), (2, "b2", 1), (4, "d", 1)]


def test_unchanged_columns_come_from_the_delta_row(lake: TestLake) -> None:
    lake.write_cdc("items", [{"Op": "U", "_lsn": 230, "id": 1, "name": None, "qty": 7, "_unchanged": ["name"]}])
    lake.checkpoint(230)
    assert rows(session(lake), "items") == [(1, "a", 7), (2, "b", 1), (3, "c", 1)]


def test_truncate_hides_rows_before_it(lake: TestLake) -> None:
    lake.write_cdc("items", [{"Op": "T", "_lsn": 240}, ins(240, 9, "after")])
    lake.checkpoint(240)
    assert rows(session(lake), "items") == [(9, "after", 1)]


@pytest.mark.parametrize(("lsn", "expected"), [
    (100, [1, 2, 3]), (205, [1, 2, 3]), (210, [1, 2]), (220, [1, 2, 4]), (99, [])])
def test_lsn_time_travel(lake: TestLake, lsn: int, expected: list[int]) -> None:
    add_unmerged(lake)
    lake.merge("items", [ins(200, 2, "b2", op="U"), {"Op": "D", "_lsn": 210, "id": 3}, ins(220, 4, "d")], 220)
    s = session(lake, TimePoint(lsn=lsn))
    assert [r[0] for r in rows(s, "items")] == expected
    names = dict((r[0], r[1]) for r in rows(s, "items"))
    assert names.get(2) == ("b2" if lsn >= 200 else "b" if expected else None)


def test_as_of_time_and_version(lake: TestLake) -> None:
    add_unmerged(lake)
    v = lake.merge("items", [ins(200, 2, "b2", op="U")], 200)
    s = session(lake, TimePoint(as_of=lake.time_of(215)))
    assert [r[0] for r in rows(s, "items")] == [1, 2]
    s = session(lake, TimePoint(version=0, table="items"))
    assert rows(s, "items") == [(1, "a", 1), (2, "b", 1), (3, "c", 1)]
    assert s.run("SELECT version, committed_lsn FROM lake_versions ORDER BY version").to_pylist() == [
        {"version": 0, "committed_lsn": 100}, {"version": v, "committed_lsn": 200}]
    assert s.run("SELECT count(*) AS n FROM items_at_version(1)").to_pylist() == [{"n": 3}]


def test_raw_listing_skips_files_at_or_below_committed_lsn(lake: TestLake) -> None:
    add_unmerged(lake)
    log = LakeLog(lake.storage, lake.pipeline)
    assert [f.lsn for f in log.raw_files("items", above=100, upto=220)] == [210, 220]
    assert [f.lsn for f in log.raw_files("items", above=210, upto=215)] == []


def test_time_point_parsing() -> None:
    assert parse_time_point(lsn="1/10").lsn == (1 << 32) + 16
    with pytest.raises(QueryError):
        parse_time_point(lsn="1/10", as_of="2026-01-01")
    with pytest.raises(QueryError):
        parse_time_point(version=3)
    with pytest.raises(QueryError):
        parse_time_point(lsn="zz")


def optimize_and_drop_old_log(lake: TestLake, table: str) -> None:
    """What `curate --optimize` does: compact, checkpoint, remove JSON commits past the log retention."""
    dt = lake.delta(table)
    dt.alter.set_table_properties({"delta.logRetentionDuration": "interval 0 seconds"})
    dt.optimize.compact()
    dt.create_checkpoint()
    dt.cleanup_metadata()


def test_committed_lsn_survives_removed_log_files(lake: TestLake) -> None:
    changes = [ins(200, 2, "b2", op="U"), {"Op": "D", "_lsn": 210, "id": 3}]
    lake.write_cdc("items", changes)
    lake.merge("items", changes, 210)
    lake.checkpoint(210)
    optimize_and_drop_old_log(lake, "items")
    log_files = lake.storage.list_files("curated/items/_delta_log", ".json")
    assert not any(f.endswith("/00000000000000000000.json") for f in log_files), "the test needs removed commits"
    s = session(lake)
    snap = s.refresh()[0]
    # with an unknown LSN the raw insert of row 3 (LSN 100) would be re-applied over the Delta delete
    assert (snap.committed_lsn, snap.raw) == (210, [])
    assert rows(s, "items") == rows(s, "items_ro") == [(1, "a", 1), (2, "b2", 1)]
    lsns = s.run("SELECT committed_lsn FROM lake_versions ORDER BY version").column(0).to_pylist()
    assert lsns and set(lsns) == {210}


def test_time_travel_table_functions_match_the_lsn_and_as_of_sessions(lake: TestLake) -> None:
    add_unmerged(lake)
    lake.merge("items", [ins(200, 2, "b2", op="U"), {"Op": "D", "_lsn": 210, "id": 3}, ins(220, 4, "d")], 220)
    s = session(lake)
    for lsn in (99, 100, 205, 210, 220):
        assert rows(s, f"items_at_lsn({lsn})") == rows(session(lake, TimePoint(lsn=lsn)), "items")
    assert rows(s, "items_at_lsn('0/D2')") == rows(s, "items_at_lsn(210)") == [(1, "a", 1), (2, "b2", 1)]
    when = lake.time_of(215).isoformat()
    assert rows(s, f"items_as_of(TIMESTAMPTZ '{when}')") == rows(session(lake, TimePoint(as_of=lake.time_of(215))),
                                                                 "items")
    both = s.run("SELECT a.id AS old, b.id AS new, items_at_lsn.name FROM items_at_lsn(100) "
                 "JOIN items_at_lsn(220) AS b USING (id) "
                 "JOIN items_at_lsn(100) a USING (id) ORDER BY 1").to_pylist()
    assert [(r["old"], r["new"], r["name"]) for r in both] == [(1, 1, "a"), (2, 2, "b")]
    assert rows(s, "items") == [(1, "a", 1), (2, "b2", 1), (4, "d", 1)]  # the latest views are untouched
    assert rows(s, "ITEMS_At_Lsn(100)") == rows(s, "items_at_lsn(100)")


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT * FROM nope_at_lsn(1)", "no curated table 'nope'"),
    ("SELECT * FROM items_at_lsn(id)", "needs a literal argument"),
    ("SELECT * FROM items_at_lsn('yesterday')", "is not an LSN"),
    ("SELECT * FROM items_as_of('soon')", "is not a timestamp"),
    ("SELECT * FROM items_at_lsn(1, 2)", "takes one argument")])
def test_time_travel_table_functions_reject_bad_arguments(lake: TestLake, sql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        session(lake).run(sql)


def test_time_travel_table_functions_in_a_sandboxed_session(lake: TestLake) -> None:
    add_unmerged(lake)
    s = LakeSession(LakeConfig(lake.storage, lake.pipeline, QuerySettings()), sandboxed=True, threads=1)
    got = s.run("SELECT 'é ü' AS label, id FROM items_at_lsn('0/CD') ORDER BY id").to_pylist()
    assert got == [{"label": "é ü", "id": i} for i in (1, 2, 3)]


def _view_sql(s: LakeSession, view: str) -> str:
    found = s.engine.rows(f"SELECT sql FROM duckdb_views() WHERE view_name = '{view}' AND schema_name = 'main'")
    return str(found[0][0])


def test_ro_reads_the_version_files_directly_and_equals_delta_scan(lake: TestLake) -> None:
    from deltalake import write_deltalake

    wider = pa.table({"id": [7], "name": ["g"], "qty": pa.array([2], pa.int32()), "_lsn": [150],
                      "_commit_ts": pa.array([lake.time_of(150)], pa.timestamp("us", tz="UTC")), "colour": ["red"]})
    write_deltalake(lake.uri("items"), wider, mode="append", schema_mode="merge")  # a column added later
    s = session(lake)
    assert "read_parquet" in _view_sql(s, "items_ro")
    direct = s.run("SELECT * FROM items_ro ORDER BY id").to_pylist()
    scanned = s.run(f"SELECT * FROM delta_scan('{lake.uri('items')}') ORDER BY id").to_pylist()
    assert direct == scanned and [r["colour"] for r in direct] == [None, None, None, "red"]


def test_partitioned_tables_keep_delta_scan(tmp_path) -> None:
    from deltalake import write_deltalake

    lk = TestLake(str(tmp_path / "lake"))
    lk.define("items", SCHEMA, ["id"])
    lk.write_cdc("items", [ins(100, 1, "a")])
    write_deltalake(lk.uri("items"), pa.table({"id": [1], "name": ["a"], "qty": pa.array([1], pa.int32()),
                                               "_lsn": [100]}), partition_by=["name"])
    lk.checkpoint(100)
    s = session(lk)
    assert "delta_scan" in _view_sql(s, "items_ro") and "read_parquet" not in _view_sql(s, "items_ro")
    assert rows(s, "items") == [(1, "a", 1)]


def _three_file_lake(tmp_path, key_type: pa.DataType | None = None) -> TestLake:
    """``items`` as three Delta files holding ids 1-3, 11-13 and 21-23 (one merge each)."""
    key_type = key_type or pa.int64()
    lk = TestLake(str(tmp_path / "lake"))
    lk.define("items", pa.schema([("id", key_type), ("name", pa.string()), ("qty", pa.int32())]), ["id"])
    for lsn, first in ((100, 1), (110, 11), (120, 21)):
        batch = [ins(lsn, first + i, f"n{first + i}") for i in range(3)]
        if key_type == pa.string():
            batch = [{**c, "id": f"k{c['id']:02d}"} for c in batch]
        lk.write_cdc("items", batch)
        lk.merge("items", batch, lsn)
    lk.checkpoint(120)
    return lk


def _parts(s: LakeSession, view: str) -> list[str]:
    return _view_sql(s, view).split(" UNION ALL ")


def test_realtime_view_checks_only_the_files_a_change_can_be_in(tmp_path) -> None:
    lk = _three_file_lake(tmp_path)
    files = sorted(f.rsplit("/", 1)[-1] for f in lk.delta("items").file_uris())
    assert len(files) == 3
    lk.write_cdc("items", [ins(200, 12, "changed", op="U"), {"Op": "D", "_lsn": 200, "id": 22},
                           ins(200, 40, "new")])
    lk.checkpoint(200)
    s = session(lk)
    assert [r[:2] for r in rows(s, "items")] == [(1, "n1"), (2, "n2"), (3, "n3"), (11, "n11"), (12, "changed"),
                                                 (13, "n13"), (21, "n21"), (23, "n23"), (40, "new")]
    parts = _parts(s, "items")
    checked = [p for p in parts if "NOT EXISTS" in p]
    plain = [p for p in parts if "read_parquet" in p and "NOT EXISTS" not in p]
    first_file = next(f for f in files if f in plain[0])  # the file holding ids 1-3, which no change touches
    assert len(checked) == 1 and len(plain) == 1 and first_file not in checked[0]
    assert sum(f in checked[0] for f in files) == 2


def test_file_skipping_keeps_truncates_and_is_off_for_text_keys(tmp_path) -> None:
    lk = _three_file_lake(tmp_path)
    lk.write_cdc("items", [{"Op": "T", "_lsn": 200}, ins(200, 2, "after")])
    lk.checkpoint(200)
    assert rows(session(lk), "items") == [(2, "after", 1)]
    text = _three_file_lake(tmp_path / "text", pa.string())
    text.write_cdc("items", [{"Op": "D", "_lsn": 200, "id": "k12"}])
    text.checkpoint(200)
    s = session(text)
    assert [r["id"] for r in s.run("SELECT id FROM items ORDER BY id").to_pylist()] == \
        ["k01", "k02", "k03", "k11", "k13", "k21", "k22", "k23"]
    assert sum("NOT EXISTS" in p for p in _parts(s, "items")) == 1 and "items_ro" in _view_sql(s, "items")


def test_as_of_between_the_full_load_and_the_first_change_shows_the_snapshot(tmp_path) -> None:
    lk = TestLake(str(tmp_path / "lake"))
    lk.define("items", SCHEMA, ["id"])
    snapshot = [{"id": 1, "name": "a", "qty": 1}, {"id": 2, "name": "b", "qty": 1}]
    lk.write_load("items", snapshot, 100)
    lk.merge("items", [ins(100, r["id"], r["name"]) for r in snapshot], 100)  # curated later (commit time: now)
    lk.write_cdc("items", [ins(200, 3, "c")])
    lk.checkpoint(200, snapshot_lsn=100)
    before_load, between, after_change = lk.time_of(50), lk.time_of(150), lk.time_of(250)
    assert rows(session(lk, TimePoint(as_of=between)), "items") == [(1, "a", 1), (2, "b", 1)]
    assert rows(session(lk, TimePoint(as_of=after_change)), "items") == [(1, "a", 1), (2, "b", 1), (3, "c", 1)]
    with pytest.raises(QueryError, match="is before anything the lake holds .its full load was taken at"):
        session(lk, TimePoint(as_of=before_load))
    assert rows(session(lk), f"items_as_of('{between.isoformat()}')") == [(1, "a", 1), (2, "b", 1)]
