"""``POST /query``: one sandboxed SELECT over the lake, answered as JSON or Arrow IPC.

Request body: ``{"sql": "..."}`` (or the SQL as text/plain). Response: ``{"columns": [...], "types": [...],
"rows": [[...], ...]}``, or an Arrow IPC stream when the request says
``Accept: application/vnd.apache.arrow.stream``. With ``query.password`` set, requests need
``Authorization: Bearer <password>``.
"""

from __future__ import annotations

import hmac
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa

from autocorp.errors import QueryError, QueryRejected
from autocorp.query.endpoint import RunningServer, check_bind, serve_in_thread
from autocorp.query.output import json_value
from autocorp.query.session import LakeSession

ARROW_STREAM = "application/vnd.apache.arrow.stream"
MAX_BODY = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log on stderr
        pass

    def do_GET(self) -> None:
        self._send(404, {"error": "use POST /query with {\"sql\": \"SELECT ...\"}"})

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/query":
            self._send(404, {"error": f"unknown path {self.path}: use POST /query"})
            return
        if not self._authorized():
            self._send(401, {"error": "missing or wrong token: send Authorization: Bearer <query.password>"})
            return
        try:
            table = self._run(self._sql())
        except QueryRejected as exc:
            self._send(403, {"error": str(exc)})
            return
        except QueryError as exc:
            self._send(400, {"error": str(exc)})
            return
        if ARROW_STREAM in (self.headers.get("Accept") or ""):
            self._send_arrow(table)
        else:
            self._send(200, {"columns": table.column_names, "types": [str(t) for t in table.schema.types],
                             "rows": [list(r.values()) for r in table.to_pylist()]})

    def _authorized(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def _sql(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise QueryError(f"request body over {MAX_BODY} bytes: send a shorter query")
        body = self.rfile.read(length).decode("utf-8", "replace")
        if "json" in (self.headers.get("Content-Type") or "") or body.lstrip().startswith("{"):
            try:
                return str(json.loads(body)["sql"])
            except (ValueError, KeyError, TypeError):
                raise QueryError('body is not {"sql": "..."}: send JSON with an "sql" field') from None
        return body

    def _run(self, sql: str) -> pa.Table:
        lake = self.server.lake
        lake.refresh_if_stale()
        engine = lake.cursor()
        try:
            return lake.run(sql, engine)
        finally:
            engine.close()

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, default=json_value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_arrow(self, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue().to_pybytes()
        self.send_response(200)
        self.send_header("Content-Type", ARROW_STREAM)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], lake: LakeSession, token: str | None) -> None:
        super().__init__(address, _Handler)
        self.lake = lake
        self.token = token


def start(lake: LakeSession, host: str, port: int, token: str | None) -> RunningServer:
    """Serve ``POST /query`` for a sandboxed ``lake`` on ``host:port`` (0 = any free port) in a thread.

    Raises:
        QueryError: the session is not sandboxed, a non-loopback address without a token, or the port is taken.
    """
    if not lake.sandboxed:
        raise QueryError("the HTTP endpoint needs a sandboxed lake session (LakeSession(..., sandboxed=True))")
    check_bind(host, token)
    return serve_in_thread(lambda: _Server((host, port), lake, token), host, port, "query.http_port",
                           "autocorp-serve-http")
