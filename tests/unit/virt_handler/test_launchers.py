"""LauncherRegistry and NotifyServer against real unix sockets: absent vs unreachable launchers,
a clean exit reported first, notify events and disconnects."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from virt_client import launcher_protocol as proto
from virt_client.clock import FakeClock
from virt_client.launcher_protocol import DomainEvent, DomainState, LauncherEvent
from virt_handler.launchers import LauncherPending, LauncherRegistry
from virt_handler.notify import NotifyServer
from virt_handler.settings import HandlerSettings
from virt_handler.status import LauncherState

UID = "u1"
REF = {"namespace": "ns", "name": "v", "uid": UID}


@pytest.fixture
def run_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vhu-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def serve_launcher(path: Path, domain: dict[str, Any]) -> asyncio.AbstractServer:
    """A fake command socket answering domainInfo with `domain`."""
    path.parent.mkdir(parents=True, exist_ok=True)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            req = proto.decode(line)
            writer.write(proto.encode(proto.ok_response(req["id"], domain)))
            await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(on_connect, path=str(path))


@pytest.fixture
async def registry(run_dir: Path) -> AsyncIterator[tuple[LauncherRegistry, FakeClock, HandlerSettings]]:
    settings = HandlerSettings(node_name="n1", run_dir=run_dir)
    clock = FakeClock()
    reg = LauncherRegistry(settings, clock, unreachable_after=2.0)
    yield reg, clock, settings
    await reg.close()


async def test_absent_then_answering_then_unreachable(registry: tuple[LauncherRegistry, FakeClock, HandlerSettings]) -> None:
    reg, clock, settings = registry
    assert (await reg.observe(UID)).launcher is LauncherState.ABSENT
    server = await serve_launcher(settings.launcher_socket(UID), {"exists": True, "state": "Running", "reason": "Booted"})
    obs = await reg.observe(UID)
    assert obs.launcher is LauncherState.DOMAIN and obs.domain is not None
    assert (obs.domain.state, obs.domain.reason) == (DomainState.RUNNING, "Booted")
    server.close()
    await server.wait_closed()
    await reg.close()  # drop the cached connection, as a dead launcher would
    with pytest.raises(LauncherPending):
        await reg.observe(UID)
    clock.advance(2.0)
    obs = await reg.observe(UID)
    assert obs.launcher is LauncherState.UNREACHABLE and obs.domain is None


async def test_clean_exit_reported_first_is_not_a_failure(
        registry: tuple[LauncherRegistry, FakeClock, HandlerSettings]) -> None:
    reg, _, _ = registry
    reg.record_event(proto.domain_event(DomainEvent.DELETED, REF, {"exists": False, "state": "Shutoff",
                                                                  "reason": "Shutdown"}))
    reg.record_event(proto.launcher_event(LauncherEvent.EXITING, REF))
    obs = await reg.observe(UID)  # no socket any more, and no waiting either
    assert obs.launcher is LauncherState.UNREACHABLE
    assert obs.domain is not None and (obs.domain.state, obs.domain.reason, obs.domain.final) == \
        (DomainState.SHUTOFF, "Shutdown", True)


async def test_failed_event_is_remembered(registry: tuple[LauncherRegistry, FakeClock, HandlerSettings]) -> None:
    reg, _, _ = registry
    assert reg.record_event(proto.launcher_event(LauncherEvent.FAILED, REF, "DomainTimeout", "no domain")) == UID
    assert reg.record_event(proto.launcher_event(LauncherEvent.READY, {})) is None
    obs = await reg.observe(UID)
    assert obs.launcher_failure is not None and obs.launcher_failure.reason == "DomainTimeout"


async def test_notify_server_events_and_disconnects(run_dir: Path) -> None:
    events: list[Mapping[str, Any]] = []
    gone: asyncio.Queue[set[str]] = asyncio.Queue()
    server = NotifyServer(run_dir / "handler" / "notify.sock", events.append, gone.put_nowait)
    await server.start()
    try:
        _, writer = await asyncio.open_unix_connection(str(server.path))
        writer.write(proto.encode(proto.launcher_event(LauncherEvent.READY, {})))
        writer.write(b"not json\n")
        writer.write(proto.encode(proto.domain_event(DomainEvent.MODIFIED, REF, {"state": "Running"})))
        await writer.drain()
        writer.close()
        assert await asyncio.wait_for(gone.get(), 5) == {UID}
        assert [e["type"] for e in events] == ["launcher", "domain"]
    finally:
        await server.close()
    assert not server.path.exists()
