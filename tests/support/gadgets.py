"""`Gadget`, a namespaced custom resource with a status subresource, for tests that need a CRD served
by the API server (and the same kind in `FakeKube`).

`CRD` is its CustomResourceDefinition (spec and status keep unknown fields); `GADGETS` its resource.
"""

from __future__ import annotations

from typing import Any

from virt_client.resources import ResourceRef

GADGETS = ResourceRef("example.com", "v1", "gadgets", True, "Gadget")
CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                               "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}
