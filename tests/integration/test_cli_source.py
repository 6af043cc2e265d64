"""`autocorp source generate|load` as a user runs them: the real console script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from autocorp.cli.main import app
from autocorp.source import schema
from autocorp.source.connect import dsn_param

AUTOCORP = str(Path(sys.executable).with_name("autocorp"))


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTOCORP_")}
    return subprocess.run([AUTOCORP, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)


def _db_env(dsn: str) -> dict[str, str]:
    return {"AUTOCORP_SOURCE__DSN": dsn, "AUTOCORP_SOURCE__DATABASE": dsn_param(dsn, "dbname") or ""}


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (sub)command under ``group``; typer vendors click, so groups are recognised by duck typing."""
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_has_help_text(tmp_path: Path) -> None:
    commands = dict(_commands(typer.main.get_command(app)))
    assert ("source", "generate") in commands and ("source", "load") in commands
    missing = [" ".join(path) for path, cmd in commands.items() if not (cmd.help or cmd.short_help or "").strip()]
    assert missing == []
    for path in [("source", "generate"), ("source", "load")]:
        res = _run([*path, "--help"], tmp_path)
        assert res.returncode == 0 and "Usage" in res.stdout
        params = [p for p in commands[path].params if p.param_type_name == "option"]
        assert all(p.help for p in params), f"an option of {' '.join(path)} lacks help"


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated through the CLI itself (small customer file for speed)."""
    out = tmp_path_factory.mktemp("cli-seed")
    res = _run(["--json", "source", "generate", "--out", str(out), "--customers", "4000", "--orders", "50"], out)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["rows"]["service-parts.csv"] == 1074
    return out


def test_load_prints_json_report_and_is_idempotent(autocorp_db: str, seed_dir: Path, tmp_path: Path) -> None:
    res = _run(["--json", "source", "load", "--data", str(seed_dir)], tmp_path, **_db_env(autocorp_db))
    assert res.returncode == 0, res.stderr
    tables = {t["table"]: t for t in json.loads(res.stdout)["tables"]}
    assert tables["customers"]["inserted"] == 1149 and tables["customers"]["duplicates"] == 1
    assert "duplicate email" in res.stderr  # reported, on stderr
    again = _run(["--json", "source", "load", "--data", str(seed_dir)], tmp_path, **_db_env(autocorp_db))
    assert again.returncode == 0, again.stderr
    second = {t["table"]: t for t in json.loads(again.stdout)["tables"]}
    assert {t: (r["inserted"], r["already_present"]) for t, r in second.items()} == {
        "auto_parts": (0, 400), "service": (0, 110), "service_parts": (0, 1074), "customers": (0, 1149)}
    counts = schema.table_counts(autocorp_db)
    assert (counts["auto_parts"], counts["service"], counts["service_parts"], counts["customers"]) == \
        (400, 110, 1074, 1149)


def _copy_with(seed_dir: Path, dest: Path, name: str, line: int, text: str) -> Path:
    import shutil

    shutil.copytree(seed_dir, dest)
    path = dest / name
    lines = path.read_text().splitlines(keepends=True)
    lines[line - 1] = text + "\n"
    path.write_text("".join(lines))
    return dest


def _one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 1, (res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


def test_malformed_csv_gives_one_line_naming_file_and_line(autocorp_db: str, seed_dir: Path, tmp_path: Path) -> None:
    data = _copy_with(seed_dir, tmp_path / "data", "auto-parts.csv", 42, "BRK-1,Pad,Brakes,Acme,1.00")
    line = _one_error_line(_run(["source", "load", "--data", str(data)], tmp_path, **_db_env(autocorp_db)))
    assert "auto-parts.csv:42:" in line and "expected 7 columns, found 5" in line
    skipped = _run(["source", "load", "--data", str(data), "--on-error", "skip"], tmp_path, **_db_env(autocorp_db))
    assert skipped.returncode == 0 and "auto-parts.csv:42:" in skipped.stderr
    assert schema.table_counts(autocorp_db)["auto_parts"] == 399


def test_wrong_column_set(autocorp_db: str, seed_dir: Path, tmp_path: Path) -> None:
    data = _copy_with(seed_dir, tmp_path / "data", "customers.csv", 1, "first_name,last_name,mail,state")
    line = _one_error_line(_run(["source", "load", "--data", str(data)], tmp_path, **_db_env(autocorp_db)))
    assert "customers.csv:1: wrong columns" in line and "'email'" in line


def test_missing_data_folder(autocorp_db: str, tmp_path: Path) -> None:
    line = _one_error_line(_run(["source", "load", "--data", str(tmp_path / "nope")], tmp_path,
                                **_db_env(autocorp_db)))
    assert "auto-parts.csv: file not found" in line and "autocorp source generate" in line


def test_unknown_env(tmp_path: Path) -> None:
    line = _one_error_line(_run(["--env", "nowhere", "source", "load", "--data", str(tmp_path)], tmp_path))
    assert "unknown environment 'nowhere'" in line


def test_unreachable_dsn_hides_password(seed_dir: Path, tmp_path: Path) -> None:
    secret = "s3cr3t-Pa55"
    dsn = f"postgresql://autocorp:{secret}@127.0.0.1:9/autocorp"  # port 9: nothing listens
    res = _run(["source", "load", "--data", str(seed_dir)], tmp_path, AUTOCORP_SOURCE__DSN=dsn)
    line = _one_error_line(res)
    assert "cannot connect" in line
    assert secret not in res.stdout + res.stderr
