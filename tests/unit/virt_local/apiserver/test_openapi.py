"""OpenAPI v3 documents, checked the way kubectl 1.32 reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from virt_local.apiserver.openapi import (
    STRATEGIC_MERGE,
    document_hash,
    openapi_v3_document,
    openapi_v3_index,
    schema_name,
)
from virt_local.apiserver.resources import ResourceInfo

VM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "VirtualMachine handles the VirtualMachines that are not running or are in a stopped state.",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {"runStrategy": {"type": "string", "description": "Running state."}},
        }
    },
}
VM = ResourceInfo(
    "kubevirt.io",
    "v1",
    "virtualmachines",
    "VirtualMachine",
    True,
    subresources=("status",),
    schema=VM_SCHEMA,
    from_crd="virtualmachines.kubevirt.io",
)
VMIRS = ResourceInfo(
    "kubevirt.io",
    "v1",
    "virtualmachineinstancereplicasets",
    "VirtualMachineInstanceReplicaSet",
    True,
    subresources=("status", "scale"),
    schema={"type": "object"},
    from_crd="x",
)
POD = ResourceInfo("", "v1", "pods", "Pod", True, subresources=("status",))
NODE = ResourceInfo("", "v1", "nodes", "Node", False, verbs=("get", "list", "watch"))
ALL = [VM, VMIRS, POD, NODE]


def gvk(res: ResourceInfo) -> dict[str, str]:
    return {"group": res.group, "kind": res.kind, "version": res.version}


def patch_ops(doc: dict[str, Any], res: ResourceInfo) -> list[dict[str, Any]]:
    """Every PATCH operation kubectl could pick for the GVK (Go map order is random)."""
    return [
        p["patch"]
        for p in doc["paths"].values()
        if "patch" in p and p["patch"]["x-kubernetes-group-version-kind"] == gvk(res)
    ]


@pytest.mark.parametrize("res", [VM, VMIRS, POD], ids=lambda r: r.kind)
def test_every_patch_operation_advertises_field_validation(res: ResourceInfo) -> None:
    doc = openapi_v3_document(ALL, res.group, res.version)
    ops = patch_ops(doc, res)
    assert ops
    for op in ops:
        assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in op["parameters"])


@pytest.mark.parametrize(
    ("res", "strategic_flag", "expect_smp"),
    [
        pytest.param(VM, True, False, id="custom-resource-never"),
        pytest.param(POD, False, False, id="builtin-default-falls-back-to-compiled-types"),
        pytest.param(POD, True, True, id="builtin-opt-in"),
    ],
)
def test_strategic_merge_content_type(res: ResourceInfo, strategic_flag: bool, expect_smp: bool) -> None:
    doc = openapi_v3_document(ALL, res.group, res.version, strategic_merge_for_builtins=strategic_flag)
    for op in patch_ops(doc, res):
        content = op["requestBody"]["content"]
        assert (STRATEGIC_MERGE in content) is expect_smp
        assert {
            "application/merge-patch+json",
            "application/json-patch+json",
            "application/apply-patch+yaml",
        } <= set(content)


@pytest.mark.parametrize(
    ("res", "search_path"),
    [
        pytest.param(VM, "/apis/kubevirt.io/v1/virtualmachines", id="namespaced-all"),
        pytest.param(
            VM, "/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{name}", id="namespaced-item"
        ),
        pytest.param(POD, "/api/v1/pods", id="core"),
        pytest.param(NODE, "/api/v1/nodes/{name}", id="cluster"),
    ],
)
def test_explain_finds_gvk_and_schema(res: ResourceInfo, search_path: str) -> None:
    doc = json.loads(json.dumps(openapi_v3_document(ALL, res.group, res.version)))
    found = next(
        op["x-kubernetes-group-version-kind"]
        for m, op in doc["paths"][search_path].items()
        if m in ("get", "post", "put", "patch", "delete")
    )
    assert found == gvk(res)
    schemas = [
        s
        for s in doc["components"]["schemas"].values()
        if found in s.get("x-kubernetes-group-version-kind", [])
    ]
    assert len(schemas) == 1
    meta = schemas[0]["properties"]["metadata"]
    target = meta["allOf"][0]["$ref"].rsplit("/", 1)[1]
    assert "name" in doc["components"]["schemas"][target]["properties"]


def test_crd_schema_is_kept_and_not_mutated() -> None:
    doc = openapi_v3_document(ALL, "kubevirt.io", "v1")
    vm_schema = doc["components"]["schemas"]["io.kubevirt.v1.VirtualMachine"]
    assert vm_schema["properties"]["spec"] == VM_SCHEMA["properties"]["spec"]
    assert "apiVersion" in vm_schema["properties"] and "apiVersion" not in VM_SCHEMA["properties"]
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]
    assert (
        "/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachineinstancereplicasets/{name}/scale"
        in doc["paths"]
    )


def test_verbs_limit_operations() -> None:
    doc = openapi_v3_document(ALL, "", "v1")
    assert set(doc["paths"]["/api/v1/nodes/{name}"]) == {"parameters", "get"}


@pytest.mark.parametrize(
    ("group", "version", "kind", "expected"),
    [
        ("kubevirt.io", "v1", "VirtualMachine", "io.kubevirt.v1.VirtualMachine"),
        ("cdi.kubevirt.io", "v1beta1", "DataVolume", "io.kubevirt.cdi.v1beta1.DataVolume"),
        ("", "v1", "Pod", "io.k8s.api.core.v1.Pod"),
        ("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
        ("rbac.authorization.k8s.io", "v1", "Role", "io.k8s.api.rbac.v1.Role"),
        (
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        ),
    ],
)
def test_schema_name(group: str, version: str, kind: str, expected: str) -> None:
    assert schema_name(group, version, kind) == expected


def test_index_and_hash_are_deterministic() -> None:
    first = openapi_v3_document(ALL, "kubevirt.io", "v1")
    second = openapi_v3_document(list(reversed(ALL)), "kubevirt.io", "v1")
    assert document_hash(first) == document_hash(second)
    assert document_hash(first) != document_hash(openapi_v3_document(ALL, "", "v1"))
    index = openapi_v3_index({"api/v1": "AB", "apis/kubevirt.io/v1": "CD"})
    assert index == {
        "paths": {
            "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=AB"},
            "apis/kubevirt.io/v1": {"serverRelativeURL": "/openapi/v3/apis/kubevirt.io/v1?hash=CD"},
        }
    }
