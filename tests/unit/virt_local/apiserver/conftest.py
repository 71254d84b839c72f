"""A real store over SQLite in a temporary directory, for the API server's parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from virt_local.apiserver.storage import Storage
from virt_local.apiserver.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    storage = Storage(tmp_path / "state.db")
    storage.start(asyncio.get_running_loop())
    try:
        yield Store(storage)
    finally:
        storage.stop()
