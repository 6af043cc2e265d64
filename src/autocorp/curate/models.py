"""Analytics models: SQL files (DuckDB dialect) built into Delta tables at ``curated/<model>``.

Each ``models/<name>.sql`` is one SELECT; a ``-- inputs: a, b`` line names the curated tables it
reads (registered in DuckDB under those names, scanned lazily from Delta through Arrow). Users add
models by dropping SQL files into ``curate.models_dir``; a file there replaces a packaged one of
the same name. A model is rebuilt only when one of its inputs has a new Delta version (the input
versions are recorded in the model's commit metadata).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from autocorp.curate import merge
from autocorp.curate.report import ModelReport
from autocorp.errors import CurateError
from autocorp.lake import layout
from autocorp.lake.storage import Storage
from autocorp.settings import CurateSettings

PACKAGED_MODELS = Path(__file__).parent / "models"
_INPUTS = re.compile(r"^--\s*inputs:\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Model:
    """One analytics model: its name (the SQL file's stem), SQL and input tables."""

    name: str
    sql: str
    inputs: tuple[str, ...]


def discover_models(extra_dir: str | Path | None = None) -> list[Model]:
    """The packaged models, plus (overriding by name) the SQL files in ``extra_dir``.

    Raises:
        CurateError: a model file lacks its ``-- inputs:`` line.
    """
    files = {p.stem: p for p in sorted(PACKAGED_MODELS.glob("*.sql"))}
    if extra_dir:
        files.update({p.stem: p for p in sorted(Path(extra_dir).glob("*.sql"))})
    return [_parse(name, path) for name, path in sorted(files.items())]


def _parse(name: str, path: Path) -> Model:
    sql = path.read_text()
    m = _INPUTS.search(sql)
    if not m:
        raise CurateError(f"model {path} has no '-- inputs: table, ...' line: add one naming the tables it reads")
    return Model(name, sql, tuple(t.strip() for t in m.group(1).split(",") if t.strip()))


def build_models(storage: Storage, settings: CurateSettings) -> list[ModelReport]:
    """Build every model whose inputs changed since its last build; failures are reported per model."""
    try:
        found = discover_models(settings.models_dir or None)
    except CurateError as exc:
        return [ModelReport("*", "failed", error=str(exc))]
    return [build_model(storage, m) for m in found]


def build_model(storage: Storage, model: Model) -> ModelReport:
    """(Re)build one model from its inputs' current versions."""
    t0 = time.monotonic()
    opts = storage.storage_options()
    uri = storage.uri(layout.curated_table(model.name))
    try:
        versions = _input_versions(storage, model)
        if versions is None:
            return ModelReport(model.name, "waiting")
        previous = merge.last_commit_metadata(uri, opts)
        if previous.get("autocorp.inputs") == versions:
            return ModelReport(model.name, "current", version=previous.get("version"))
        data = _run_sql(storage, model, versions)
        meta = {"autocorp.model": model.name, "autocorp.inputs": versions}
        version = merge.overwrite_table(uri, opts, data, meta, {"delta.enableChangeDataFeed": "true"})
        return ModelReport(model.name, "built", version, data.num_rows, round(time.monotonic() - t0, 3))
    except (CurateError, duckdb.Error) as exc:
        return ModelReport(model.name, "failed", error=f"model {model.name}: {exc}; fix the SQL or its inputs")


def _input_versions(storage: Storage, model: Model) -> dict[str, int] | None:
    out = {}
    for table in model.inputs:
        version = merge.table_version(storage.uri(layout.curated_table(table)), storage.storage_options())
        if version is None:
            return None
        out[table] = version
    return out


def _run_sql(storage: Storage, model: Model, versions: dict[str, int]) -> pa.Table:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table, version in versions.items():
            dataset = merge.read_dataset(storage.uri(layout.curated_table(table)), storage.storage_options(), version)
            con.register(table, dataset)
        return con.execute(model.sql).to_arrow_table()
    finally:
        con.close()
