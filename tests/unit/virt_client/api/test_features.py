"""The supported-feature list: unsupported_fields tables, consistency with models and docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from virt_client.api.compatdoc import model_paths, rejected_paths, render
from virt_client.api.features import (
    SUPPORTED,
    SUPPORTED_INTERFACE_BINDINGS,
    SUPPORTED_NETWORK_SOURCES,
    SUPPORTED_VOLUME_SOURCES,
    is_allowed,
    unsupported_fields,
)
from virt_client.api.vmi import VirtualMachineInstanceSpec

ROOT = Path(__file__).resolve().parents[4]
DEVICES: dict[str, Any] = {"devices": {}}

CASES = [
    pytest.param({"domain": DEVICES}, [], id="minimal"),
    pytest.param(
        {
            "domain": {
                "machine": {"type": "q35"},
                "cpu": {"cores": 2, "sockets": 1, "threads": 1, "model": "host-passthrough"},
                "memory": {"guest": "512Mi"},
                "resources": {"requests": {"memory": "512Mi", "cpu": "1"}, "limits": {"memory": "1Gi"}},
                "firmware": {"uuid": "u", "serial": "s", "bootloader": {"bios": {}}},
                "features": {"acpi": {}, "apic": {"enabled": True}},
                "clock": {"utc": {}, "timezone": "Europe/Berlin"},
                "devices": {
                    "disks": [
                        {
                            "name": "a",
                            "disk": {"bus": "virtio"},
                            "bootOrder": 1,
                            "cache": "none",
                            "io": "native",
                        },
                        {"name": "b", "cdrom": {"bus": "sata", "readonly": True, "tray": "closed"}},
                        {"name": "c", "disk": {"bus": "scsi"}, "serial": "x"},
                    ],
                    "interfaces": [
                        {"name": "n", "masquerade": {}, "model": "virtio", "macAddress": "02:00:00:00:00:01"},
                    ],
                    "inputs": [{"name": "t", "type": "tablet", "bus": "virtio"}],
                    "rng": {},
                    "watchdog": {"name": "w", "i6300esb": {"action": "reset"}},
                    "autoattachSerialConsole": True,
                    "autoattachGraphicsDevice": False,
                    "autoattachMemBalloon": False,
                    "autoattachPodInterface": False,
                },
            },
            "networks": [{"name": "n", "pod": {}}],
            "volumes": [
                {
                    "name": "a",
                    "containerDisk": {"image": "i", "imagePullPolicy": "Always", "path": "/disk/x"},
                },
                {"name": "b", "cloudInitNoCloud": {"userData": "x", "networkData": "y"}},
                {"name": "c", "persistentVolumeClaim": {"claimName": "c", "readOnly": True}},
                {"name": "d", "dataVolume": {"name": "d"}},
                {"name": "e", "hostDisk": {"path": "/p", "type": "Disk"}},
                {"name": "f", "emptyDisk": {"capacity": "1Gi"}},
                {"name": "g", "ephemeral": {"persistentVolumeClaim": {"claimName": "g"}}},
            ],
            "terminationGracePeriodSeconds": 0,
            "nodeSelector": {"a": "b"},
            "affinity": {"podAntiAffinity": {"anything": [1, 2]}},
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "evictionStrategy": "LiveMigrate",
            "startStrategy": "Paused",
            "hostname": "h",
            "subdomain": "s",
            "architecture": "amd64",
        },
        [],
        id="everything-supported",
    ),
    pytest.param(
        {"domain": {"devices": {"gpus": [{"name": "g"}], "tpm": {}}}},
        ["domain.devices.gpus", "domain.devices.tpm"],
        id="unsupported-devices",
    ),
    pytest.param(
        {
            "domain": {
                "devices": {"disks": [{"name": "a", "disk": {"bus": "usb", "pciAddress": "0000:81:01.1"}}]}
            }
        },
        ["domain.devices.disks[0].disk.bus=usb", "domain.devices.disks[0].disk.pciAddress"],
        id="disk-bus-and-pci",
    ),
    pytest.param(
        {"domain": {"machine": {"type": "pc-i440fx"}, "devices": {}}},
        ["domain.machine.type=pc-i440fx"],
        id="machine-type",
    ),
    pytest.param(
        {
            "domain": {
                "devices": {
                    "interfaces": [
                        {"name": "x", "sriov": {}},
                        {"name": "y", "masquerade": {}, "ports": [{"port": 80}]},
                        {"name": "z", "bridge": {}},
                    ]
                }
            }
        },
        ["domain.devices.interfaces[0].sriov", "domain.devices.interfaces[1].ports",
         "domain.devices.interfaces[2].bridge"],
        id="interface-bindings",
    ),
    pytest.param(
        {"domain": DEVICES, "networks": [{"name": "x", "multus": {"networkName": "br"}}]},
        ["networks[0].multus"],
        id="multus",
    ),
    pytest.param(
        {
            "domain": DEVICES,
            "volumes": [
                {"name": "a", "cloudInitConfigDrive": {"userData": "x"}},
                {"name": "b", "cloudInitNoCloud": {"secretRef": {"name": "s"}}},
            ],
        },
        ["volumes[0].cloudInitConfigDrive", "volumes[1].cloudInitNoCloud.secretRef"],
        id="cloud-init-variants",
    ),
    pytest.param(
        {"domain": {"firmware": {"bootloader": {"efi": {"secureBoot": True}}}, "devices": {}}},
        ["domain.firmware.bootloader.efi.secureBoot=true"],
        id="secure-boot",
    ),
    pytest.param(
        {"domain": {"firmware": {"bootloader": {"efi": {"secureBoot": False}}}, "devices": {}}},
        [],
        id="efi-without-secure-boot",
    ),
    pytest.param(
        {
            "domain": {
                "devices": {
                    "watchdog": {"name": "w", "diag288": {}},
                    "inputs": [{"name": "k", "type": "keyboard"}],
                }
            }
        },
        ["domain.devices.watchdog.diag288", "domain.devices.inputs[0].type=keyboard"],
        id="watchdog-and-input",
    ),
    pytest.param(
        {
            "domain": {"devices": {}, "cpu": {"dedicatedCpuPlacement": True}, "features": {"hyperv": {}}},
            "livenessProbe": {},
        },
        ["domain.cpu.dedicatedCpuPlacement", "domain.features.hyperv", "livenessProbe"],
        id="cpu-pinning-hyperv-probe",
    ),
    pytest.param({"domain": DEVICES, "priorityClassName": None}, [], id="null-is-unset"),
    pytest.param({"domain": DEVICES, "somethingNew": 1}, ["somethingNew"], id="unknown-top-level"),
    pytest.param(
        {"domain": {"devices": {}, "resources": {"requests": {"nvidia.com/gpu": 1}}}},
        ["domain.resources.requests.nvidia.com/gpu"],
        id="extended-resource",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), CASES)
def test_unsupported_fields(spec: dict[str, Any], expected: list[str]) -> None:
    assert unsupported_fields(spec) == expected


MAP_FIELDS = {"domain.resources.requests", "domain.resources.limits"}


def test_every_feature_path_exists_in_the_models() -> None:
    known = set(model_paths(VirtualMachineInstanceSpec))
    for feature in SUPPORTED:
        parent = feature.path.rsplit(".", 1)[0]
        assert feature.path in known or parent in MAP_FIELDS, feature.path


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        pytest.param(
            "volume sources",
            SUPPORTED_VOLUME_SOURCES,
            (
                "cloudInitNoCloud",
                "containerDisk",
                "dataVolume",
                "emptyDisk",
                "ephemeral",
                "hostDisk",
                "persistentVolumeClaim",
            ),
            id="volumes",
        ),
        pytest.param(
            "interface bindings", SUPPORTED_INTERFACE_BINDINGS, ("masquerade",), id="bindings"
        ),
        pytest.param("network sources", SUPPORTED_NETWORK_SOURCES, ("pod",), id="networks"),
    ],
)
def test_derived_lists(name: str, values: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert values == expected, name


@pytest.mark.parametrize(
    ("pattern", "allowed"),
    [
        ("domain", True),
        ("domain.devices.disks[]", True),
        ("affinity.nodeAffinity.whatever", True),
        ("domain.devices.gpus", False),
        ("volumes[].cloudInitConfigDrive", False),
    ],
    ids=lambda v: str(v),
)
def test_is_allowed(pattern: str, allowed: bool) -> None:
    assert is_allowed(pattern) is allowed


def test_rejected_paths_are_disjoint_from_supported() -> None:
    rejected = rejected_paths()
    assert "volumes[].cloudInitConfigDrive" in rejected
    assert "networks[].multus" in rejected
    assert not any(is_allowed(p) for p in rejected)


def test_compatibility_doc_is_current() -> None:
    committed = (ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/compatibility.md is stale; run python -m virt_client.api.compatdoc"


def test_compatibility_doc_lists_every_feature() -> None:
    text = render()
    for feature in SUPPORTED:
        assert f"| `{feature.path}` |" in text
