"""Launcher Pod rendering against golden files, and the memory overhead formula.

Regenerate the golden files with `UPDATE_GOLDEN=1 pytest tests/unit/virt_controller`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from virt_controller.pod_render import default_pull_policy, render_launcher_pod
from virt_controller.pod_resources import MI, compute_resources, memory_overhead
from virt_controller.settings import Hypervisor, LauncherConfig

GOLDEN = Path(__file__).parent / "golden"


def vmi(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
                   "resources": {"requests": {"memory": "128Mi"}}},
        "volumes": [{"name": "root", "containerDisk": {"image": "example/cirros:0.6"}}],
    }
    base.update(spec)
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "vm1", "namespace": "demo", "uid": "1111-2222",
                         "labels": {"app": "vm1", "kubevirt.io/nodeName": "stale"},
                         "annotations": {"note": "kept", "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                         "kubevirt.io/latest-observed-api-version": "v1"}},
            "spec": base}


CASES: dict[str, tuple[dict[str, Any], LauncherConfig]] = {
    "containerdisk-test": (vmi(), LauncherConfig(hypervisor=Hypervisor.TEST)),
    "containerdisk-kvm": (vmi(), LauncherConfig(image="registry.local/launcher:v2", hypervisor=Hypervisor.KVM)),
    "scheduling-fields-emulation": (vmi(
        nodeSelector={"disk": "ssd"}, tolerations=[{"key": "k", "operator": "Exists"}],
        affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
        terminationGracePeriodSeconds=0, hostname="guest", priorityClassName="high",
    ), LauncherConfig(hypervisor=Hypervisor.EMULATION)),
    "pvc-dv-kernelboot": (vmi(
        domain={"cpu": {"cores": 2}, "memory": {"guest": "1Gi"},
                "firmware": {"kernelBoot": {"container": {"image": "example/kernel:latest"}}},
                "devices": {"autoattachGraphicsDevice": False}},
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "pvc1"}},
                 {"name": "dv", "dataVolume": {"name": "dv1"}},
                 {"name": "eph", "ephemeral": {"persistentVolumeClaim": {"claimName": "golden"}}},
                 {"name": "ci", "cloudInitNoCloud": {"userData": "#cloud-config"}}],
    ), LauncherConfig(hypervisor=Hypervisor.KVM)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_render_matches_golden(name: str) -> None:
    obj, config = CASES[name]
    pod = render_launcher_pod(obj, config, "abcde")
    text = json.dumps(pod, indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"pod-{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"rendered Pod differs from {path.name}"


def test_render_is_pure_and_keeps_input() -> None:
    obj, config = CASES["containerdisk-test"]
    before = json.dumps(obj, sort_keys=True)
    assert render_launcher_pod(obj, config, "x") == render_launcher_pod(obj, config, "x")
    assert json.dumps(obj, sort_keys=True) == before


@pytest.mark.parametrize(("domain", "hypervisor", "mib"), [
    ({}, Hypervisor.TEST, 65),
    ({"memory": {"guest": "1Gi"}}, Hypervisor.TEST, 65),
    ({"memory": {"guest": "1Gi"}}, Hypervisor.KVM, 65 + 50 + 2 + 8 + 8 + 32),
    ({"memory": {"guest": "1Gi"}, "cpu": {"cores": 2, "sockets": 2}}, Hypervisor.KVM, 65 + 50 + 2 + 32 + 8 + 32),
    ({"memory": {"guest": "1Gi"}}, Hypervisor.EMULATION, 65 + 50 + 2 + 8 + 8 + 32 + 64),
    ({"memory": {"guest": "1Gi"}, "devices": {"autoattachGraphicsDevice": False}}, Hypervisor.KVM, 65 + 50 + 2 + 16),
    ({"memory": {"guest": "100Mi", "reservedOverhead": {"addedOverhead": "10Mi"}}}, Hypervisor.TEST, 75),
], ids=["test-empty", "test-1g", "kvm-1g", "kvm-4vcpu", "emulation-1g", "kvm-no-video", "added-overhead"])
def test_memory_overhead(domain: dict[str, Any], hypervisor: Hypervisor, mib: int) -> None:
    assert memory_overhead(domain, hypervisor) == mib * MI


@pytest.mark.parametrize(("resources", "expected"), [
    ({"requests": {"memory": "128Mi"}}, {"requests": {"cpu": "100m", "memory": "193Mi"}}),
    ({"limits": {"memory": "128Mi"}}, {"requests": {"cpu": "100m", "memory": "193Mi"},
                                       "limits": {"memory": "193Mi"}}),
    ({"requests": {"memory": "128Mi", "cpu": "2"}, "overcommitGuestOverhead": True},
     {"requests": {"cpu": "2", "memory": "128Mi"}}),
], ids=["request", "limit-only", "overcommit"])
def test_compute_resources_test_mode(resources: dict[str, Any], expected: dict[str, Any]) -> None:
    assert compute_resources({"resources": resources}, Hypervisor.TEST) == expected


def test_kvm_mode_requests_the_kvm_device() -> None:
    res = compute_resources({"memory": {"guest": "64Mi"}}, Hypervisor.KVM)
    assert res["limits"]["devices.kubevirt.io/kvm"] == "1"


@pytest.mark.parametrize(("image", "policy"), [
    ("cirros", "Always"), ("a/b:latest", "Always"), ("a/b:1.0", "IfNotPresent"),
    ("host:5000/a/b", "Always"), ("a/b@sha256:00", "IfNotPresent")])
def test_default_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy
