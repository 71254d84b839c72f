"""virt-handler tests run on a node of their own (`tests.support.handler_node`) over layer 1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support import handler_node as node
from tests.support.apiserver import RunningApiServer
from tests.support.handler_node import HandlerNode


@pytest.fixture
def short_dir() -> Iterator[Path]:
    with node.short_dir() as path:
        yield path


@pytest.fixture
async def handler_node(apiserver: RunningApiServer, short_dir: Path) -> AsyncIterator[HandlerNode]:
    async with node.handler_node(apiserver, short_dir) as n:
        yield n
