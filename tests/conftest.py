"""Fixtures shared by every test tier."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.apiserver import RunningApiServer, start_apiserver  # noqa: E402


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[RunningApiServer]:
    srv = start_apiserver(tmp_path / "apiserver")
    try:
        yield srv
    finally:
        srv.stop()
