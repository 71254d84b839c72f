"""The shared state's API reads and writes against the in-memory API server: the requestheader
ConfigMap and the SubjectAccessReviews (sent once per user and request, then reused)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from virt_api.authn import RequestHeaderConfig, UserInfo
from virt_api.errors import InternalError
from virt_api.handler import HandlerConnector, HandlerTLS
from virt_api.settings import Settings
from virt_api.state import SUBJECT_ACCESS_REVIEWS, ApiState
from virt_client.errors import ServerError
from virt_client.kube_fake import FakeKube
from virt_client.resources import CONFIGMAPS, ResourceRef

ATTRS = {"namespace": "demo", "verb": "update", "group": "subresources.kubevirt.io", "version": "v1",
         "resource": "virtualmachineinstances", "name": "vm1", "subresource": "pause"}


class ReviewingKube(FakeKube):
    """The fake with kube-apiserver's SubjectAccessReview answer: allowed for the users in `allowed`."""

    def __init__(self, allowed: set[str]) -> None:
        super().__init__()
        self.allowed = allowed
        self.reviews: list[dict[str, Any]] = []

    async def create(self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *,
                     dry_run: bool = False) -> dict[str, Any]:
        if ref != SUBJECT_ACCESS_REVIEWS:
            return await super().create(ref, body, namespace, dry_run=dry_run)
        self.reviews.append(dict(body))
        user = body["spec"]["user"]
        status = {"allowed": True} if user in self.allowed else {"allowed": False, "reason": "no RBAC rule"}
        return {**body, "status": status}


async def _no_version() -> object:
    return {}


def state(kube: FakeKube) -> ApiState:
    return ApiState(kube=kube, handlers=HandlerConnector(kube, addresses={}, tls=HandlerTLS()), settings=Settings(),
                    server_version=_no_version)


async def test_authorize_sends_one_review_per_user_and_request() -> None:
    kube = ReviewingKube({"alice"})
    st = state(kube)
    alice, bob = UserInfo("alice", ("system:authenticated",)), UserInfo("bob")
    assert await st.authorize(alice, ATTRS) == (True, "")
    assert await st.authorize(alice, ATTRS) == (True, "")
    assert await st.authorize(bob, ATTRS) == (False, "no RBAC rule")
    assert [(r["spec"]["user"], r["spec"]["resourceAttributes"]) for r in kube.reviews] == [
        ("alice", ATTRS), ("bob", ATTRS)]
    await st.handlers.close()


async def test_authorize_fails_as_500_when_the_review_cannot_be_sent() -> None:
    kube = FakeKube()
    kube.fail("create", SUBJECT_ACCESS_REVIEWS, ServerError(503, message="etcd unavailable"))
    st = state(kube)
    with pytest.raises(InternalError) as err:
        await st.authorize(UserInfo("alice"), ATTRS)
    assert err.value.status()["message"].startswith("Internal error occurred: unable to authorize the request: ")
    await st.handlers.close()


async def test_refresh_auth_reads_the_requestheader_configmap() -> None:
    kube = FakeKube()
    kube.seed(CONFIGMAPS, {"metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
                           "data": {"requestheader-client-ca-file": "PEM",
                                    "requestheader-allowed-names": '["front-proxy-client"]'}})
    st = state(kube)
    await st.refresh_auth()
    assert st.auth == RequestHeaderConfig(client_ca_pem="PEM", allowed_names=("front-proxy-client",))
    assert st.client_ca() == "PEM" and kube.writes == []
    await st.handlers.close()
