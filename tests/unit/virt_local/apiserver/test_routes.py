"""The route table of resource requests: each request kind resolves to the handler that answered
it before the table existed (the former if-chain), and the 404/405 answers stay where they were."""

from __future__ import annotations

from typing import cast

import pytest

from virt_local.apiserver import errors, rest, routes
from virt_local.apiserver.httpserver import Request
from virt_local.apiserver.rbac import UserInfo
from virt_local.apiserver.registry import ResourceTable
from virt_local.apiserver.requestinfo import parse

TABLE = ResourceTable()
POD = "/api/v1/namespaces/ns/pods/p"


def _call(method: str, path: str, *, watch: bool = False) -> rest.Call:
    info = parse(method, path, watch)
    r = TABLE.lookup(info.group, info.version, info.resource)
    assert r is not None, path
    req = Request(method=method, path=path, raw_query="", query={}, headers={}, header_list=[], body=b"",
                  peer_cert=None)
    return rest.Call(req=req, info=info, r=r, user=UserInfo("alice", ()))


@pytest.mark.parametrize("method, path, watch, handler", [
    ("GET", POD, False, routes.get),
    ("HEAD", POD, False, routes.get),
    ("GET", "/api/v1/namespaces/ns/pods", False, routes.list_),
    ("GET", "/api/v1/namespaces/ns/pods", True, routes.watch),
    ("POST", "/api/v1/namespaces/ns/pods", False, routes.create),
    ("POST", POD, False, routes.create),  # answers 405 itself: a create names no object in the path
    ("PUT", POD, False, routes.update),
    ("PATCH", POD, False, routes.patch),
    ("DELETE", POD, False, routes.delete),
    ("DELETE", "/api/v1/namespaces/ns/pods", False, routes.delete_collection),
    ("GET", POD + "/status", False, routes.get),
    ("PUT", POD + "/status", False, routes.update_status),
    ("PATCH", POD + "/status", False, routes.patch_status),
    ("GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale", False, routes.scale),
    ("PUT", "/apis/apps/v1/namespaces/ns/replicasets/r/scale", False, routes.scale),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", False, routes.scale),
    ("POST", POD + "/binding", False, routes.binding),
    ("POST", POD + "/eviction", False, routes.eviction),
    ("GET", POD + "/log", False, routes.log),
    ("POST", "/api/v1/namespaces/ns/serviceaccounts/default/token", False, routes.token),
    ("PUT", "/api/v1/namespaces/ns/finalize", False, routes.finalize),
    ("POST", "/api/v1/namespaces/ns/bindings", False, routes.pod_binding),
    ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", False, routes.review),
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", False, routes.review),
    ("POST", "/apis/authorization.k8s.io/v1/namespaces/ns/localsubjectaccessreviews", False, routes.review),
    ("POST", "/apis/authentication.k8s.io/v1/tokenreviews", False, routes.review),
    ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", False, routes.review),
], ids=lambda v: v if isinstance(v, str) else None)
def test_route_resolves(method: str, path: str, watch: bool, handler: routes.Handler) -> None:
    assert routes.resolve(_call(method, path, watch=watch)) is handler


@pytest.mark.parametrize("method, path, code", [
    ("DELETE", POD + "/status", 405),
    ("POST", POD + "/status", 405),
    ("GET", POD + "/binding", 405),
    ("GET", POD + "/eviction", 405),
    ("PUT", POD + "/log", 405),
    ("GET", "/api/v1/namespaces/ns/serviceaccounts/default/token", 405),
    ("GET", "/api/v1/namespaces/ns/finalize", 405),
    ("GET", "/api/v1/namespaces/ns/bindings", 405),
    ("GET", "/apis/authentication.k8s.io/v1/tokenreviews", 405),
    ("DELETE", "/api/v1/namespaces", 405),  # namespaces serve no deletecollection
    ("GET", POD + "/exec", 404),
    ("GET", "/api/v1/nodes/n/log", 404),
], ids=lambda v: v if isinstance(v, str) else None)
def test_route_refused(method: str, path: str, code: int) -> None:
    with pytest.raises(errors.ApiError) as refused:
        routes.resolve(_call(method, path))
    assert refused.value.code == code


async def test_create_with_a_name_in_the_path_is_405() -> None:
    with pytest.raises(errors.ApiError) as refused:
        await routes.create(cast(routes.RouteDeps, None), _call("POST", POD))
    assert refused.value.code == 405


def test_every_handler_is_routed() -> None:
    tables = [*routes.VERB_ROUTES.values(), *routes.SUBRESOURCE_ROUTES.values(), *routes.VIRTUAL_ROUTES.values()]
    handlers = {v for k, v in vars(routes).items() if callable(v) and getattr(v, "__module__", "") == routes.__name__
                and k not in ("resolve", "RouteDeps")}
    assert handlers == set(tables)
