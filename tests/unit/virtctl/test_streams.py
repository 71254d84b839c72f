"""Console connection retries, migration selection, version and VNC output formats."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from virtctl import migrate_cancel, version, vnc
from virtctl.errors import CommandError
from virtctl.streams import rejection_text, wait_for_stream


def rejection(code: int, body: bytes) -> InvalidStatus:
    return InvalidStatus(Response(code, "x", Headers(), body))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_retries_while_server_answers_400_then_connects() -> None:
    clock = FakeClock()
    answers: list[Any] = [rejection(400, b"VMI is not running"), rejection(400, b""), "ws"]
    open_timeouts: list[float] = []

    async def dial(open_timeout: float) -> Any:
        open_timeouts.append(open_timeout)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    connection: Any = await wait_for_stream(dial, retry_seconds=300, sleep=clock.sleep, monotonic=clock.monotonic)
    assert connection == "ws"
    assert clock.sleeps == [1.0, 1.0]
    assert open_timeouts == [300.0, 299.0, 298.0], "each handshake may take what is left of the timeout"


@pytest.mark.parametrize("retry", [0.0, 5.0], ids=["single-try", "short-timeout"])
async def test_a_handshake_gets_at_least_the_minimum_open_time(retry: float) -> None:
    seen: list[float] = []

    async def dial(open_timeout: float) -> Any:
        seen.append(open_timeout)
        return "ws"

    assert await wait_for_stream(dial, retry_seconds=retry, open_seconds=60) == "ws"
    assert seen == [60.0]


async def test_a_handshake_that_times_out_ends_with_a_message() -> None:
    async def dial(open_timeout: float) -> Any:
        raise TimeoutError

    with pytest.raises(CommandError, match="Can't connect to websocket: the handshake timed out"):
        await wait_for_stream(dial, retry_seconds=60)


async def test_gives_up_after_the_timeout() -> None:
    clock = FakeClock()

    async def dial(open_timeout: float) -> Any:
        raise rejection(400, b"not ready")

    with pytest.raises(CommandError, match="Timeout trying to connect to the virtual machine instance"):
        await wait_for_stream(dial, retry_seconds=5, sleep=clock.sleep, monotonic=clock.monotonic)
    assert len(clock.sleeps) == 5


@pytest.mark.parametrize(("code", "retry"), [(409, 60.0), (400, 0.0)], ids=["conflict-no-retry", "no-timeout"])
async def test_other_failures_end_at_once(code: int, retry: float) -> None:
    calls = 0

    async def dial(open_timeout: float) -> Any:
        nonlocal calls
        calls += 1
        raise rejection(code, b'{"kind":"Status","message":"VMI is in Failed phase","code":409}')

    with pytest.raises(CommandError, match=rf"Can't connect to websocket \({code}\): VMI is in Failed phase"):
        await wait_for_stream(dial, retry_seconds=retry)
    assert calls == 1


def test_rejection_text_plain_body() -> None:
    assert rejection_text(rejection(401, b"denied\n")) == "Can't connect to websocket (401): denied"


@pytest.mark.parametrize(("items", "expected"), [
    ([], None),
    ([{"metadata": {"name": "m1"}, "spec": {"vmiName": "vm1"}, "status": {"phase": "Succeeded"}},
      {"metadata": {"name": "m2"}, "spec": {"vmiName": "vm1"}, "status": {"phase": "Running"}}], "m2"),
    ([{"metadata": {"name": "m3"}, "spec": {"vmiName": "other"}}], None),
    ([{"metadata": {"name": "m4"}, "spec": {"vmiName": "vm1"}}], "m4"),
], ids=["none", "skips-final", "other-vmi", "no-status-yet"])
def test_active_migration(items: list[dict[str, Any]], expected: str | None) -> None:
    assert migrate_cancel.active_migration(items, "vm1") == expected


def test_migrate_cancel_delete_carries_dry_run() -> None:
    call = migrate_cancel.delete_request("demo", "m1", True)
    assert call.method == "DELETE"
    assert call.path == "/apis/kubevirt.io/v1/namespaces/demo/virtualmachineinstancemigrations/m1"
    assert call.body is not None and call.body["dryRun"] == ["All"]


def test_version_format() -> None:
    line = version.format_info({"gitVersion": "v1.2.3", "gitTreeState": "clean", "platform": "linux/amd64"})
    assert line == ('version.Info{GitVersion:"v1.2.3", GitCommit:"", GitTreeState:"clean", BuildDate:"", '
                    'GoVersion:"", Compiler:"", Platform:"linux/amd64"}')


def test_vnc_port_line_is_compact_json() -> None:
    assert vnc.port_line(5901) == '{"port":5901}'
