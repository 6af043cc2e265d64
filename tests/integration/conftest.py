"""Fixtures shared by the capture tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_capture_support import cleanup_slot, make_settings

from autocorp.settings import Settings


@pytest.fixture()
def cap(empty_db: str, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """An empty database and settings with a lake under tmp_path and a slot/publication unique to the test."""
    settings = make_settings(tmp_path)
    yield empty_db, settings
    cleanup_slot(empty_db, settings)
