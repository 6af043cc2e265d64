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


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API endpoint (moto server) on 127.0.0.1 for the whole run, in its own process.

    Not moto's ThreadedMotoServer: some deltalake calls (``history``, ``is_deltatable``, ``load_cdf``)
    hold the GIL while they wait for S3, so a server thread in the test process could never answer them.
    """
    import os
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = embedded.free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # it answers
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start on {url}") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture()
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the moto endpoint; returns its name."""
    import boto3

    name = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def lake_storage(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """One lake Storage per backend: a local folder and an s3:// prefix on the moto endpoint."""
    from autocorp.lake.storage import S3Options, Storage

    if request.param == "local":
        return Storage(str(tmp_path / "lake"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return Storage(f"s3://{bucket}/lake", S3Options(endpoint=endpoint))
