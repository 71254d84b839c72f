"""The handler/launcher wire format and the libvirt state names (pure parts)."""

from __future__ import annotations

import pytest

from virt_client import launcher_protocol as proto
from virt_launcher import domain_state


def test_encode_is_one_line_and_round_trips() -> None:
    msg = proto.request(3, proto.Command.SYNC, {"vmi": {"userData": "line1\nline2"}})
    line = proto.encode(msg)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert proto.decode(line) == msg


@pytest.mark.parametrize(("line", "error"), [
    (b"not json\n", "malformed"),
    (b"[1,2]\n", "not a JSON object"),
    (b'{"id":1}\n', "unsupported protocol version"),
    (b'{"v":2,"id":1}\n', "unsupported protocol version"),
], ids=["malformed", "array", "no-version", "future-version"])
def test_decode_rejects(line: bytes, error: str) -> None:
    with pytest.raises(proto.ProtocolError, match=error):
        proto.decode(line)


@pytest.mark.parametrize(("state", "reason", "expected"), [
    (1, 1, ("Running", "Booted")), (1, 5, ("Running", "Unpaused")), (3, 1, ("Paused", "User")),
    (3, 11, ("Paused", "StartingUp")), (5, 1, ("Shutoff", "Shutdown")), (5, 2, ("Shutoff", "Destroyed")),
    (5, 3, ("Shutoff", "Crashed")), (6, 1, ("Crashed", "Panicked")), (4, 1, ("ShuttingDown", "User")),
    (5, 99, ("Shutoff", "Unknown")), (42, 0, ("NoState", "Unknown")),
], ids=lambda v: str(v))
def test_state_and_reason_names(state: int, reason: int, expected: tuple[str, str]) -> None:
    assert (domain_state.state_name(state), domain_state.reason_name(state, reason)) == expected
