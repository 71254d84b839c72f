"""ResourceRef paths."""

from __future__ import annotations

import pytest

from virt_client import resources as r


@pytest.mark.parametrize(
    ("ref", "ns", "name", "sub", "path"),
    [
        (r.PODS, "ns", None, None, "/api/v1/namespaces/ns/pods"),
        (r.PODS, None, None, None, "/api/v1/pods"),
        (r.PODS, "ns", "p", "binding", "/api/v1/namespaces/ns/pods/p/binding"),
        (r.NODES, "ignored", "n1", None, "/api/v1/nodes/n1"),
        (r.VMIS, "ns", "v", "status", "/apis/kubevirt.io/v1/namespaces/ns/virtualmachineinstances/v/status"),
        (r.LEASES, "kubevirt", "virt-controller", None,
         "/apis/coordination.k8s.io/v1/namespaces/kubevirt/leases/virt-controller"),
        (r.DATAVOLUMES, "ns", None, None, "/apis/cdi.kubevirt.io/v1beta1/namespaces/ns/datavolumes"),
        (r.CONFIGMAPS, "ns", "a/b c", None, "/api/v1/namespaces/ns/configmaps/a%2Fb%20c"),
    ],
    ids=["collection", "all-namespaces", "subresource", "cluster-scoped", "crd-status", "lease", "cdi", "escaped"],
)
def test_paths(ref: r.ResourceRef, ns: str | None, name: str | None, sub: str | None, path: str) -> None:
    assert ref.path(ns, name, sub) == path


def test_api_version_and_errors() -> None:
    assert r.PODS.api_version == "v1"
    assert r.VMS.api_version == "kubevirt.io/v1"
    with pytest.raises(ValueError):
        r.PODS.path("ns", None, "status")
    with pytest.raises(ValueError):
        r.PODS.path("ns", "")
