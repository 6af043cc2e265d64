"""Settings layering: defaults < config/<env>.toml < AUTOCORP_* env vars < flags."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from autocorp.errors import ConfigError
from autocorp.settings import load_settings


@pytest.fixture()
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUTOCORP_CONFIG_DIR", str(tmp_path))
    names = ("AUTOCORP_ENV", "AUTOCORP_SOURCE__DSN", "AUTOCORP_EMBEDDED__PORT", "AUTOCORP_CAPTURE__FLUSH_INTERVAL_S")
    for var in names:
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_defaults_when_no_config(config_dir: Path) -> None:
    s = load_settings("dev")
    assert s.embedded.port == 54329 and s.uses_embedded and s.slot_name == "autocorp_dev"


def test_toml_overrides_defaults(config_dir: Path) -> None:
    (config_dir / "staging.toml").write_text("[embedded]\nport = 6000\n[capture]\nflush_interval_s = 2.5\n")
    s = load_settings("staging")
    assert s.embedded.port == 6000 and s.capture.flush_interval_s == 2.5
    assert s.slot_name == "autocorp_staging"


def test_env_vars_override_toml(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (config_dir / "dev.toml").write_text("[embedded]\nport = 6000\n")
    monkeypatch.setenv("AUTOCORP_EMBEDDED__PORT", "7000")
    assert load_settings("dev").embedded.port == 7000


def test_flags_override_env_vars(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCORP_EMBEDDED__PORT", "7000")
    assert load_settings("dev", embedded={"port": 8000}).embedded.port == 8000


def test_dsn_from_env_is_secret(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCORP_SOURCE__DSN", "postgresql://u:hunter2@db:5432/x")
    s = load_settings("dev")
    assert not s.uses_embedded
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_unknown_env_is_rejected(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown environment 'qa'"):
        load_settings("qa")


def test_bad_value_names_the_setting(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCORP_EMBEDDED__PORT", "not-a-port")
    with pytest.raises(ConfigError, match="embedded.port"):
        load_settings("dev")


def test_broken_toml_names_the_file(config_dir: Path) -> None:
    (config_dir / "dev.toml").write_text("[embedded\nport = 1")
    with pytest.raises(ConfigError, match="dev.toml"):
        load_settings("dev")


def test_committed_configs_hold_no_secrets() -> None:
    root = Path(__file__).resolve().parents[2] / "config"
    names = sorted(p.name for p in root.glob("*.toml"))
    assert names == ["dev.toml", "prod.toml", "staging.toml"]
    for p in root.glob("*.toml"):
        assert not _secret_keys(tomllib.loads(p.read_text())), p.name


def _secret_keys(tree: dict, prefix: str = "") -> list[str]:
    found = []
    for key, value in tree.items():
        if isinstance(value, dict):
            found += _secret_keys(value, f"{prefix}{key}.")
        elif any(word in key.lower() for word in ("password", "dsn", "secret", "token")):
            found.append(prefix + key)
    return found
