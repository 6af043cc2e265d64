"""The README documents every CLI command, and every command has help text (docs never drift from code)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from autocorp.cli.main import app, main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands(group: Any, prefix: str = "autocorp") -> list[tuple[str, Any]]:
    out = []
    if hasattr(group, "commands"):
        for name, cmd in group.commands.items():
            path = f"{prefix} {name}"
            out.append((path, cmd))
            out += _commands(cmd, path)
    return out


COMMANDS = _commands(typer.main.get_command(app))


def test_the_cli_has_the_pipeline_commands() -> None:
    names = {path for path, _ in COMMANDS}
    assert {"autocorp db start", "autocorp capture", "autocorp curate", "autocorp run", "autocorp query",
            "autocorp serve", "autocorp status", "autocorp reconcile", "autocorp changes"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_has_help_and_is_in_the_readme(path: str, cmd: Any) -> None:
    assert (cmd.help or cmd.short_help or "").strip(), f"`{path}` has no help text"
    assert path in README, f"`{path}` is not mentioned in README.md"


@pytest.mark.parametrize("argv", [["query", "--nope", "SELECT 1"], ["no-such-command"], ["--env"]])
def test_usage_errors_are_one_message_not_a_traceback(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["autocorp", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.count("Error") == 1


def test_help_exits_zero(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["autocorp", "query", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0 and "--lsn" in capsys.readouterr().out
