"""The DuckDB adapter: the only module that imports duckdb.

Extensions come from the pinned pip packages ``duckdb-extension-delta`` / ``-postgres`` / ``-httpfs`` and
are loaded by file path; nothing is ever installed from the network.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import duckdb
import pyarrow as pa

from autocorp.errors import QueryError

_EXT_PACKAGES = {"delta": "duckdb_extension_delta", "postgres": "duckdb_extension_postgres",
                 "httpfs": "duckdb_extension_httpfs"}
# the postgres extension's entry point is named after its historical file name
_EXT_FILE_NAMES = {"delta": "delta", "postgres": "postgres_scanner", "httpfs": "httpfs"}
_ext_dir: Path | None = None
_ext_lock = threading.Lock()


def extension_path(name: str) -> Path:
    """Path of a loadable copy of the pip-packaged extension ``name`` (``delta``, ``postgres``, ``httpfs``).

    Raises:
        QueryError: the extension package is not installed.
    """
    global _ext_dir
    spec = importlib.util.find_spec(_EXT_PACKAGES[name])
    if spec is None or not spec.submodule_search_locations:
        raise QueryError(f"the pip package {_EXT_PACKAGES[name]} is missing: run `pip install -e .` in the repo")
    pkg = Path(list(spec.submodule_search_locations)[0])
    found = sorted(pkg.glob(f"extensions/v{duckdb.__version__}/*.duckdb_extension"))
    if not found:
        raise QueryError(f"{_EXT_PACKAGES[name]} has no build for DuckDB {duckdb.__version__}: "
                         f"install duckdb-extension-{name}=={duckdb.__version__}")
    with _ext_lock:
        if _ext_dir is None:
            _ext_dir = Path(tempfile.mkdtemp(prefix="autocorp-duckdb-ext-"))
        target = _ext_dir / f"{_EXT_FILE_NAMES[name]}.duckdb_extension"
        if not target.exists():
            shutil.copyfile(found[0], target)
    return target


@dataclass(frozen=True)
class S3Access:
    """How DuckDB reaches an S3 lake: region, optional custom endpoint URL, and credentials (None = anonymous)."""

    region: str
    endpoint: str | None = None
    key_id: str | None = None
    secret: str | None = None
    session_token: str | None = None

    def secret_sql(self) -> str:
        """``CREATE SECRET`` for DuckDB's S3 client (httpfs and the delta extension both use it)."""
        opts = {"REGION": self.region, "KEY_ID": self.key_id, "SECRET": self.secret,
                "SESSION_TOKEN": self.session_token}
        if self.endpoint:
            parsed = urlparse(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
            opts["ENDPOINT"] = parsed.netloc
            opts["URL_STYLE"] = "path"  # custom endpoints (MinIO, moto, ...) rarely resolve bucket host names
        items = [f"{k} '{str(v).replace(chr(39), chr(39) * 2)}'" for k, v in opts.items() if v]
        if self.endpoint and self.endpoint.startswith("http://"):
            items.append("USE_SSL false")
        return f"CREATE OR REPLACE SECRET autocorp_lake (TYPE s3, {', '.join(items)})"


@dataclass(frozen=True)
class Statement:
    """One parsed SQL statement: its DuckDB statement type name and text."""

    kind: str
    sql: str


def parse_statements(sql: str) -> list[Statement]:
    """Split ``sql`` into statements with DuckDB's own parser.

    Raises:
        QueryError: the SQL does not parse.
    """
    try:
        return [Statement(s.type.name, s.query.strip()) for s in duckdb.extract_statements(sql)]
    except duckdb.Error as exc:
        raise QueryError(f"SQL does not parse: {_first_line(exc)}") from None


class Engine:
    """One in-memory DuckDB database over the lake, with cursors for concurrent sessions."""

    def __init__(self, memory_limit: str = "2GB", threads: int | None = None) -> None:
        self._con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": "false",
                                                       "autoload_known_extensions": "false"})
        self.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            self.execute(f"SET threads = {int(threads)}")
        self.execute("SET TimeZone = 'UTC'")
        self.execute(f"LOAD '{extension_path('delta')}'")
        self.locked = False

    def connect_s3(self, access: S3Access) -> None:
        """Load httpfs (from its pip package) and register the lake's S3 credentials as a DuckDB secret.

        Raises:
            QueryError: httpfs is not installed or the secret is rejected.
        """
        self.execute(f"LOAD '{extension_path('httpfs')}'")
        self.execute(access.secret_sql())

    def cursor(self) -> Engine:
        """A new session on the same database (own transaction, shares views and tables)."""
        child = object.__new__(Engine)
        child._con = self._con.cursor()
        child.locked = self.locked
        return child

    @property
    def raw_connection(self) -> Any:
        """The DuckDB connection object, for the protocol adapter only."""
        return self._con

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement, discarding any result.

        Raises:
            QueryError: DuckDB failed.
        """
        try:
            self._con.execute(sql, params) if params is not None else self._con.execute(sql)
        except duckdb.Error as exc:
            raise QueryError(_first_line(exc)) from None

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table.

        Raises:
            QueryError: DuckDB failed (message on one line).
        """
        try:
            rel = self._con.execute(sql, params) if params is not None else self._con.execute(sql)
            return rel.to_arrow_table() if rel.description else pa.table({})
        except duckdb.Error as exc:
            raise QueryError(_first_line(exc)) from None

    def batches(self, sql: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
        """Stream a query's result as record batches."""
        try:
            reader = self._con.execute(sql).to_arrow_reader(batch_rows)
            yield from reader
        except duckdb.Error as exc:
            raise QueryError(_first_line(exc)) from None

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return Python rows."""
        try:
            cur = self._con.execute(sql, params) if params is not None else self._con.execute(sql)
            return cur.fetchall()
        except duckdb.Error as exc:
            raise QueryError(_first_line(exc)) from None

    def load(self, name: str, table: pa.Table) -> None:
        """Create or replace the DuckDB table ``name`` (an SQL name, quoted as needed) holding ``table``.

        Raises:
            QueryError: DuckDB failed.
        """
        view = f"_arrow_{threading.get_ident()}"
        try:
            self._con.register(view, table)
            self._con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {view}")
        except duckdb.Error as exc:
            raise QueryError(_first_line(exc)) from None
        finally:
            self._con.unregister(view)

    def ast(self, sql: str) -> dict[str, Any]:
        """DuckDB's parse tree of a SELECT statement (``json_serialize_sql``)."""
        return dict(json.loads(self.rows("SELECT json_serialize_sql(?)", [sql])[0][0]))

    def interrupt(self) -> None:
        """Cancel the statement running on this session (used for the statement timeout)."""
        self._con.interrupt()

    def lock_down(self, allowed_directories: Sequence[str], memory_limit: str) -> None:
        """Forbid file access outside the lake, extension loading and any later configuration change."""
        dirs = ", ".join("'" + d.replace("'", "''").rstrip("/") + "/'" for d in allowed_directories)
        self.execute(f"SET allowed_directories = [{dirs}]")
        self.execute(f"SET memory_limit = '{memory_limit}'")
        self.execute("SET allow_community_extensions = false")
        self.execute("SET enable_external_access = false")
        self.execute("SET lock_configuration = true")
        self.locked = True

    def close(self) -> None:
        self._con.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def ast_nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in a parse tree from ``Engine.ast`` (depth first, the node before its children)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from ast_nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from ast_nodes(item)
