"""Golden-file tests of the VMI → domain XML converter, and refusal of every unsupported field.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit/virt_launcher`.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from virt_launcher import storage
from virt_launcher.converter import ConverterContext, Hypervisor, convert
from virt_launcher.errors import InvalidVMI, UnsupportedField

GOLDEN = Path(__file__).parent / "golden"
PRIVATE = "/var/run/kubevirt-private/1234"


def ctx(hypervisor: Hypervisor = Hypervisor.KVM) -> ConverterContext:
    return ConverterContext(
        hypervisor=hypervisor, private_dir=PRIVATE,
        storage=storage.StoragePaths(
            ephemeral_dir="/var/run/kubevirt-ephemeral-disks", pvc_dir="/var/run/kubevirt-private/vmi-disks",
            container_disk_dir="/var/run/kubevirt/container-disks",
            container_disk_files={"root": "/var/run/kubevirt/container-disks/root/disk/disk.qcow2"}),
        kernel_boot_dir="/var/run/kubevirt/container-disks/kernel-boot")


def vmi(domain: dict[str, Any] | None = None, volumes: list[dict[str, Any]] | None = None,
        **spec: Any) -> dict[str, Any]:
    dom = {"resources": {"requests": {"memory": "256Mi"}}, "devices": {}}
    dom.update(domain or {})
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "vm1", "namespace": "demo", "uid": "6f3a-uid"},
            "spec": {"domain": dom, "volumes": volumes or [], **spec}}


ROOT_VOLUME = {"name": "root", "containerDisk": {"image": "quay.io/containerdisks/tiny:latest"}}
ROOT_DISK = {"name": "root", "disk": {"bus": "virtio"}}

CASES: dict[str, tuple[Hypervisor, dict[str, Any]]] = {
    "minimal-kvm": (Hypervisor.KVM, vmi()),
    "minimal-emulation": (Hypervisor.EMULATION, vmi()),
    "minimal-test-driver": (Hypervisor.TEST, vmi()),
    "cpu-topology-emulation": (Hypervisor.EMULATION, vmi({"cpu": {"sockets": 2, "cores": 2, "threads": 1}})),
    "cpu-passthrough-kvm": (Hypervisor.KVM, vmi({"cpu": {"model": "host-passthrough", "cores": 4}})),
    "cpu-named-model": (Hypervisor.KVM, vmi({"cpu": {"model": "Haswell-noTSX"}})),
    "memory-guest": (Hypervisor.KVM, vmi({"memory": {"guest": "1Gi"}, "resources": {"limits": {"memory": "2Gi"}}})),
    "memory-limits": (Hypervisor.KVM, vmi({"resources": {"limits": {"memory": "512M"}}})),
    "firmware-uuid-serial": (Hypervisor.KVM, vmi({"firmware": {"uuid": "5d307ca9-b3ef-428c-8861-06e72d69f223",
                                                               "serial": "e4686d2c-6e8d-4335-b8fd-81bee22f4814"}})),
    "bios-serial": (Hypervisor.KVM, vmi({"firmware": {"bootloader": {"bios": {"useSerial": True}}}})),
    "efi-secure-boot": (Hypervisor.KVM, vmi({"firmware": {"bootloader": {"efi": {}}}})),
    "efi-no-secure-boot": (Hypervisor.EMULATION, vmi({"firmware": {"bootloader": {"efi": {"secureBoot": False}}}})),
    "kernel-boot": (Hypervisor.EMULATION, vmi({"firmware": {"kernelBoot": {
        "kernelArgs": "console=ttyS0 quiet", "container": {
            "image": "kernel:latest", "kernelPath": "/boot/vmlinuz", "initrdPath": "/boot/initrd.gz"}}}})),
    "features": (Hypervisor.KVM, vmi({"features": {"acpi": {"enabled": False}, "apic": {}, "smm": {}}})),
    "clock-timezone": (Hypervisor.KVM, vmi({"clock": {"timezone": "Europe/Paris"}})),
    "clock-utc-offset": (Hypervisor.KVM, vmi({"clock": {"utc": {"offsetSeconds": 3600}}})),
    "reboot-policy-terminate": (Hypervisor.KVM, vmi({"rebootPolicy": "Terminate"}, terminationGracePeriodSeconds=0)),
    "container-disk": (Hypervisor.EMULATION, vmi({"devices": {"disks": [dict(ROOT_DISK, bootOrder=1)]}}, [ROOT_VOLUME])),
    "pvc-and-datavolume": (Hypervisor.KVM, vmi(
        {"devices": {"disks": [{"name": "data", "disk": {"bus": "sata"}}, {"name": "dv", "disk": {"bus": "virtio"}}]}},
        [{"name": "data", "persistentVolumeClaim": {"claimName": "pvc-1", "readOnly": True}},
         {"name": "dv", "dataVolume": {"name": "dv-1"}}])),
    "host-disk": (Hypervisor.KVM, vmi(
        {"devices": {"disks": [{"name": "h1", "disk": {}}, {"name": "h2", "disk": {}}]}},
        [{"name": "h1", "hostDisk": {"path": "/data/h1.img", "type": "Disk", "shared": True}},
         {"name": "h2", "hostDisk": {"path": "/data/h2.img", "type": "DiskOrCreate", "capacity": "1Gi"}}])),
    "empty-disk": (Hypervisor.KVM, vmi({"devices": {"disks": [{"name": "scratch", "disk": {"bus": "virtio"}}]}},
                                       [{"name": "scratch", "emptyDisk": {"capacity": "2Gi"}}])),
    "ephemeral-pvc": (Hypervisor.KVM, vmi({"devices": {"disks": [{"name": "base", "disk": {"bus": "virtio"}}]}},
                                          [{"name": "base", "ephemeral": {"persistentVolumeClaim": {"claimName": "golden"}}}])),
    "cloud-init": (Hypervisor.KVM, vmi(
        {"devices": {"disks": [ROOT_DISK, {"name": "ci", "cdrom": {"bus": "sata", "tray": "closed"}}]}},
        [ROOT_VOLUME, {"name": "ci", "cloudInitNoCloud": {"userData": "#cloud-config\npassword: x\n",
                                                          "networkDataBase64": "dmVyc2lvbjogMgo="}}])),
    "buses": (Hypervisor.KVM, vmi(
        {"devices": {"disks": [{"name": "a", "disk": {"bus": "sata"}}, {"name": "b", "disk": {"bus": "scsi"}},
                               {"name": "c", "disk": {"bus": "virtio"}}, {"name": "d", "disk": {"bus": "usb"}},
                               {"name": "e", "disk": {"bus": "virtio"}}]}},
        [{"name": n, "emptyDisk": {"capacity": "1Gi"}} for n in "abcde"])),
    "disk-modes": (Hypervisor.KVM, vmi(
        {"devices": {"disks": [
            {"name": "a", "disk": {"bus": "virtio", "readonly": True}, "cache": "none", "io": "native",
             "errorPolicy": "report", "serial": "SER-A", "shareable": True, "bootOrder": 2},
            {"name": "b", "disk": {}, "cache": "writethrough", "io": "threads"},
            {"name": "c", "disk": {}, "io": "native"}]}},
        [{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in "abc"])),
    "devices-off": (Hypervisor.KVM, vmi({"devices": {
        "autoattachSerialConsole": False, "autoattachGraphicsDevice": False, "autoattachMemBalloon": False}})),
    "serial-without-log": (Hypervisor.KVM, vmi({"devices": {"logSerialConsole": False}})),
    "input-watchdog-rng": (Hypervisor.KVM, vmi({"devices": {
        "inputs": [{"name": "tablet0", "type": "tablet", "bus": "usb"}, {"name": "tablet1", "type": "tablet", "bus": "virtio"}],
        "watchdog": {"name": "wd", "i6300esb": {"action": "poweroff"}}, "rng": {}}})),
    "ignored-scheduling-fields": (Hypervisor.KVM, vmi(
        nodeSelector={"kubevirt.io/schedulable": "true"}, tolerations=[{"key": "x"}], evictionStrategy="LiveMigrate",
        startStrategy="Paused", priorityClassName="high", hostname="h1", networks=[])),
    "pod-network-masquerade": (Hypervisor.EMULATION, vmi(
        {"devices": {"interfaces": [{"name": "default", "model": "virtio", "masquerade": {},
                                     "macAddress": "02-00-00-AB-CD-01"}]}},
        networks=[{"name": "default", "pod": {}}])),
    "pod-network-default-model": (Hypervisor.KVM, vmi(
        {"devices": {"interfaces": [{"name": "net0", "masquerade": {}}], "autoattachPodInterface": True}},
        networks=[{"name": "net0", "pod": {}}])),
    "pod-network-test-driver": (Hypervisor.TEST, vmi(
        {"devices": {"interfaces": [{"name": "default", "masquerade": {}}]}},
        networks=[{"name": "default", "pod": {}}])),
    "no-pod-interface": (Hypervisor.KVM, vmi({"devices": {"autoattachPodInterface": False}})),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_domain_xml_matches_golden(case: str) -> None:
    hypervisor, spec = CASES[case]
    xml = convert(copy.deepcopy(spec), ctx(hypervisor)).xml
    path = GOLDEN / f"{case}.xml"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(xml)
    assert path.exists(), f"golden file {path.name} missing; run with UPDATE_GOLDEN=1"
    assert xml == path.read_text()


def test_conversion_is_deterministic() -> None:
    hypervisor, spec = CASES["cloud-init"]
    assert convert(copy.deepcopy(spec), ctx(hypervisor)) == convert(copy.deepcopy(spec), ctx(hypervisor))


def test_start_strategy_paused_and_grace_period() -> None:
    result = convert(vmi(startStrategy="Paused", terminationGracePeriodSeconds=7), ctx())
    assert (result.start_paused, result.grace_period, result.name) == (True, 7, "demo_vm1")


@pytest.mark.parametrize(("case", "expected"), [
    ("container-disk", [storage.CreateOverlay("/var/run/kubevirt-ephemeral-disks/disk-data/root/disk.qcow2",
                                              "/var/run/kubevirt/container-disks/root/disk/disk.qcow2")]),
    ("empty-disk", [storage.CreateEmptyDisk("/var/run/kubevirt-ephemeral-disks/empty-disks/scratch.qcow2", 2 * 2**30)]),
    ("ephemeral-pvc", [storage.RequireFile("/var/run/kubevirt-private/vmi-disks/base/disk.img", "spec.volumes[0].ephemeral"),
                       storage.CreateOverlay("/var/run/kubevirt-ephemeral-disks/disk-data/base/disk.qcow2",
                                             "/var/run/kubevirt-private/vmi-disks/base/disk.img")]),
    ("host-disk", [storage.RequireFile("/data/h1.img", "spec.volumes[0].hostDisk"),
                   storage.CreateRawDiskIfMissing("/data/h2.img", 2**30)]),
    ("cloud-init", [storage.CreateOverlay("/var/run/kubevirt-ephemeral-disks/disk-data/root/disk.qcow2",
                                          "/var/run/kubevirt/container-disks/root/disk/disk.qcow2"),
                    storage.CreateCloudInitIso("/var/run/kubevirt-ephemeral-disks/cloud-init/ci/noCloud.iso", (
                        ("meta-data", b"instance-id: 6f3a-uid\nlocal-hostname: vm1\n"),
                        ("user-data", b"#cloud-config\npassword: x\n"),
                        ("network-config", b"version: 2\n")))]),
], ids=["container-disk", "empty-disk", "ephemeral-pvc", "host-disk", "cloud-init"])
def test_disk_preparation_actions(case: str, expected: list[storage.DiskAction]) -> None:
    hypervisor, spec = CASES[case]
    assert list(convert(copy.deepcopy(spec), ctx(hypervisor)).actions) == expected


def _set(root: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path with [i] indexes, creating objects on the way."""
    obj: Any = root
    parts = path.replace("[", ".[").split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part.startswith("["):
            obj = obj[int(part[1:-1])]
            continue
        if last:
            obj[part] = value
        else:
            obj = obj.setdefault(part, {})


def _disk_vmi() -> dict[str, Any]:
    return copy.deepcopy(vmi({"devices": {"disks": [ROOT_DISK, {"name": "ci", "cdrom": {}}]}},
                             [ROOT_VOLUME, {"name": "ci", "cloudInitNoCloud": {"userData": "x"}}]))


UNSUPPORTED = [
    "spec.accessCredentials", "spec.domain.devices.gpus",
    "spec.domain.devices.hostDevices", "spec.domain.devices.filesystems", "spec.domain.devices.tpm",
    "spec.domain.devices.sound", "spec.domain.devices.panicDevices", "spec.domain.devices.clientPassthrough",
    "spec.domain.devices.downwardMetrics", "spec.domain.devices.blockMultiQueue",
    "spec.domain.devices.networkInterfaceMultiqueue", "spec.domain.devices.useVirtioTransitional",
    "spec.domain.devices.autoattachVSOCK", "spec.domain.devices.video", "spec.domain.features.hyperv",
    "spec.domain.features.kvm", "spec.domain.features.pvspinlock", "spec.domain.features.hypervPassthrough",
    "spec.domain.cpu.dedicatedCpuPlacement", "spec.domain.cpu.features", "spec.domain.cpu.numa",
    "spec.domain.cpu.maxSockets", "spec.domain.cpu.isolateEmulatorThread", "spec.domain.cpu.realtime",
    "spec.domain.memory.hugepages", "spec.domain.memory.maxGuest", "spec.domain.memory.reservedOverhead",
    "spec.domain.firmware.acpi", "spec.domain.firmware.bootloader.efi.persistent", "spec.domain.clock.timer",
    "spec.domain.ioThreadsPolicy", "spec.domain.chassis", "spec.domain.launchSecurity",
    "spec.domain.devices.disks[0].dedicatedIOThread", "spec.domain.devices.disks[0].tag",
    "spec.domain.devices.disks[0].blockSize", "spec.domain.devices.disks[0].lun",
    "spec.domain.devices.disks[0].changedBlockTracking", "spec.domain.devices.disks[0].disk.pciAddress",
"spec.volumes[1].cloudInitNoCloud.secretRef",
    "spec.volumes[1].cloudInitNoCloud.networkDataSecretRef", "spec.volumes[0].configMap",
    "spec.volumes[0].secret", "spec.volumes[0].cloudInitConfigDrive", "spec.volumes[0].sysprep",
    "spec.volumes[0].serviceAccount", "spec.volumes[0].downwardAPI", "spec.volumes[0].memoryDump",
    "spec.resourceClaims", "spec.utilityVolumes", "spec.domain.devices.inputs[0].unknownField",
    "spec.domain.devices.watchdog.diag288", "spec.domain.devices.rng.unknownField",
]


@pytest.mark.parametrize("field", UNSUPPORTED, ids=UNSUPPORTED)
def test_unsupported_field_is_refused_with_its_name(field: str) -> None:
    spec = _disk_vmi()
    if field.startswith("spec.domain.devices.inputs[0]"):
        spec["spec"]["domain"]["devices"]["inputs"] = [{"type": "tablet"}]
    if field.startswith("spec.domain.devices.watchdog"):
        spec["spec"]["domain"]["devices"]["watchdog"] = {"name": "w"}
    if field.startswith("spec.domain.firmware.bootloader.efi"):
        spec["spec"]["domain"]["firmware"] = {"bootloader": {"efi": {}}}
    if field.startswith("spec.volumes[0]."):
        spec["spec"]["volumes"][0] = {"name": "root"}
    _set(spec, field, [{"name": "x"}] if field.endswith(("interfaces", "gpus", "networks")) else {"x": 1})
    with pytest.raises(UnsupportedField) as excinfo:
        convert(spec, ctx())
    assert excinfo.value.field == field
    assert str(excinfo.value).startswith(f"{field}: is not supported")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("spec.domain.devices.disks[0].disk.bus", "ide", "must be one of"),
    ("spec.domain.devices.disks[1].cdrom.bus", "virtio", "cannot use the virtio bus"),
    ("spec.domain.devices.disks[0].cache", "unsafe", "must be one of"),
    ("spec.domain.devices.disks[0].io", "native", "native I/O needs cache 'none'"),
    ("spec.domain.machine.type", "pc-i440fx-7.2", "only q35"),
    ("spec.domain.resources.requests.memory", "lots", "not a resource quantity"),
    ("spec.domain.firmware.uuid", "not-a-uuid", "is not a UUID"),
    ("spec.domain.devices.disks[0].name", "missing", "no volume named"),
    ("spec.domain.devices.disks[1].cdrom.tray", "open", "only a closed tray"),
    ("spec.architecture", "arm64", "only amd64"),
    ("spec.startStrategy", "Later", "must be Paused"),
    ("spec.domain.cpu.cores", 0, "integer >= 1"),
], ids=lambda v: str(v))
def test_invalid_value_names_the_field(field: str, value: Any, message: str) -> None:
    spec = _disk_vmi()
    if field.endswith(".io"):
        spec["spec"]["domain"]["devices"]["disks"][0]["cache"] = "writeback"
    _set(spec, field, value)
    with pytest.raises(InvalidVMI) as excinfo:
        convert(spec, ctx())
    assert excinfo.value.field == field
    assert message in str(excinfo.value)


def _net_vmi(**iface: Any) -> dict[str, Any]:
    return vmi({"devices": {"interfaces": [{"name": "default", **iface}]}}, networks=[{"name": "default", "pod": {}}])


@pytest.mark.parametrize(("spec", "field", "message"), [
    (_net_vmi(bridge={}), "spec.domain.devices.interfaces[0].bridge", "use masquerade"),
    (_net_vmi(sriov={}), "spec.domain.devices.interfaces[0].sriov", "is not supported"),
    (_net_vmi(masquerade={}, ports=[{"port": 80}]), "spec.domain.devices.interfaces[0].ports", "is not supported"),
    (_net_vmi(masquerade={}, model="e1000"), "spec.domain.devices.interfaces[0].model", "only virtio"),
    (_net_vmi(masquerade={}, macAddress="02:00:00"), "spec.domain.devices.interfaces[0].macAddress", "not a MAC"),
    (_net_vmi(), "spec.domain.devices.interfaces[0]", "needs a binding"),
    (vmi({"devices": {"interfaces": [{"name": "other", "masquerade": {}}]}}, networks=[{"name": "default", "pod": {}}]),
     "spec.domain.devices.interfaces[0].name", "no network named 'other'"),
    (vmi(networks=[{"name": "m", "multus": {"networkName": "br"}}]), "spec.networks[0].multus", "is not supported"),
    (vmi(networks=[{"name": "a", "pod": {}}, {"name": "b", "pod": {}}]), "spec.networks[1]", "only one pod network"),
    (vmi(networks=[{"name": "a", "pod": {"vmNetworkCIDR": "10.1.0.0/24"}}]), "spec.networks[0].pod.vmNetworkCIDR",
     "is not supported"),
], ids=["bridge", "sriov", "ports", "model", "mac", "no-binding", "no-network", "multus", "two-pod-networks", "cidr"])
def test_network_refusals_name_the_field(spec: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidVMI) as excinfo:
        convert(spec, ctx())
    assert excinfo.value.field == field
    assert message in str(excinfo.value)


def test_missing_memory_and_unused_volume_are_refused() -> None:
    spec = vmi(volumes=[{"name": "lonely", "emptyDisk": {"capacity": "1Gi"}}])
    with pytest.raises(InvalidVMI, match=r"spec.volumes\[0\]: volume 'lonely' is not used"):
        convert(spec, ctx())
    spec = vmi()
    del spec["spec"]["domain"]["resources"]
    with pytest.raises(InvalidVMI, match="spec.domain.memory.guest"):
        convert(spec, ctx())
