"""`splice(a, b)`: both directions copied, either side's end or failure ends and closes both,
cancellation closes both, no task outlives the call; `StreamEndpoint` over a real socket pair."""

from __future__ import annotations

import asyncio
import socket

import pytest

from virt_client.splice import StreamClosed, StreamEndpoint, splice


class MemoryEndpoint:
    """Receives what is put in `incoming` (bytes, None for the end, an exception to raise);
    records what is sent; `send_error` makes every send raise it."""

    def __init__(self, *items: bytes | None | Exception, send_error: Exception | None = None) -> None:
        self.incoming: asyncio.Queue[bytes | None | Exception] = asyncio.Queue()
        for item in items:
            self.incoming.put_nowait(item)
        self.sent: list[bytes] = []
        self.send_error = send_error
        self.closed = 0
        self.waiting = asyncio.Event()

    async def receive(self) -> bytes | None:
        if self.incoming.empty():
            self.waiting.set()
        item = await self.incoming.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def send(self, data: bytes) -> None:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append(data)

    async def close(self) -> None:
        self.closed += 1


def _other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


@pytest.mark.parametrize("a_items, b_items, a_gets, b_gets", [
    ([b"one", b"two", None], [], [], [b"one", b"two"]),
    ([], [b"back", None], [b"back"], []),
    ([b"x", b"", b"y", None], [], [], [b"x", b"y"]),
], ids=["a-ends", "b-ends", "empty-chunks-skipped"])
async def test_one_side_ends_closes_both(a_items: list[bytes | None], b_items: list[bytes | None],
                                         a_gets: list[bytes], b_gets: list[bytes]) -> None:
    a, b = MemoryEndpoint(*a_items), MemoryEndpoint(*b_items)
    await splice(a, b)
    assert (a.sent, b.sent) == (a_gets, b_gets)
    assert (a.closed, b.closed) == (1, 1)
    assert not _other_tasks()


async def test_peer_gone_on_send_is_an_end_not_a_failure() -> None:
    a, b = MemoryEndpoint(b"lost"), MemoryEndpoint(send_error=StreamClosed("reset"))
    await splice(a, b)
    assert (a.closed, b.closed) == (1, 1)
    assert not _other_tasks()


@pytest.mark.parametrize("side", ["receive", "send"])
async def test_a_failure_ends_both_and_is_raised(side: str) -> None:
    if side == "receive":
        a, b = MemoryEndpoint(b"first", RuntimeError("broken")), MemoryEndpoint()
    else:
        a, b = MemoryEndpoint(b"first"), MemoryEndpoint(send_error=RuntimeError("broken"))
    with pytest.raises(RuntimeError, match="broken"):
        await splice(a, b)
    assert (a.closed, b.closed) == (1, 1)
    assert not _other_tasks()


async def test_cancellation_closes_both_and_leaves_no_task() -> None:
    a, b = MemoryEndpoint(b"early"), MemoryEndpoint()
    task = asyncio.create_task(splice(a, b))
    await asyncio.wait_for(asyncio.gather(a.waiting.wait(), b.waiting.wait()), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert b.sent == [b"early"]
    assert (a.closed, b.closed) == (1, 1)
    assert not _other_tasks()


async def _pair() -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter],
                           tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    left, right = socket.socketpair()
    return await asyncio.open_unix_connection(sock=left), await asyncio.open_unix_connection(sock=right)


async def _drain(reader: asyncio.StreamReader, size: int) -> bytes:
    return await reader.readexactly(size)


async def test_large_transfer_both_ways_over_sockets() -> None:
    """8 MiB each way through the splice at once (backpressure on both sides), then one client ends."""
    (c1, s1), (c2, s2) = await _pair(), await _pair()  # client1 <-> s1 [splice] s2 <-> client2
    spliced = asyncio.create_task(splice(StreamEndpoint(*s1), StreamEndpoint(*s2)))
    up = bytes(range(256)) * (8 * 4096)
    down = bytes(reversed(range(256))) * (8 * 4096)

    async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    got_up, got_down, _, _ = await asyncio.wait_for(asyncio.gather(
        _drain(c2[0], len(up)), _drain(c1[0], len(down)), send(c1[1], up), send(c2[1], down)), 60)
    assert got_up == up and got_down == down
    c1[1].close()  # client1 hangs up: client2 sees the end of its stream
    assert await asyncio.wait_for(c2[0].read(), 10) == b""
    await asyncio.wait_for(spliced, 10)
    c2[1].close()
    for _, writer in (c1, c2):
        await writer.wait_closed()
