"""Grace periods, exit reasons, memory limits, the claims two Pods may not share, and the kubelet's
event messages: the pure parts of ending a Pod's processes."""

from __future__ import annotations

from typing import Any

import pytest

from virt_local.podrunner import pod_events
from virt_local.podrunner.limits import container_memory_limit, pod_memory_limit
from virt_local.podrunner.termination import exit_reason, grace_period
from virt_local.podrunner.volume_users import Use, blockers, claims


def pod(grace: int | None = None, deletion_grace: int | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "p", "namespace": "ns", "uid": "u"}
    if deletion_grace is not None:
        md.update(deletionTimestamp="2026-01-01T00:00:00Z", deletionGracePeriodSeconds=deletion_grace)
    spec: dict[str, Any] = {} if grace is None else {"terminationGracePeriodSeconds": grace}
    return {"metadata": md, "spec": spec}


@pytest.mark.parametrize("p,gone,stopping,cap,want", [
    (pod(50), False, True, 300.0, 50.0),
    (pod(), False, True, 300.0, 30.0),
    (pod(600), False, True, 300.0, 300.0),
    (pod(50, deletion_grace=20), False, False, 300.0, 20.0),
    (pod(50, deletion_grace=20), False, True, 5.0, 5.0),
    (pod(50, deletion_grace=0), False, False, 300.0, 2.0),
    (pod(50), True, False, 300.0, 2.0),
], ids=["stop-gets-the-pods-own", "default-30", "stop-capped", "deletion-grace-wins", "deletion-during-stop-capped",
        "kubelet-minimum", "force-deleted"])
def test_grace_period(p: dict[str, Any], gone: bool, stopping: bool, cap: float, want: float) -> None:
    assert grace_period(p, gone=gone, stopping=stopping, shutdown_grace=cap) == want


@pytest.mark.parametrize("code,oom,want", [
    (0, 0, "Completed"), (1, 0, "Error"), (137, 0, "Error"), (137, 1, "OOMKilled"), (0, 1, "OOMKilled"),
], ids=["completed", "error", "killed", "oom-killed", "oom-killed-child"])
def test_exit_reason(code: int, oom: int, want: str) -> None:
    assert exit_reason(code, oom) == want


def container(limit: str | None) -> dict[str, Any]:
    return {"name": "c", "resources": {"limits": {"memory": limit}} if limit else {}}


@pytest.mark.parametrize("containers,overhead,want", [
    ([container("64Mi")], None, 64 << 20),
    ([container("64Mi"), container("1Gi")], "10Mi", (64 << 20) + (1 << 30) + (10 << 20)),
    ([container("64Mi"), container(None)], None, None),
    ([], None, None),
], ids=["one", "sum-plus-overhead", "one-unlimited-means-none", "no-containers"])
def test_pod_memory_limit(containers: list[dict[str, Any]], overhead: str | None, want: int | None) -> None:
    spec: dict[str, Any] = {"containers": containers}
    if overhead:
        spec["overhead"] = {"memory": overhead}
    assert pod_memory_limit({"spec": spec}) == want


def test_container_memory_limit_ignores_what_is_not_a_quantity() -> None:
    assert (container_memory_limit(container("1G")), container_memory_limit(container("lots"))) == (10**9, None)


def test_claims_are_namespaced() -> None:
    p = {"metadata": {"namespace": "ns"}, "spec": {"volumes": [
        {"name": "d", "persistentVolumeClaim": {"claimName": "disk"}}, {"name": "e", "emptyDir": {}}]}}
    assert claims(p) == frozenset({"ns/disk"})


@pytest.mark.parametrize("others,want", [
    ([Use("old", "ns/old", frozenset({"ns/disk"}), lambda: True)], ["old"]),
    ([Use("old", "ns/old", frozenset({"ns/disk"}), lambda: False)], []),
    ([Use("old", "ns/old", frozenset({"ns/other"}), lambda: True)], []),
    ([Use("new", "ns/new", frozenset({"ns/disk"}), lambda: True)], []),
], ids=["held-by-running-pod", "holder-has-no-processes", "other-claim", "itself"])
def test_blockers(others: list[Use], want: list[str]) -> None:
    assert [u.uid for u in blockers("new", frozenset({"ns/disk"}), others)] == want


def test_event_messages_are_the_kubelets() -> None:
    assert pod_events.back_off("compute", "virt-launcher-x", "default", "u-1") == (
        "Back-off restarting failed container compute in pod virt-launcher-x_default(u-1)")
    assert pod_events.failed_mount("cfg", 'configmap "absent" not found') == (
        'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found')
    assert pod_events.failed_pull('failed to pull image "x": not found') == 'Failed to pull image "x": not found'
    assert pod_events.error("ErrImagePull") == "Error: ErrImagePull"
