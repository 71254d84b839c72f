"""The route table of resource requests: which handler answers an authorized request for a resource.

A request for a virtual resource (`bindings`, the access and token reviews: answered, never
stored) is routed by its plural and must be a POST; a subresource request by (subresource,
method), `*` standing for any method; any other request by its verb. A verb the resource does
not serve, or a method its subresource does not take, is 405 MethodNotAllowed; a subresource the
resource does not have is 404 NotFound, as kube-apiserver answers. Every handler has the same
signature and receives the few parts it uses through `RouteDeps`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from . import deletion, errors, rest, subresources
from .auth import Authenticator, TokenAuthority
from .httpserver import Response
from .rbac import RbacSnapshot
from .registry import ResourceTable
from .requestinfo import RequestInfo
from .reviews import handle_review
from .subresources import LogLocator

ANY_METHOD = "*"


@dataclass(frozen=True)
class RouteDeps:
    ctx: rest.Ctx
    resources: Callable[[], ResourceTable]
    rbac: Callable[[], RbacSnapshot]
    authn: Authenticator
    tokens: TokenAuthority
    log_locator: LogLocator


Handler = Callable[[RouteDeps, rest.Call], Awaitable[Response]]


async def get(d: RouteDeps, call: rest.Call) -> Response:
    return rest.get(d.ctx, call)


async def list_(d: RouteDeps, call: rest.Call) -> Response:
    return rest.list_(d.ctx, call)


async def watch(d: RouteDeps, call: rest.Call) -> Response:
    return await rest.watch(d.ctx, call)


async def create(d: RouteDeps, call: rest.Call) -> Response:
    if call.info.name:
        raise errors.method_not_allowed()
    return await rest.create(d.ctx, call)


async def update(d: RouteDeps, call: rest.Call) -> Response:
    return await rest.update(d.ctx, call)


async def patch(d: RouteDeps, call: rest.Call) -> Response:
    return await rest.patch(d.ctx, call)


async def delete(d: RouteDeps, call: rest.Call) -> Response:
    return await deletion.delete(d.ctx, call)


async def delete_collection(d: RouteDeps, call: rest.Call) -> Response:
    return await deletion.delete_collection(d.ctx, call)


async def update_status(d: RouteDeps, call: rest.Call) -> Response:
    return await rest.update(d.ctx, call, status=True)


async def patch_status(d: RouteDeps, call: rest.Call) -> Response:
    return await rest.patch(d.ctx, call, status=True)


async def scale(d: RouteDeps, call: rest.Call) -> Response:
    return await subresources.scale(d.ctx, call)


async def binding(d: RouteDeps, call: rest.Call) -> Response:
    return await subresources.binding(d.ctx, call)


async def eviction(d: RouteDeps, call: rest.Call) -> Response:
    return await subresources.eviction(d.ctx, call)


async def log(d: RouteDeps, call: rest.Call) -> Response:
    return await subresources.log(d.ctx, call, d.log_locator)


async def token(d: RouteDeps, call: rest.Call) -> Response:
    return await subresources.token(d.ctx, call, d.tokens)


async def finalize(d: RouteDeps, call: rest.Call) -> Response:
    return await subresources.finalize(d.ctx, call)


async def pod_binding(d: RouteDeps, call: rest.Call) -> Response:
    """`POST .../bindings` (the older form of `pods/binding`): the Pod is named in the body."""
    body = rest.decode_body(call.req)
    name = (body.get("metadata") or {}).get("name", "") if isinstance(body, dict) else ""
    info = call.info
    pods = d.resources().lookup("", "v1", "pods")
    assert pods is not None  # a built-in resource
    pod_call = rest.Call(req=call.req, user=call.user, r=pods,
                         info=RequestInfo(True, info.path, "create", info.api_prefix, "", "v1", info.namespace,
                                          "pods", "binding", name))
    return await subresources.binding(d.ctx, pod_call)


async def review(d: RouteDeps, call: rest.Call) -> Response:
    return await handle_review(call, rbac=d.rbac, authn=d.authn)


VIRTUAL_ROUTES: Mapping[str, Handler] = {
    "bindings": pod_binding,
    "subjectaccessreviews": review,
    "selfsubjectaccessreviews": review,
    "localsubjectaccessreviews": review,
    "tokenreviews": review,
    "selfsubjectreviews": review,
}

SUBRESOURCE_ROUTES: Mapping[tuple[str, str], Handler] = {
    ("status", "GET"): get,
    ("status", "PUT"): update_status,
    ("status", "PATCH"): patch_status,
    ("scale", ANY_METHOD): scale,
    ("binding", "POST"): binding,
    ("eviction", "POST"): eviction,
    ("log", "GET"): log,
    ("token", "POST"): token,
    ("finalize", "PUT"): finalize,
}

VERB_ROUTES: Mapping[str, Handler] = {
    "get": get,
    "list": list_,
    "watch": watch,
    "create": create,
    "update": update,
    "patch": patch,
    "delete": delete,
    "deletecollection": delete_collection,
}


def resolve(call: rest.Call) -> Handler:
    """The handler of a resource request, or the 404/405 Status error it gets instead."""
    info, r, method = call.info, call.r, call.req.method
    if r.plural in VIRTUAL_ROUTES:
        if method != "POST":
            raise errors.method_not_allowed()
        return VIRTUAL_ROUTES[r.plural]
    sub = info.subresource
    if not sub:
        handler = VERB_ROUTES.get(info.verb) if info.verb in r.verbs else None
    elif sub not in r.subresources:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource", details={})
    else:
        handler = SUBRESOURCE_ROUTES.get((sub, method)) or SUBRESOURCE_ROUTES.get((sub, ANY_METHOD))
    if handler is None:
        raise errors.method_not_allowed()
    return handler
