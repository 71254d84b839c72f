"""The API and the launcher agree: every example VMI, once virt-api's mutator has defaulted it, is turned
into a domain by virt-launcher without an unsupported field (the mutator's defaults, such as the
masquerade pod interface and `cdrom.tray: closed`, are things the launcher must implement)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from virt_api.admission import mutators
from virt_api.admission.config import AdmissionConfig
from virt_api.admission.review import AdmissionRequest
from virt_launcher import storage
from virt_launcher.converter import ConverterContext, Hypervisor, convert

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
NOW = "2026-01-01T00:00:00Z"


def _vmi_specs(path: Path) -> list[dict[str, Any]]:
    out = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["kind"] == "VirtualMachineInstance":
            out.append(doc)
        elif doc["kind"] in ("VirtualMachine", "VirtualMachineInstanceReplicaSet"):
            out.append({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                        "metadata": {"name": doc["metadata"]["name"], "namespace": "default"},
                        "spec": doc["spec"]["template"]["spec"]})
    return out


def _request(obj: dict[str, Any]) -> AdmissionRequest:
    return AdmissionRequest.from_review({"request": {
        "uid": "u1", "operation": "CREATE", "object": obj, "userInfo": {"username": "alice"},
        "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachineInstance"},
        "resource": {"group": "kubevirt.io", "version": "v1", "resource": "virtualmachineinstances"},
        "namespace": "default"}})


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
@pytest.mark.parametrize("hypervisor", [Hypervisor.EMULATION, Hypervisor.TEST], ids=["emulation", "test"])
def test_mutated_example_converts(path: Path, hypervisor: Hypervisor) -> None:
    for vmi in _vmi_specs(path):
        mutated = mutators.mutate_vmi(_request(vmi), AdmissionConfig(), NOW)
        mutated["metadata"]["uid"] = "uid-1"
        volumes = [v["name"] for v in mutated["spec"].get("volumes") or []]
        ctx = ConverterContext(
            hypervisor=hypervisor, private_dir="/run/l",
            storage=storage.StoragePaths(ephemeral_dir="/run/e", pvc_dir="/run/p", container_disk_dir="/run/c",
                                         container_disk_files={v: f"/run/c/{v}/disk/disk.qcow2" for v in volumes}),
            kernel_boot_dir="/run/c/kernel-boot")
        assert convert(mutated, ctx).name == f"default_{vmi['metadata']['name']}"
