"""The guard in front of every route: who is refused, with which code and body, before the app runs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

import orjson
import pytest

from virt_api.authn import RequestHeaderConfig, UserInfo
from virt_api.guard import Guard, Message, Receive, Scope, Send
from virt_api.state import ApiState
from virt_client.tls import generate_ca, issue_certificate

CA = generate_ca("front-proxy-ca")
FRONT_PROXY = issue_certificate(CA, "front-proxy-client", client=True).cert_pem.decode()
CONFIG = RequestHeaderConfig(client_ca_pem=CA.cert_pem.decode(), allowed_names=("front-proxy-client",))
PAUSE = "/apis/subresources.kubevirt.io/v1/namespaces/demo/virtualmachineinstances/vmi1/pause"


class ReviewingState:
    """The part of `ApiState` the guard reads: the requestheader config and the SAR answer."""

    def __init__(self, allowed: bool, reason: str = "") -> None:
        self.auth = CONFIG
        self.answer = (allowed, reason)
        self.asked: list[tuple[UserInfo, Mapping[str, str]]] = []

    async def authorize(self, user: UserInfo, attributes: Mapping[str, str]) -> tuple[bool, str]:
        self.asked.append((user, attributes))
        return self.answer


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})


def call(state: ReviewingState, *, cert: str | None, user: bytes = b"bob") -> tuple[int, bytes, dict[str, str]]:
    scope: Scope = {"type": "http", "method": "PUT", "path": PAUSE,
                    "headers": [(b"x-remote-user", user), (b"x-remote-group", b"system:authenticated")],
                    "extensions": {"tls": {"client_cert_chain": [cert] if cert else []}}}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    guard = Guard(app, cast(ApiState, state), frozenset())
    asyncio.run(guard(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return int(start["status"]), body, headers


def test_denied_user_gets_403_status() -> None:
    state = ReviewingState(False)
    code, body, headers = call(state, cert=FRONT_PROXY)
    assert (code, headers["content-type"]) == (403, "application/json")
    status: dict[str, Any] = orjson.loads(body)
    assert status["reason"] == "Forbidden" and status["code"] == 403
    assert status["message"] == ('virtualmachineinstances.subresources.kubevirt.io "vmi1" is forbidden: User "bob" '
                                 'cannot update resource "virtualmachineinstances/pause" in API group '
                                 '"subresources.kubevirt.io" in the namespace "demo"')
    assert [u.username for u, _ in state.asked] == ["bob"]


@pytest.mark.parametrize(("cert", "user"), [(None, b"bob"), (FRONT_PROXY, b"")], ids=["no-certificate", "no-user"])
def test_unauthenticated_stays_401(cert: str | None, user: bytes) -> None:
    state = ReviewingState(True)
    assert call(state, cert=cert, user=user)[:2] == (401, b"request is not authenticated")
    assert state.asked == []


def test_allowed_user_reaches_the_app() -> None:
    assert call(ReviewingState(True), cert=FRONT_PROXY)[:2] == (200, b"served")
