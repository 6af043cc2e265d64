"""Per-invocation context: global flags and the settings-backed pipeline facade."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import typer

from autocorp.pipeline import Pipeline
from autocorp.settings import Settings, load_settings


class Context:
    """Global flags shared by every command."""

    def __init__(self, env: str, as_json: bool, debug: bool) -> None:
        self.env = env
        self.as_json = as_json
        self.debug = debug

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.env)

    def pipeline(self, **overrides: Any) -> Pipeline:
        if overrides:
            return Pipeline(load_settings(self.env, **overrides))
        return Pipeline(self.settings)


def get(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj
