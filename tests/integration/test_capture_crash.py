"""Exactly-once under concurrency and crashes: snapshot during heavy writes; kill -9 of `autocorp capture`."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from test_capture_support import (
    checkpoint_json,
    execute,
    raw_rows,
    rebuild,
    source_state,
    storage_of,
)

from autocorp.capture.replication import ReplicationStream
from autocorp.capture.runner import Capture
from autocorp.lake import layout
from autocorp.lake.checkpoint import Checkpoint, write_checkpoint
from autocorp.settings import Settings
from autocorp.source.connect import connection, dsn_param


class Writer(threading.Thread):
    """Commits small transactions (insert / update / delete) and counts the row changes it made."""

    def __init__(self, dsn: str, table: str, first_id: int, rows_per_txn: int = 1, max_changes: int = 0,
                 pause: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.dsn, self.table, self.next_id = dsn, table, first_id
        self.rows_per_txn, self.max_changes, self.pause = rows_per_txn, max_changes, pause
        self.stop = threading.Event()
        self.changes = self.transactions = 0
        self.started_at = self.ended_at = 0.0
        self.rng = random.Random(7)

    def run(self) -> None:
        self.started_at = time.monotonic()
        with connection(self.dsn, autocommit=True) as conn, conn.cursor() as cur:
            while not self.stop.is_set() and (not self.max_changes or self.changes < self.max_changes):
                self.changes += self._one(cur)
                self.transactions += 1
                if self.pause:
                    time.sleep(self.pause)
        self.ended_at = time.monotonic()

    def _one(self, cur: object) -> int:
        n, op = self.rows_per_txn, self.rng.random()
        lo = self.rng.randrange(1, max(2, self.next_id - n))
        if op < 0.5:
            cur.execute(f"INSERT INTO {self.table} SELECT g, g %% 97, 'n' || g FROM generate_series(%s, %s) g",
                        (self.next_id, self.next_id + n - 1))  # type: ignore[attr-defined]
            self.next_id += n
        elif op < 0.85:
            cur.execute(f"UPDATE {self.table} SET v = v + 1, note = md5(note) WHERE id BETWEEN %s AND %s",
                        (lo, lo + n - 1))  # type: ignore[attr-defined]
        else:
            cur.execute(f"DELETE FROM {self.table} WHERE id BETWEEN %s AND %s", (lo, lo + n - 1))  # type: ignore[attr-defined]
        return int(cur.rowcount)  # type: ignore[attr-defined]

    @property
    def rate(self) -> float:
        return self.transactions / max(1e-9, (self.ended_at or time.monotonic()) - self.started_at)


def _assert_exactly_once(dsn: str, settings: Settings, table: str) -> list[dict[str, object]]:
    rows = raw_rows(settings, table)
    assert len({(r["_lsn"], r["_seq"]) for r in rows}) == len(rows), "a change was written twice"
    assert rebuild(rows, ["id"]) == source_state(dsn, table, ["id"])
    return rows


def test_snapshot_while_writer_commits_500_tps(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE acct (id bigint PRIMARY KEY, v int, note text)",
            "INSERT INTO acct SELECT g, g % 97, 'n' || g FROM generate_series(1, 150000) g")
    writer = Writer(dsn, "acct", 150_001)
    writer.start()
    try:
        time.sleep(0.3)
        first = Capture(settings, dsn).run()  # the load runs while the writer commits
        time.sleep(0.5)
    finally:
        writer.stop.set()
        writer.join()
    assert writer.rate >= 500, f"the writer managed only {writer.rate:.0f} transactions/s"
    Capture(settings, dsn).run()
    assert first.loaded[0].rows >= 150_000
    rows = _assert_exactly_once(dsn, settings, "acct")
    snapshot_lsn = checkpoint_json(settings)["snapshot_lsn"]
    assert sum(1 for r in rows if r["_lsn"] > snapshot_lsn) > 0  # changes during the load came via CDC


def _capture_cmd(dsn: str, settings: Settings) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "AUTOCORP_SOURCE__DSN": dsn, "AUTOCORP_SOURCE__DATABASE": dsn_param(dsn, "dbname") or "",
           "AUTOCORP_LAKE__ROOT": settings.lake_root, "AUTOCORP_CAPTURE__SLOT": settings.slot_name,
           "AUTOCORP_CAPTURE__PUBLICATION": settings.publication_name,
           "AUTOCORP_CAPTURE__FLUSH_INTERVAL_S": "0.05", "AUTOCORP_CAPTURE__FLUSH_MAX_ROWS": "3000"}
    cmd = [sys.executable, "-c", "from autocorp.cli.main import main; main()", "--env", "dev", "capture"]
    return cmd, env


def test_kill_9_at_random_moments_keeps_every_change_exactly_once(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE ev (id bigint PRIMARY KEY, v int, note text)")
    cmd, env = _capture_cmd(dsn, settings)
    Capture(settings, dsn).run()  # the (empty) full load first: from here on every raw row is a change
    writer = Writer(dsn, "ev", 1, rows_per_txn=150, max_changes=110_000, pause=0.02)
    writer.start()
    rng = random.Random(11)
    kills = 0
    progress: list[int] = []  # checkpoint LSN after each kill while the writer was still running
    try:
        while kills < 10 or writer.is_alive():
            proc = subprocess.Popen([*cmd, "--follow"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            time.sleep(rng.uniform(1.5, 4.0))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            if writer.is_alive():
                progress.append(checkpoint_json(settings)["lsn"])
            if kills > 40:
                break
    finally:
        writer.stop.set()
        writer.join()
    done = subprocess.run([*cmd, "--until-caught-up"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert kills >= 10 and writer.changes >= 100_000
    assert len(set(progress)) >= 5, "the kills did not interrupt a capture that was making progress"
    rows = _assert_exactly_once(dsn, settings, "ev")
    assert len(rows) == writer.changes  # the table started empty: every raw row is one source change


def test_crash_during_load_drops_slot_and_partial_files_then_reloads(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE ld (id bigint PRIMARY KEY, v int, note text)",
            "INSERT INTO ld SELECT g, g, 'x' FROM generate_series(1, 3000) g")
    # what a kill -9 in the middle of a load leaves: a slot, a checkpoint saying load_complete=false
    # and some LOAD files
    repl = ReplicationStream(dsn, settings.slot_name)
    lsn, _ = repl.create_slot_exported()
    repl.close()
    storage = storage_of(settings)
    write_checkpoint(storage, Checkpoint(settings.slot_name, lsn, lsn, False, ("public.ld",)))
    for n in (1, 2):
        storage.write_bytes(layout.load_file("public", "ld", n), b"partial")
    execute(dsn, "INSERT INTO ld VALUES (5000, 1, 'after the lost snapshot')")
    messages: list[str] = []
    res = Capture(settings, dsn, say=messages.append).run()
    assert any("load starts over" in m for m in messages)
    assert [(r.table, r.rows, r.files) for r in res.loaded] == [("public.ld", 3001, 1)]
    assert not storage.exists(layout.load_file("public", "ld", 2))
    assert checkpoint_json(settings)["snapshot_lsn"] > lsn
    _assert_exactly_once(dsn, settings, "ld")


def test_sigterm_flushes_checkpoints_and_exits_0(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE st (id bigint PRIMARY KEY, v int, note text)")
    cmd, env = _capture_cmd(dsn, settings)
    env["AUTOCORP_CAPTURE__FLUSH_INTERVAL_S"] = "30"  # nothing is flushed by time: SIGTERM must do it
    proc = subprocess.Popen([*cmd, "--follow"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with connection(dsn, autocommit=True) as conn, conn.cursor() as cur:
                cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (settings.slot_name,))
                row = cur.fetchone()
            if row and row[0]:
                break
            time.sleep(0.2)
        execute(dsn, "INSERT INTO st SELECT g, g, 'x' FROM generate_series(1, 500) g")
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert len(_assert_exactly_once(dsn, settings, "st")) == 500


def test_start_removes_temp_files_a_killed_run_left(cap: tuple[str, Settings]) -> None:
    dsn, settings = cap
    execute(dsn, "CREATE TABLE tf (id bigint PRIMARY KEY, v int, note text)")
    storage = storage_of(settings)
    folder = Path(storage.path(layout.raw_table_dir("public", "tf"))) / "2026" / "01" / "01"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".tmp-0badc0de-x.parquet", folder / ".tmp-5eed0000-y.parquet"
    stale.write_bytes(b"half a file")
    fresh.write_bytes(b"a writer may still own this")
    old = time.time() - 300
    os.utime(stale, (old, old))
    messages: list[str] = []
    res = Capture(settings, dsn, say=messages.append).run()
    assert res.removed_temp_files == 1
    assert not stale.exists() and fresh.exists()
    assert any("temp file" in m for m in messages)
