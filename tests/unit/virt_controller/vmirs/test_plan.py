"""The replica-set controller's pure plan and status."""

from __future__ import annotations

from typing import Any

import pytest

from virt_controller.vmirs.plan import (
    CreateVMIs,
    DeleteVMIs,
    RSSnapshot,
    compute_status,
    plan,
    vmi_from_template,
)

NOW = "2024-01-01T00:00:00Z"


def rs(replicas: int | None = 2, paused: bool = False, template_name: str | None = None) -> dict[str, Any]:
    tmeta: dict[str, Any] = {"labels": {"app": "x"}}
    if template_name:
        tmeta["name"] = template_name
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "x"}}, "paused": paused,
                            "template": {"metadata": tmeta, "spec": {"domain": {"devices": {}}}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet",
            "metadata": {"name": "rs1", "namespace": "ns", "uid": "rs-uid"}, "spec": spec}


def vmi(name: str, phase: str = "Running", created: str = "2024-01-01T00:00:00Z", ready: bool = False,
        deleting: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "uid": f"uid-{name}", "creationTimestamp": created}
    if deleting:
        md["deletionTimestamp"] = NOW
    conds = [{"type": "Ready", "status": "True"}] if ready else []
    return {"metadata": md, "status": {"phase": phase, "conditions": conds}}


def snap(r: dict[str, Any], vmis: list[dict[str, Any]], satisfied: bool = True) -> RSSnapshot:
    return RSSnapshot(rs=r, vmis=vmis, expectations_satisfied=satisfied, now=NOW)


@pytest.mark.parametrize(("r", "vmis", "satisfied", "expected"), [
    (rs(2), [], True, [("create", 2)]),
    (rs(None), [], True, [("create", 1)]),
    (rs(2), [vmi("a"), vmi("b")], True, []),
    (rs(2), [vmi("a")], False, []),
    (rs(2, paused=True), [], True, []),
    (rs(1), [vmi("a"), vmi("b", "Failed")], True, [("delete", 1)]),
    (rs(2), [vmi("a"), vmi("b", "Succeeded")], True, [("delete", 1), ("create", 1)]),
    (rs(2), [vmi("a"), vmi("b", deleting=True)], True, [("create", 1)]),
    (rs(0), [vmi("a"), vmi("b")], True, [("delete", 2)]),
    (rs(300), [], True, [("create", 250)]),
], ids=["create", "default-one", "steady", "expectations", "paused", "drop-failed", "replace-succeeded",
        "deleting-not-counted", "scale-to-zero", "burst"])
def test_plan(r: dict[str, Any], vmis: list[dict[str, Any]], satisfied: bool,
              expected: list[tuple[str, int]]) -> None:
    got = [("create", a.count) if isinstance(a, CreateVMIs) else ("delete", len(a.refs))
           for a in plan(snap(r, vmis, satisfied))]
    assert got == expected


def test_scale_down_prefers_vmis_not_running() -> None:
    vmis = [vmi("running-ready", "Running", ready=True), vmi("running-old", "Running", "2024-01-01T00:00:00Z"),
            vmi("running-young", "Running", "2024-01-02T00:00:00Z"), vmi("scheduled", "Scheduled"),
            vmi("pending", "Pending")]
    [action] = plan(snap(rs(1), vmis))
    assert isinstance(action, DeleteVMIs)
    assert [n for n, _ in action.refs] == ["pending", "scheduled", "running-young", "running-old"]


def test_vmi_from_template_names() -> None:
    v = vmi_from_template(rs())
    assert v["metadata"]["generateName"] == "rs1"
    assert v["metadata"]["labels"] == {"app": "x"}
    assert v["metadata"]["ownerReferences"][0]["uid"] == "rs-uid"
    assert vmi_from_template(rs(template_name="web"))["metadata"]["generateName"] == "web"


def test_status() -> None:
    status = compute_status(snap(rs(3, paused=True), [vmi("a", ready=True), vmi("b"), vmi("c", "Failed")]),
                            failure=("FailedCreate", "quota"))
    assert (status["replicas"], status["readyReplicas"], status["labelSelector"]) == (2, 1, "app=x")
    assert {c["type"] for c in status["conditions"]} == {"ReplicaPaused", "ReplicaFailure"}
    assert "conditions" not in compute_status(snap(rs(1), []))
