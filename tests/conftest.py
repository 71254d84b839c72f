"""Fixtures shared by every test tier: layer 1 of the test stack (see `tests.support`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.apiserver import RunningApiServer, api_server  # noqa: E402


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[RunningApiServer]:
    with api_server(tmp_path / "apiserver") as srv:
        yield srv
