"""Typed, layered settings: defaults < config/<env>.toml < AUTOCORP_* env vars < CLI flags.

Environment variables are nested with ``__``: ``AUTOCORP_SOURCE__DSN``,
``AUTOCORP_CAPTURE__FLUSH_INTERVAL_S``. The config folder is ``./config`` unless
``AUTOCORP_CONFIG_DIR`` names another one.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from autocorp.errors import ConfigError

KNOWN_ENVS = ("dev", "staging", "prod")


class EmbeddedSettings(BaseModel):
    """The embedded PostgreSQL cluster (used when ``source.dsn`` is not set)."""

    port: int = 54329
    max_replication_slots: int = 10
    max_wal_senders: int = 10
    max_slot_wal_keep_size: str = "4GB"
    wal_sender_timeout: str = "60s"
    shared_buffers: str = "256MB"
    extra: dict[str, str] = Field(default_factory=dict)


class SourceSettings(BaseModel):
    """The PostgreSQL source system."""

    dsn: SecretStr | None = None
    database: str = "autocorp"
    seed: int = 42
    customers_sample: int = 1150


class LakeSettings(BaseModel):
    """Where the lake lives: a local folder or ``s3://bucket/prefix``."""

    root: str = ""
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"


class CaptureSettings(BaseModel):
    """Logical replication into the raw zone."""

    slot: str = ""
    publication: str = ""
    tables: list[str] = Field(default_factory=list)
    flush_interval_s: float = 1.0
    flush_max_rows: int = 200_000
    load_file_rows: int = 1_000_000
    heartbeat_s: float = 10.0


class CurateSettings(BaseModel):
    """Raw zone -> curated Delta tables."""

    merge_interval_s: float = 5.0
    merge_max_changes: int = 50_000
    retention_days: int = 7
    target_file_size: int = 128 * 1024 * 1024
    batch_max_rows: int = 1_000_000
    models: bool = True
    models_dir: str = ""
    models_interval_s: float = 30.0  # `autocorp run` rebuilds models at most this often


class QuerySettings(BaseModel):
    """DuckDB over the lake and the SQL endpoints."""

    memory_limit: str = "2GB"
    statement_timeout_s: float = 30.0
    host: str = "127.0.0.1"
    pg_port: int = 55433
    http_port: int = 8765
    password: SecretStr | None = None


class CatalogSettings(BaseModel):
    """The AWS Glue Data Catalog that `autocorp catalog sync` registers the curated tables in."""

    database: str = ""  # empty: autocorp_<env>
    region: str | None = None  # None: lake.s3_region
    endpoint: str | None = None  # a Glue-compatible endpoint (moto in tests); None: AWS
    table_prefix: str = ""


class Settings(BaseSettings):
    """All settings of one environment."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOCORP_", env_nested_delimiter="__", extra="forbid"
    )

    env: str = "dev"
    home: Path = Path(".autocorp")
    source: SourceSettings = Field(default_factory=SourceSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    lake: LakeSettings = Field(default_factory=LakeSettings)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    curate: CurateSettings = Field(default_factory=CurateSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def env_dir(self) -> Path:
        """Per-environment state folder: ``.autocorp/<env>``."""
        return self.home / self.env

    @property
    def pgdata(self) -> Path:
        return self.env_dir / "pg"

    @property
    def lake_root(self) -> str:
        return self.lake.root or str((self.env_dir / "lake").resolve())

    @property
    def slot_name(self) -> str:
        return self.capture.slot or f"autocorp_{self.env}"

    @property
    def publication_name(self) -> str:
        return self.capture.publication or f"autocorp_{self.env}"

    @property
    def catalog_database(self) -> str:
        """Glue database of this environment: ``catalog.database`` or ``autocorp_<env>``."""
        return self.catalog.database or "autocorp_" + re.sub(r"[^a-z0-9_]", "_", self.env.lower())

    @property
    def uses_embedded(self) -> bool:
        return self.source.dsn is None


def config_dir() -> Path:
    return Path(os.environ.get("AUTOCORP_CONFIG_DIR", "config"))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads ``config/<env>.toml`` for the environment chosen by init kwargs or AUTOCORP_ENV."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = self.current_state.get("env") or os.environ.get("AUTOCORP_ENV", "dev")
        path = config_dir() / f"{env}.toml"
        if not path.exists():
            return {}
        try:
            return tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}; fix or remove it") from exc


def load_settings(env: str | None = None, **overrides: Any) -> Settings:
    """Build the settings for ``env`` with CLI-flag overrides on top.

    Raises:
        ConfigError: unknown environment or an invalid setting.
    """
    env = env or os.environ.get("AUTOCORP_ENV", "dev")
    if env not in KNOWN_ENVS and not (config_dir() / f"{env}.toml").exists():
        raise ConfigError(
            f"unknown environment '{env}': use one of {', '.join(KNOWN_ENVS)} "
            f"or create {config_dir() / (env + '.toml')}"
        )
    try:
        return Settings(env=env, **overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting '{where}': {first['msg']}") from exc
