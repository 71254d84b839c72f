"""Metadata lifecycle on create, update and status writes."""

from __future__ import annotations

from typing import Any

import pytest

from virt_client.object_rules import prepare_create, prepare_status_update, prepare_update


def _create(obj: dict[str, Any], status_sub: bool = True) -> dict[str, Any]:
    return prepare_create(obj, namespace="ns", now="2026-01-01T00:00:00Z", new_uid=lambda: "u1",
                          has_status_subresource=status_sub, api_version="x.io/v1", kind="Thing")


def test_create_fills_system_fields_and_drops_status() -> None:
    out = _create({"metadata": {"name": "a", "uid": "forged", "resourceVersion": "9"}, "spec": {"a": 1},
                   "status": {"s": 1}})
    assert out["metadata"] == {"name": "a", "namespace": "ns", "uid": "u1",
                               "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 1}
    assert "status" not in out and out["apiVersion"] == "x.io/v1" and out["kind"] == "Thing"


def test_generate_name() -> None:
    out = _create({"metadata": {"generateName": "virt-launcher-vm-"}})
    name = out["metadata"]["name"]
    assert name.startswith("virt-launcher-vm-") and len(name) == len("virt-launcher-vm-") + 5


OLD = {"apiVersion": "x.io/v1", "kind": "Thing",
       "metadata": {"name": "a", "namespace": "ns", "uid": "u1", "generation": 3, "creationTimestamp": "t"},
       "spec": {"a": 1}, "status": {"s": "old"}}


@pytest.mark.parametrize(("new", "status_sub", "generation", "status"), [
    ({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"a": 1}, "status": {"s": "new"}}, True, 3, "old"),
    ({"metadata": {"name": "a"}, "spec": {"a": 2}}, True, 4, "old"),
    ({"metadata": {"name": "a"}, "spec": {"a": 1}, "status": {"s": "new"}}, False, 3, "new"),
], ids=["labels-only", "spec-change", "no-status-subresource"])
def test_update_generation_and_status_split(new: dict[str, Any], status_sub: bool, generation: int,
                                            status: str) -> None:
    out = prepare_update(new, OLD, has_status_subresource=status_sub, api_version="x.io/v1", kind="Thing")
    assert out["metadata"]["generation"] == generation
    assert out["status"]["s"] == status
    assert out["metadata"]["uid"] == "u1" and out["metadata"]["creationTimestamp"] == "t"


def test_status_update_changes_status_only() -> None:
    out = prepare_status_update({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"a": 9},
                                 "status": {"s": "new"}}, OLD)
    assert out["spec"] == {"a": 1} and out["status"] == {"s": "new"} and "labels" not in out["metadata"]
