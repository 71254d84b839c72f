"""Object metadata and CustomResourceDefinition validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from virt_client.names import label_value, qualified_name
from virt_local.apiserver.schema import dns1123_label, object_meta_causes, validate_crd

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.mark.parametrize(
    ("meta", "namespaced", "expected"),
    [
        pytest.param({"name": "vm-1", "namespace": "default"}, True, [], id="ok"),
        pytest.param(
            {"name": "VM", "namespace": "default"},
            True,
            [f'metadata.name: Invalid value: "VM": {SUBDOMAIN_MSG}'],
            id="uppercase",
        ),
        pytest.param(
            {"namespace": "default"},
            True,
            ["metadata.name: Required value: name or generateName is required"],
            id="no-name",
        ),
        pytest.param({"generateName": "vm-", "namespace": "default"}, True, [], id="generate-name"),
        pytest.param({"name": "a"}, True, ["metadata.namespace: Required value"], id="no-namespace"),
        pytest.param(
            {"name": "a", "namespace": "x"},
            False,
            ["metadata.namespace: Forbidden: not allowed on this type"],
            id="cluster-scoped",
        ),
        pytest.param(
            {"name": "a", "labels": {"ok/k": "v", "bad key": "v"}},
            False,
            [
                "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ],
            id="label-key",
        ),
        pytest.param(
            {"name": "a", "annotations": {"k": "x" * (256 * 1024)}},
            False,
            ["metadata.annotations: Too long: must have at most 262144 bytes"],
            id="annotations-size",
        ),
    ],
)
def test_object_meta(meta: dict[str, Any], namespaced: bool, expected: list[str]) -> None:
    assert [str(c) for c in object_meta_causes(meta, namespaced, generate_name_ok=True)] == expected


def test_name_check_is_pluggable() -> None:
    causes = object_meta_causes({"name": "a.b"}, False, generate_name_ok=False, name_check=dns1123_label)
    assert [c.field for c in causes] == ["metadata.name"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("a", True), ("example.com/a", True), ("/a", False), ("a/b/c", False), ("x" * 64, False), ("", False)],
)
def test_qualified_name(value: str, ok: bool) -> None:
    assert (qualified_name(value) == []) is ok


@pytest.mark.parametrize(("value", "ok"), [("", True), ("v1.0", True), ("-a", False), ("a" * 64, False)])
def test_label_value(value: str, ok: bool) -> None:
    assert (label_value(value) == []) is ok


CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "virtualmachines.kubevirt.io"},
    "spec": {
        "group": "kubevirt.io",
        "names": {
            "plural": "virtualmachines",
            "singular": "virtualmachine",
            "kind": "VirtualMachine",
            "listKind": "VirtualMachineList",
            "shortNames": ["vm"],
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
                "additionalPrinterColumns": [
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                },
            }
        ],
    },
}


def crd_with(path: str, value: Any) -> dict[str, Any]:
    crd = copy.deepcopy(CRD)
    node: Any = crd
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[parts[-1]] = value
    return crd


@pytest.mark.parametrize(
    ("crd", "expected"),
    [
        pytest.param(CRD, [], id="valid"),
        pytest.param(
            crd_with("metadata.name", "vms.kubevirt.io"),
            ['metadata.name: Invalid value: "vms.kubevirt.io": must be spec.names.plural+"."+spec.group'],
            id="name",
        ),
        pytest.param(
            crd_with("spec.scope", "Global"),
            ['spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'],
            id="scope",
        ),
        pytest.param(
            crd_with("spec.versions", []),
            ["spec.versions: Required value: must have exactly one version marked as storage version"],
            id="no-versions",
        ),
        pytest.param(
            crd_with("spec.versions.0.storage", False),
            [
                'spec.versions: Invalid value: []interface {}{"v1"}: must have exactly one version marked as storage version'
            ],
            id="no-storage",
        ),
        pytest.param(
            crd_with("spec.versions.0.schema", {}),
            ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"],
            id="no-schema",
        ),
        pytest.param(
            crd_with("spec.versions.0.schema.openAPIV3Schema", {"type": "string"}),
            [
                'spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object at the root'
            ],
            id="non-structural",
        ),
        pytest.param(
            crd_with("spec.versions.0.additionalPrinterColumns", [{"name": "X", "type": "color"}]),
            [
                'spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: "color": supported values: "boolean", "date", "integer", "number", "string"',
                "spec.versions[0].additionalPrinterColumns[0].jsonPath: Required value",
            ],
            id="columns",
        ),
        pytest.param(
            crd_with("spec.versions.0.subresources.scale.specReplicasPath", ".replicas"),
            [
                'spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".replicas": should be a json path under .spec'
            ],
            id="scale",
        ),
        pytest.param(
            crd_with("spec.names.singular", "VM"),
            [
                "spec.names.singular: Invalid value: \"VM\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            ],
            id="singular",
        ),
    ],
)
def test_validate_crd(crd: dict[str, Any], expected: list[str]) -> None:
    assert [str(c) for c in validate_crd(crd)] == expected
