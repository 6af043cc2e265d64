"""The embedded PostgreSQL cluster: start twice, stop leaves nothing running, clear errors."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import psutil
import pytest

from autocorp.errors import EmbeddedServerError
from autocorp.settings import EmbeddedSettings
from autocorp.source import embedded
from autocorp.source.connect import connection


def _server_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if any(str(pgdata) in part for part in cmd):
            found.append(proc)
    return found


def test_start_twice_then_stop_leaves_nothing_running() -> None:
    pgdata = Path(tempfile.mkdtemp(prefix="autocorp-emb-")) / "pg"
    cfg = EmbeddedSettings(port=embedded.free_port(), max_replication_slots=3, max_slot_wal_keep_size="256MB")
    first, started = embedded.start(pgdata, cfg)
    try:
        assert started and first.running
        again, started_again = embedded.start(pgdata, cfg)
        assert not started_again and again.pid == first.pid
        with connection(first.url("postgres")) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_setting('wal_level'), current_setting('max_replication_slots'),"
                        " current_setting('max_slot_wal_keep_size')")
            assert cur.fetchone() == ("logical", "3", "256MB")
    finally:
        assert embedded.stop(pgdata)
    assert not embedded.status(pgdata).running
    assert _server_processes(pgdata.resolve()) == []
    assert embedded.stop(pgdata) is False  # stopping a stopped cluster is fine


def test_port_taken_by_another_program_is_a_clear_error() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        pgdata = Path(tempfile.mkdtemp(prefix="autocorp-emb-")) / "pg"
        with pytest.raises(EmbeddedServerError, match=f"port {port}.*embedded.port"):
            embedded.start(pgdata, EmbeddedSettings(port=port))


def test_status_of_a_folder_without_a_cluster() -> None:
    st = embedded.status(Path(tempfile.mkdtemp()) / "nothing")
    assert not st.running and st.pid is None
