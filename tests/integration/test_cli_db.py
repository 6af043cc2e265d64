"""`autocorp db ...` against an external server named by AUTOCORP_SOURCE__DSN: used, never started, never shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from autocorp.source.connect import connection, with_database

AUTOCORP = str(Path(sys.executable).with_name("autocorp"))
SECRET = "s3cr3t-never-shown"


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTOCORP_")}
    return subprocess.run([AUTOCORP, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)


def test_external_server_is_used_not_started_and_password_never_printed(server_url: str, tmp_path: Path) -> None:
    # the test cluster trusts local connections, so the password is accepted and ignored
    dsn = server_url.replace("postgres@", f"postgres:{SECRET}@")
    name = f"t_ext_{uuid.uuid4().hex[:8]}"
    env = {"AUTOCORP_SOURCE__DSN": dsn, "AUTOCORP_SOURCE__DATABASE": name}
    outputs = []
    try:
        start = _run(["db", "start"], tmp_path, **env)
        outputs.append(start)
        assert start.returncode == 0, start.stderr
        assert "external PostgreSQL" in start.stdout and "nothing to start" in start.stdout
        assert not (tmp_path / ".autocorp").exists(), "no embedded cluster may be created"
        init = _run(["db", "init"], tmp_path, **env)
        outputs.append(init)
        assert init.returncode == 0 and f"created database {name}" in init.stdout
        stats = _run(["--json", "db", "stats"], tmp_path, **env)
        outputs.append(stats)
        assert json.loads(stats.stdout)["sales_order"] == 0
        status = _run(["--json", "db", "status"], tmp_path, **env)
        outputs.append(status)
        assert json.loads(status.stdout)["mode"] == "external" and json.loads(status.stdout)["running"]
        stop = _run(["db", "stop"], tmp_path, **env)
        outputs.append(stop)
        assert stop.returncode == 0 and "does not stop it" in stop.stdout
        with connection(with_database(server_url, name)) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")  # still running
        for res in outputs:
            assert SECRET not in res.stdout + res.stderr
    finally:
        with connection(server_url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_bad_dsn_setting_is_one_line_without_the_password(tmp_path: Path) -> None:
    res = _run(["db", "status"], tmp_path, AUTOCORP_SOURCE__DSN=f"postgresql://u:{SECRET}@127.0.0.1:1/x")
    assert res.returncode == 0  # status reports an unreachable external server, it does not fail
    assert "running: False" in res.stdout and SECRET not in res.stdout + res.stderr
    res = _run(["db", "init"], tmp_path, AUTOCORP_SOURCE__DSN=f"postgresql://u:{SECRET}@127.0.0.1:1/x")
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "error:" in res.stderr
    assert SECRET not in res.stdout + res.stderr and "***" in res.stderr
