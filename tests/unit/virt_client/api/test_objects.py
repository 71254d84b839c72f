"""Object helpers: absent and null fields read as empty, owners and keys as client-go computes them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from virt_client.api import objects
from virt_client.indexer import freeze, thaw

OWNED = {"metadata": {"name": "vmi-1", "namespace": "ns", "ownerReferences": [
    {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u-cm"},
    {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "vm-1", "uid": "u-vm", "controller": True},
]}}

CASES: list[tuple[str, Callable[[Any], Any], Any, Any]] = [
    ("phase-absent", objects.phase, {}, ""),
    ("phase-none-object", objects.phase, None, ""),
    ("phase-null-status", objects.phase, {"status": None}, ""),
    ("phase-set", objects.phase, {"status": {"phase": "Running"}}, "Running"),
    ("final-succeeded", objects.is_final, {"status": {"phase": "Succeeded"}}, True),
    ("final-failed", objects.is_final, {"status": {"phase": "Failed"}}, True),
    ("final-running", objects.is_final, {"status": {"phase": "Running"}}, False),
    ("final-none", objects.is_final, None, False),
    ("migration-final-failed", objects.is_migration_final, {"status": {"phase": "Failed"}}, True),
    ("migration-final-target-ready", objects.is_migration_final, {"status": {"phase": "TargetReady"}}, False),
    ("deleting-set", objects.is_deleting, {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}, True),
    ("deleting-null", objects.is_deleting, {"metadata": {"deletionTimestamp": None}}, False),
    ("deleting-no-metadata", objects.is_deleting, {}, False),
    ("name", objects.name, {"metadata": {"name": "a"}}, "a"),
    ("name-absent", objects.name, {}, ""),
    ("namespace-cluster-scoped", objects.namespace, {"metadata": {"name": "n"}}, ""),
    ("uid", objects.uid, {"metadata": {"uid": "u"}}, "u"),
    ("key-namespaced", objects.object_key, {"metadata": {"name": "a", "namespace": "ns"}}, "ns/a"),
    ("key-cluster-scoped", objects.object_key, {"metadata": {"name": "node-1"}}, "node-1"),
    ("labels-absent", objects.labels, {"metadata": {}}, {}),
    ("labels-null", objects.labels, {"metadata": {"labels": None}}, {}),
    ("annotations", objects.annotations, {"metadata": {"annotations": {"a": "b"}}}, {"a": "b"}),
    ("finalizers-absent", objects.finalizers, {}, ()),
    ("controller-ref-skips-non-controller", objects.controller_ref, OWNED,
     OWNED["metadata"]["ownerReferences"][1]),
    ("controller-ref-none", objects.controller_ref, {"metadata": {"ownerReferences": [{"uid": "x"}]}}, None),
    ("controller-uid", objects.controller_uid, OWNED, "u-vm"),
    ("controller-uid-none", objects.controller_uid, {}, None),
    ("owner-uids-all-in-order", objects.owner_uids, OWNED, ("u-cm", "u-vm")),
    ("controller-key-of-kind", lambda o: objects.controller_key(o, "VirtualMachine"), OWNED, "ns/vm-1"),
    ("controller-key-other-kind", lambda o: objects.controller_key(o, "VirtualMachineInstanceReplicaSet"), OWNED,
     None),
    ("controlled-by-uid", lambda o: objects.is_controlled_by(o, "u-vm"), OWNED, True),
    ("not-controlled-by-non-controller-owner", lambda o: objects.is_controlled_by(o, "u-cm"), OWNED, False),
]


@pytest.mark.parametrize(("func", "obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_helper_reads(func: Callable[[Any], Any], obj: Any, expected: Any) -> None:
    assert func(obj) == expected


@pytest.mark.parametrize(("func", "obj", "expected"), [c[1:] for c in CASES if c[2] is not None],
                         ids=[c[0] for c in CASES if c[2] is not None])
def test_helper_reads_cached_objects_alike_and_leaves_them_unchanged(
        func: Callable[[Any], Any], obj: Any, expected: Any) -> None:
    frozen = freeze(obj)
    result = func(frozen)
    assert (dict(result) if isinstance(result, Mapping) else result) == expected
    assert thaw(frozen) == obj


@pytest.mark.parametrize(("key", "expected"), [
    ("ns/a", ("ns", "a")),
    ("node-1", (None, "node-1")),
], ids=["namespaced", "cluster-scoped"])
def test_split_key_inverts_object_key(key: str, expected: tuple[str | None, str]) -> None:
    assert objects.split_key(key) == expected


def test_labels_are_the_objects_own_mapping_not_a_copy() -> None:
    labels = {"app": "x"}
    assert objects.labels({"metadata": {"labels": labels}}) is labels


def test_empty_labels_refuse_writes() -> None:
    empty = objects.labels({})
    with pytest.raises(TypeError):
        empty["app"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(("kwargs", "expected_version", "expected_kind"), [
    ({}, "kubevirt.io/v1", "VirtualMachine"),
    ({"api_version": "apps/v1", "kind": "Deployment"}, "apps/v1", "Deployment"),
], ids=["owners-own-kind", "explicit-kind"])
def test_owner_reference_points_at_the_owner_as_controller(
        kwargs: dict[str, str], expected_version: str, expected_kind: str) -> None:
    owner = freeze({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                    "metadata": {"name": "vm-1", "namespace": "ns", "uid": "u-vm"}})
    ref = objects.owner_reference(owner, **kwargs)
    assert ref == {"apiVersion": expected_version, "kind": expected_kind, "name": "vm-1", "uid": "u-vm",
                   "controller": True, "blockOwnerDeletion": True}
    assert objects.controller_uid({"metadata": {"ownerReferences": [ref]}}) == "u-vm"
