"""One `virt-local up --hypervisor test` for all virtctl integration tests (started on first use)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from virtctl_stack import Stack, start_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # A short data dir keeps the node's unix socket paths readable in failure messages.
    with tempfile.TemporaryDirectory(prefix="virtctl-") as tmp:
        s = start_stack(Path(tmp))
        try:
            yield s
        finally:
            s.stop()
