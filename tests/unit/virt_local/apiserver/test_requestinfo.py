"""Request paths and methods → Kubernetes request attributes."""

from __future__ import annotations

import pytest

from virt_local.apiserver.requestinfo import parse


@pytest.mark.parametrize(("method", "path", "watch", "want"), [
    ("GET", "/api/v1/pods", False, ("list", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/pods", True, ("watch", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns1/pods/p1", False, ("get", "", "v1", "ns1", "pods", "", "p1")),
    ("GET", "/api/v1/namespaces/ns1/pods/p1/log", False, ("get", "", "v1", "ns1", "pods", "log", "p1")),
    ("POST", "/api/v1/namespaces/ns1/pods", False, ("create", "", "v1", "ns1", "pods", "", "")),
    ("DELETE", "/api/v1/namespaces/ns1/pods", False, ("deletecollection", "", "v1", "ns1", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns1", False, ("get", "", "v1", "ns1", "namespaces", "", "ns1")),
    ("PUT", "/api/v1/namespaces/ns1/finalize", False, ("update", "", "v1", "ns1", "namespaces", "finalize", "ns1")),
    ("PATCH", "/apis/kubevirt.io/v1/namespaces/d/virtualmachines/vm/status", False,
     ("patch", "kubevirt.io", "v1", "d", "virtualmachines", "status", "vm")),
    ("PUT", "/apis/subresources.kubevirt.io/v1/namespaces/d/virtualmachines/vm/start", False,
     ("update", "subresources.kubevirt.io", "v1", "d", "virtualmachines", "start", "vm")),
    ("GET", "/apis/example.com/v1/widgets/w", False, ("get", "example.com", "v1", "", "widgets", "", "w")),
], ids=["list", "watch", "get", "log", "create", "deletecollection", "namespace", "finalize", "status-patch",
        "aggregated", "cluster-scoped"])
def test_resource_requests(method: str, path: str, watch: bool, want: tuple[str, ...]) -> None:
    info = parse(method, path, watch)
    assert info.resource_request
    assert (info.verb, info.group, info.version, info.namespace, info.resource, info.subresource, info.name) == want


@pytest.mark.parametrize("path", ["/healthz", "/version", "/apis", "/api", "/apis/kubevirt.io", "/openapi/v3"])
def test_non_resource_paths(path: str) -> None:
    assert not parse("GET", path, False).resource_request
