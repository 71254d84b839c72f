"""One whole stack (layer 4, `virt-local up --hypervisor test`) for all virtctl tests, started on first use."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.virtlocal import VirtLocal, virt_local_up


@pytest.fixture(scope="session")
def stack() -> Iterator[VirtLocal]:
    # A short data dir keeps the node's unix socket paths readable in failure messages.
    with tempfile.TemporaryDirectory(prefix="virtctl-") as tmp, virt_local_up(Path(tmp) / "d", "test") as s:
        yield s
