"""Turns a request path and method into Kubernetes request attributes (RequestInfo).

Mirrors k8s.io/apiserver's RequestInfoFactory for the paths we serve: `/api/v1/...`,
`/apis/<group>/<version>/...`, namespaced and cluster-scoped resources, subresources and the
verb derived from the method (get/list/watch/create/update/patch/delete/deletecollection).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True)
class RequestInfo:
    resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete", "GET": "get",
                 "HEAD": "get"}


def parse(method: str, path: str, watch: bool, namespaced_plural: set[str] | None = None) -> RequestInfo:
    segs = [unquote(s) for s in path.strip("/").split("/") if s]
    lower_method = _METHOD_VERBS.get(method, method.lower())
    if not segs or segs[0] not in ("api", "apis"):
        return RequestInfo(False, path, lower_method)
    if segs[0] == "api":
        if len(segs) < 2:
            return RequestInfo(False, path, lower_method)
        prefix, group, version, rest = "api", "", segs[1], segs[2:]
    else:
        if len(segs) < 3:
            return RequestInfo(False, path, lower_method)
        prefix, group, version, rest = "apis", segs[1], segs[2], segs[3:]
    if not rest:
        return RequestInfo(False, path, lower_method, prefix, group, version)
    namespace = ""
    # /namespaces/{ns}/{resource}... unless it addresses the namespace object itself
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) >= 2:
        namespace = rest[1]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = "/".join(rest[2:]) if len(rest) > 2 else ""
    verb = lower_method
    if method in ("GET", "HEAD") and not name:
        verb = "watch" if watch else "list"
    elif method in ("GET", "HEAD") and watch:
        verb = "watch"
    elif method == "DELETE" and not name:
        verb = "deletecollection"
    return RequestInfo(True, path, verb, prefix, group, version, namespace, resource, sub, name, tuple(rest))
