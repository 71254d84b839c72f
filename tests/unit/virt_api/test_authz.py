"""A denied request is answered as kube-apiserver answers one: 403, a `Status` of reason Forbidden, its words."""

from __future__ import annotations

import pytest

from virt_api.authn import UserInfo
from virt_api.authz import forbidden, resource_attributes

BASE = "/apis/subresources.kubevirt.io/v1/namespaces/demo"
BOB = UserInfo("system:serviceaccount:demo:bob", ("system:authenticated",))


@pytest.mark.parametrize(("method", "path", "reason", "message", "details"), [
    ("PUT", f"{BASE}/virtualmachineinstances/vmi1/pause", "",
     'virtualmachineinstances.subresources.kubevirt.io "vmi1" is forbidden: User "system:serviceaccount:demo:bob" '
     'cannot update resource "virtualmachineinstances/pause" in API group "subresources.kubevirt.io" in the '
     'namespace "demo"',
     {"name": "vmi1", "group": "subresources.kubevirt.io", "kind": "virtualmachineinstances"}),
    ("GET", f"{BASE}/virtualmachineinstances/vmi1/console", "",
     'virtualmachineinstances.subresources.kubevirt.io "vmi1" is forbidden: User "system:serviceaccount:demo:bob" '
     'cannot get resource "virtualmachineinstances/console" in API group "subresources.kubevirt.io" in the '
     'namespace "demo"',
     {"name": "vmi1", "group": "subresources.kubevirt.io", "kind": "virtualmachineinstances"}),
    ("PUT", f"{BASE}/virtualmachines/vm1/start", 'RBAC: clusterrole.rbac.authorization.k8s.io "x" not found',
     'virtualmachines.subresources.kubevirt.io "vm1" is forbidden: User "system:serviceaccount:demo:bob" cannot '
     'update resource "virtualmachines/start" in API group "subresources.kubevirt.io" in the namespace "demo": '
     'RBAC: clusterrole.rbac.authorization.k8s.io "x" not found',
     {"name": "vm1", "group": "subresources.kubevirt.io", "kind": "virtualmachines"}),
    ("PUT", f"{BASE}/expand-vm-spec", "",
     'expand-vm-spec.subresources.kubevirt.io is forbidden: User "system:serviceaccount:demo:bob" cannot update '
     'resource "expand-vm-spec" in API group "subresources.kubevirt.io" in the namespace "demo"',
     {"group": "subresources.kubevirt.io", "kind": "expand-vm-spec"}),
], ids=["pause", "console", "with-reason", "no-name"])
def test_forbidden_status(method: str, path: str, reason: str, message: str, details: dict[str, str]) -> None:
    attributes = resource_attributes(method, path)
    assert attributes is not None
    err = forbidden(BOB, attributes, reason)
    assert err.code == 403
    assert err.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": "Forbidden", "code": 403, "details": details}


def test_user_names_are_quoted_as_go_does() -> None:
    attributes = {"verb": "get", "group": "g", "resource": "r", "name": "n", "namespace": "ns"}
    assert 'User "a\\"b" cannot get' in forbidden(UserInfo('a"b'), attributes).message
