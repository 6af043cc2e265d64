"""What both SQL endpoints (PostgreSQL wire, HTTP) share: the bind policy and the server thread."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autocorp.errors import QueryError


@dataclass
class RunningServer:
    """A server thread: its port and how to stop it."""

    server: Any
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def check_bind(host: str, password: str | None) -> None:
    """Refuse to expose the lake beyond this machine without authentication.

    Raises:
        QueryError: ``host`` is not a loopback address and no password is configured.
    """
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not password:
        raise QueryError(f"refusing to serve the lake on {host} without a password: "
                         "set query.password (AUTOCORP_QUERY__PASSWORD) or listen on 127.0.0.1")


def serve_in_thread(make_server: Callable[[], Any], host: str, port: int, port_setting: str,
                    name: str) -> RunningServer:
    """Build the server (binding ``host:port``) and run ``serve_forever`` in a daemon thread.

    Raises:
        QueryError: the address cannot be bound.
    """
    try:
        server = make_server()
    except OSError as exc:
        raise QueryError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another {port_setting}") from None
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return RunningServer(server, thread)
