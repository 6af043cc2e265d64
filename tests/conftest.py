"""Shared fixtures: a real, throwaway PostgreSQL 18 cluster (wal_level=logical) for the whole run."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocorp.settings import EmbeddedSettings
from autocorp.source import embedded, schema
from autocorp.source.connect import connection, with_database


@pytest.fixture(scope="session")
def pg_server() -> Iterator[embedded.ServerState]:
    """Start a fresh embedded cluster on a free port; stop it at the end of the run."""
    root = Path(tempfile.mkdtemp(prefix="autocorp-test-pg-"))
    cfg = EmbeddedSettings(port=embedded.free_port(), max_replication_slots=40, max_wal_senders=40,
                           extra={"fsync": "off", "synchronous_commit": "off", "max_connections": "200"})
    state, _ = embedded.start(root / "pg", cfg)
    yield state
    embedded.stop(root / "pg")


@pytest.fixture(scope="session")
def server_url(pg_server: embedded.ServerState) -> str:
    return pg_server.url("postgres")


def _create_db(server_url: str, name: str) -> str:
    with connection(server_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


def _drop_db(server_url: str, name: str) -> None:
    with connection(server_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE database = %s AND NOT active", (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def empty_db(server_url: str) -> Iterator[str]:
    """DSN of a new, empty database unique to the test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = _create_db(server_url, name)
    yield dsn
    _drop_db(server_url, name)


@pytest.fixture()
def autocorp_db(empty_db: str) -> str:
    """DSN of a new database holding the AutoCorp schema (no rows)."""
    schema.apply_schema(empty_db)
    return empty_db
