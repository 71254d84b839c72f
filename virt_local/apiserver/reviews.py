"""Review endpoints computed per request: SubjectAccessReview (and its self/local forms),
TokenReview and SelfSubjectReview. They answer from the same RBAC and authenticator the server
uses for its own requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from . import errors, rest
from .auth import Authenticator
from .httpserver import Response
from .rbac import RbacSnapshot, RequestAttributes, UserInfo


def _attrs(spec: dict[str, Any], namespace_override: str | None = None) -> RequestAttributes:
    ra = spec.get("resourceAttributes")
    nra = spec.get("nonResourceAttributes")
    if ra:
        return RequestAttributes(verb=ra.get("verb", ""), api_group=ra.get("group", ""),
                                 resource=ra.get("resource", ""), subresource=ra.get("subresource", ""),
                                 name=ra.get("name", ""),
                                 namespace=namespace_override if namespace_override is not None
                                 else ra.get("namespace", ""), resource_request=True, path="")
    if nra:
        return RequestAttributes(verb=nra.get("verb", ""), api_group="", resource="", subresource="", name="",
                                 namespace="", resource_request=False, path=nra.get("path", ""))
    raise errors.invalid("SubjectAccessReview", "authorization.k8s.io", "", [
        {"field": "spec.resourceAttributes", "reason": "FieldValueRequired",
         "message": "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified"}])


async def handle_review(call: rest.Call, *, rbac: Callable[[], RbacSnapshot], authn: Authenticator) -> Response:
    body = rest.decode_body(call.req)
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    spec = body.get("spec") or {}
    if not isinstance(spec, dict) or any(not isinstance(spec.get(k), (dict, type(None)))
                                         for k in ("resourceAttributes", "nonResourceAttributes", "extra")):
        raise errors.bad_request(f"{call.r.kind}.spec: must be an object with resourceAttributes, "
                                 "nonResourceAttributes, user, groups and extra")
    if not isinstance(spec.get("groups") or [], list):
        raise errors.bad_request(f"{call.r.kind}.spec.groups: must be a list of strings")
    plural = call.r.plural
    out: dict[str, Any] = {"kind": call.r.kind, "apiVersion": call.r.api_version,
                           "metadata": {"creationTimestamp": None}, "spec": spec}
    if plural in ("subjectaccessreviews", "localsubjectaccessreviews", "selfsubjectaccessreviews"):
        if plural == "selfsubjectaccessreviews":
            user = call.user
            out["spec"] = spec
        else:
            if not spec.get("user") and not spec.get("groups"):
                raise errors.invalid(call.r.kind, call.r.group, "", [
                    {"field": "spec.user", "reason": "FieldValueInvalid",
                     "message": "Invalid value: \"\": at least one of user or group must be specified"}])
            extra = {k: tuple(v) for k, v in (spec.get("extra") or {}).items()}
            user = UserInfo(spec.get("user", ""), tuple(spec.get("groups") or ()), uid=spec.get("uid", ""),
                            extra=extra)
        attrs = _attrs(spec, call.info.namespace if plural == "localsubjectaccessreviews" else None)
        decision = rbac().authorize(user, attrs)
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        out["status"] = status
    elif plural == "tokenreviews":
        token = spec.get("token", "")
        u = authn.from_token(token) if token else None
        if u is None:
            out["status"] = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        else:
            out["status"] = {"authenticated": True, "audiences": spec.get("audiences") or [],
                             "user": {"username": u.username, "uid": u.uid, "groups": list(u.groups)}}
    elif plural == "selfsubjectreviews":
        u = call.user
        out["status"] = {"userInfo": {"username": u.username, "uid": u.uid, "groups": list(u.groups),
                                      "extra": {k: list(v) for k, v in u.extra.items()}}}
    return Response(status=201, body=orjson.dumps(out))
