"""The hard cases of capture (issue 3, item 5) and slot safety (item 6), against a real PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from test_capture_support import (
    cleanup_slot,
    execute,
    file_table,
    make_settings,
    query,
    raw_rows,
    rebuild,
    source_state,
    storage_of,
)

from autocorp.capture import slot as slots
from autocorp.capture.runner import Capture
from autocorp.capture.status import capture_status
from autocorp.errors import MissingPrimaryKeyError, SlotLostError
from autocorp.lake import layout
from autocorp.settings import EmbeddedSettings, Settings
from autocorp.source import embedded


def _cdc_files(settings: Settings, table: str) -> list[str]:
    files = storage_of(settings).list_files(layout.raw_table_dir("public", table), ".parquet")
    return [f for f in files if layout.cdc_file_lsn(f) is not None]


def test_unchanged_toast_is_marked_or_filled_never_null(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    big = "x" * 200_000  # stored out of line (TOAST), so an UPDATE not touching it sends 'u'
    for t in ("tdef", "tfull"):
        execute(dsn, f"CREATE TABLE {t} (id int PRIMARY KEY, n int, doc text)")
        execute(dsn, f"ALTER TABLE {t} ALTER COLUMN doc SET STORAGE EXTERNAL")
    execute(dsn, "ALTER TABLE tfull REPLICA IDENTITY FULL")
    Capture(settings, dsn).run()
    for t in ("tdef", "tfull"):
        execute(dsn, f"INSERT INTO {t} VALUES (1, 0, %s)", params=(big,))
        execute(dsn, f"UPDATE {t} SET n = 1 WHERE id = 1")
    Capture(settings, dsn).run()
    upd_def = [r for r in raw_rows(settings, "tdef") if r["Op"] == "U"]
    assert len(upd_def) == 1 and upd_def[0]["_unchanged"] == ["doc"] and upd_def[0]["doc"] is None
    assert rebuild(raw_rows(settings, "tdef"), ["id"])[(1,)]["doc"] == big
    upd_full = [r for r in raw_rows(settings, "tfull") if r["Op"] == "U"]
    assert len(upd_full) == 1 and upd_full[0]["doc"] == big and not upd_full[0]["_unchanged"]


def test_delete_under_default_identity_carries_only_the_key(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE d (a int, b text, c int, PRIMARY KEY (a, b))", "INSERT INTO d VALUES (1, 'k', 7)")
    Capture(settings, dsn).run()
    execute(dsn, "DELETE FROM d")
    Capture(settings, dsn).run()
    dels = [r for r in raw_rows(settings, "d") if r["Op"] == "D"]
    assert [(r["a"], r["b"], r["c"]) for r in dels] == [(1, "k", None)]
    assert json.loads(file_table(settings, _cdc_files(settings, "d")[0]).schema.metadata[b"autocorp.primary_key"]) \
        == ["a", "b"]


def test_key_update_deletes_the_old_key(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE k (id int PRIMARY KEY, v text)", "INSERT INTO k VALUES (1, 'a'), (2, 'b')")
    Capture(settings, dsn).run()
    execute(dsn, "UPDATE k SET id = 10 WHERE id = 1")
    Capture(settings, dsn).run()
    assert rebuild(raw_rows(settings, "k"), ["id"]) == source_state(dsn, "k", ["id"])


def test_schema_change_starts_new_files_and_is_recorded(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE s (id int PRIMARY KEY, a int2, old text)", "INSERT INTO s VALUES (1, 1, 'o')")
    Capture(settings, dsn).run()
    execute(dsn, "INSERT INTO s VALUES (2, 2, 'p')",
            "ALTER TABLE s ADD COLUMN added text", "ALTER TABLE s DROP COLUMN old",
            "ALTER TABLE s RENAME COLUMN a TO renamed", "ALTER TABLE s ALTER COLUMN renamed TYPE bigint",
            "INSERT INTO s VALUES (3, 9000000000, 'new')")
    Capture(settings, dsn).run()
    files = _cdc_files(settings, "s")
    assert len(files) == 2
    schemas = [file_table(settings, f).schema for f in files]
    assert schemas[0].names[-2:] == ["a", "old"] and schemas[0].field("a").type == pa.int16()
    assert schemas[1].names[-2:] == ["renamed", "added"] and schemas[1].field("renamed").type == pa.int64()
    storage = storage_of(settings)
    history = [json.loads(storage.read_bytes(f) or b"") for f in storage.list_files(
        layout.schema_history_dir("public", "s"), ".json")]
    assert len(history) == 2  # the load's schema, then the changed one
    assert history[1]["added"] == ["renamed", "added"] and history[1]["dropped"] == ["a", "old"]
    assert rebuild(raw_rows(settings, "s"), ["id"])[(3,)] == {"id": 3, "renamed": 9000000000, "added": "new"}


def test_truncate_is_an_event(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE tr (id int PRIMARY KEY)", "INSERT INTO tr SELECT generate_series(1, 5)")
    Capture(settings, dsn).run()
    execute(dsn, "TRUNCATE tr", "INSERT INTO tr VALUES (42)")
    Capture(settings, dsn).run()
    rows = raw_rows(settings, "tr")
    assert [r["Op"] for r in rows if r["_lsn"] > rows[0]["_lsn"]] == ["T", "I"]
    assert rebuild(rows, ["id"]) == {(42,): {"id": 42}}


def test_big_transaction_streams_in_parts_named_by_its_commit(empty_db: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, flush_max_rows=5_000)
    dsn = empty_db
    try:
        execute(dsn, "CREATE TABLE big (id int PRIMARY KEY, v text)")
        Capture(settings, dsn).run()
        execute(dsn, "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 40000) g")
        res = Capture(settings, dsn).run()
    finally:
        cleanup_slot(dsn, settings)
    files = _cdc_files(settings, "big")
    assert len(files) == 1
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(storage_of(settings).path(files[0])).metadata
    assert meta.num_rows == 40_000 and meta.num_row_groups >= 8  # streamed as parts, not held in memory
    rows = raw_rows(settings, "big")
    assert {r["_lsn"] for r in rows if r["Op"] == "I"} == {layout.cdc_file_lsn(files[0])}
    assert res.stream is not None and res.stream.transactions == 1


def test_table_without_key_is_reported_and_others_flow(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE good (id int PRIMARY KEY)", "CREATE TABLE nokey (v int)")
    with pytest.raises(MissingPrimaryKeyError) as info:
        Capture(settings, dsn).run()
    text = str(info.value)
    assert "public.nokey" in text and "ADD PRIMARY KEY" in text and "REPLICA IDENTITY FULL" in text
    execute(dsn, "INSERT INTO good VALUES (1)", "INSERT INTO nokey VALUES (1)")
    with pytest.raises(MissingPrimaryKeyError):
        Capture(settings, dsn).run()
    assert [r["id"] for r in raw_rows(settings, "good")] == [1]
    assert storage_of(settings).list_files(layout.raw_table_dir("public", "nokey")) == []


def test_lost_slot_stops_with_resync_hint_and_resync_recovers(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE l (id int PRIMARY KEY)", "INSERT INTO l VALUES (1)")
    Capture(settings, dsn).run()
    slots.drop_slot(dsn, settings.slot_name)
    execute(dsn, "INSERT INTO l VALUES (2)")
    with pytest.raises(SlotLostError, match="autocorp capture --resync"):
        Capture(settings, dsn).run()
    assert capture_status(settings, dsn).exists is False
    res = Capture(settings, dsn).run(resync=True)
    assert [(r.table, r.rows) for r in res.loaded] == [("public.l", 2)]
    assert rebuild(raw_rows(settings, "l"), ["id"]) == source_state(dsn, "l", ["id"])


def test_idle_database_does_not_pin_wal_and_status_reports(cap: tuple[str, Settings], server_url: str) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE idle (id int PRIMARY KEY)")
    Capture(settings, dsn).run()
    stop = threading.Event()
    runner = threading.Thread(target=lambda: Capture(settings, dsn).run(follow=True, stop_event=stop))
    runner.start()
    try:
        # WAL written elsewhere in the cluster (another database), none in ours
        execute(server_url, "CREATE TABLE IF NOT EXISTS wal_noise (x int)",
                "INSERT INTO wal_noise SELECT generate_series(1, 20000)")
        target = slots.current_wal_lsn(dsn)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            info = slots.get_slot(dsn, settings.slot_name)
            if info and info.confirmed_lsn and info.confirmed_lsn >= target:
                break
            time.sleep(0.2)
        st = capture_status(settings, dsn)
        assert st.active and st.wal_status == "reserved" and st.healthy
        assert slots.get_slot(dsn, settings.slot_name).confirmed_lsn >= target  # type: ignore[union-attr]
    finally:
        stop.set()
        runner.join(20)
    assert not runner.is_alive()
    st = capture_status(settings, dsn)
    assert not st.active and st.load_complete and st.retained_wal_bytes is not None and st.lag_bytes is not None
    assert query(dsn, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s",
                 (settings.slot_name,)) == [(1,)]


def test_cli_capture_and_status_json(cap: tuple[str, Settings]) -> None:
    from typer.testing import CliRunner

    from autocorp.cli.main import app
    from autocorp.source.connect import dsn_param

    dsn, settings = cap
    execute(dsn, "CREATE TABLE c (id int PRIMARY KEY)", "INSERT INTO c VALUES (1), (2)")
    env = {"AUTOCORP_SOURCE__DSN": dsn, "AUTOCORP_SOURCE__DATABASE": dsn_param(dsn, "dbname") or "",
           "AUTOCORP_LAKE__ROOT": settings.lake_root, "AUTOCORP_CAPTURE__SLOT": settings.slot_name,
           "AUTOCORP_CAPTURE__PUBLICATION": settings.publication_name}
    run = CliRunner().invoke(app, ["--json", "capture", "--until-caught-up"], env=env)
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["loaded"] == [{"table": "public.c", "rows": 2, "files": 1}]
    status = CliRunner().invoke(app, ["capture", "status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert data["exists"] and data["healthy"] and data["load_complete"] and data["tables"] == ["public.c"]
    assert data["wal_status"] == "reserved" and data["retained_wal_bytes"] >= 0 and data["lag_bytes"] >= 0


@pytest.fixture()
def small_wal_cluster(tmp_path: Path) -> Iterator[str]:
    """A dedicated cluster whose slots may hold back at most 1 MB of WAL (the shared one must not lose slots)."""
    cfg = EmbeddedSettings(port=embedded.free_port(), max_slot_wal_keep_size="1MB",
                           extra={"fsync": "off", "synchronous_commit": "off", "wal_keep_size": "0"})
    state, _ = embedded.start(tmp_path / "pg", cfg)
    try:
        yield state.url("postgres")
    finally:
        embedded.stop(tmp_path / "pg")


def test_slot_invalidated_by_max_slot_wal_keep_size_then_resync(small_wal_cluster: str, tmp_path: Path) -> None:
    dsn, settings = small_wal_cluster, make_settings(tmp_path)
    execute(dsn, "CREATE TABLE w (id int PRIMARY KEY, note text)", "INSERT INTO w VALUES (1, 'loaded')")
    Capture(settings, dsn).run()
    execute(dsn, "INSERT INTO w VALUES (2, 'written while capture was down')")
    for _ in range(4):  # each switch ends a 16 MB segment; the checkpoint then removes what the slot needs
        execute(dsn, "INSERT INTO w VALUES (3, 'x') ON CONFLICT (id) DO UPDATE SET note = w.note || 'x'",
                "SELECT pg_switch_wal()")
    execute(dsn, "CHECKPOINT")
    [(wal_status, reason)] = query(dsn, "SELECT wal_status, invalidation_reason FROM pg_replication_slots "
                                        "WHERE slot_name = %s", (settings.slot_name,))
    assert (wal_status, reason) == ("lost", "wal_removed")
    with pytest.raises(SlotLostError, match=r"invalidated \(wal_removed\).*autocorp capture --resync"):
        Capture(settings, dsn).run()
    status = capture_status(settings, dsn)
    assert status.exists and (status.wal_status, status.invalidation_reason) == ("lost", "wal_removed")
    res = Capture(settings, dsn).run(resync=True)
    assert [(r.table, r.rows) for r in res.loaded] == [("public.w", 3)]
    assert rebuild(raw_rows(settings, "w"), ["id"]) == source_state(dsn, "w", ["id"])
    assert query(dsn, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s",
                 (settings.slot_name,)) == [("reserved",)]
