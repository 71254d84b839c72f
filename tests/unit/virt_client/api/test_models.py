"""Round-trip and behaviour tests for the typed KubeVirt/CDI models."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from virt_client.api.constants import RunStrategy
from virt_client.api.datavolume import DataVolume
from virt_client.api.meta import KubeModel, LabelSelector, LabelSelectorRequirement
from virt_client.api.migration import VirtualMachineInstanceMigration
from virt_client.api.options import (
    AddVolumeOptions,
    MigrateOptions,
    PauseOptions,
    RemoveVolumeOptions,
    RestartOptions,
    StartOptions,
    StopOptions,
    UnpauseOptions,
)
from virt_client.api.replicaset import (
    VirtualMachineInstanceReplicaSet,
    VirtualMachineInstanceReplicaSetSpec,
    desired_replicas,
    selector_string,
)
from virt_client.api.vm import RunStrategyConflict, VirtualMachine, VirtualMachineSpec, effective_run_strategy
from virt_client.api.vmi import VirtualMachineInstance

VMI_FULL: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachineInstance",
    "metadata": {
        "name": "vm1",
        "namespace": "demo",
        "uid": "1234",
        "labels": {"kubevirt.io/nodeName": "node01"},
        "finalizers": ["kubevirt.io/foregroundDeleteVirtualMachine"],
        "ownerReferences": [
            {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine",
                "name": "vm1",
                "uid": "abcd",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    },
    "spec": {
        "architecture": "amd64",
        "domain": {
            "machine": {"type": "q35"},
            "cpu": {"cores": 1, "sockets": 1, "threads": 1, "model": "host-model"},
            "memory": {"guest": "1Gi"},
            "resources": {"requests": {"memory": "1Gi", "cpu": "100m"}, "limits": {"cpu": 2}},
            "firmware": {
                "uuid": "5d307ca9-b3ef-428c-8861-06e72d69f223",
                "serial": "s1",
                "bootloader": {"efi": {"secureBoot": False}},
                "kernelBoot": {
                    "kernelArgs": "console=ttyS0",
                    "container": {
                        "image": "k:latest",
                        "kernelPath": "/boot/vmlinuz",
                        "initrdPath": "/boot/i",
                    },
                },
            },
            "features": {"acpi": {}, "apic": {"enabled": True}, "hyperv": {"relaxed": {}}},
            "clock": {"utc": {"offsetSeconds": 3600}, "timer": {"rtc": {"present": True}}},
            "devices": {
                "disks": [
                    {
                        "name": "root",
                        "disk": {"bus": "virtio"},
                        "bootOrder": 1,
                        "cache": "none",
                        "io": "native",
                    },
                    {"name": "cd", "cdrom": {"bus": "sata", "readonly": True, "tray": "closed"}},
                    {"name": "lun", "lun": {"bus": "scsi"}, "serial": "abc", "dedicatedIOThread": True},
                ],
                "interfaces": [
                    {"name": "default", "masquerade": {}, "ports": [{"port": 80, "name": "http"}]}
                ],
                "inputs": [{"name": "tablet", "type": "tablet", "bus": "usb"}],
                "rng": {},
                "watchdog": {"name": "w", "i6300esb": {"action": "poweroff"}},
                "autoattachSerialConsole": True,
                "autoattachGraphicsDevice": False,
                "autoattachMemBalloon": False,
                "autoattachVSOCK": False,
                "gpus": [{"name": "gpu1", "deviceName": "nvidia.com/GP102"}],
            },
        },
        "networks": [{"name": "default", "pod": {"vmNetworkCIDR": "10.0.2.0/24"}}],
        "volumes": [
            {"name": "root", "containerDisk": {"image": "quay.io/x:latest", "imagePullPolicy": "Always"}},
            {"name": "cd", "cloudInitNoCloud": {"userData": "#cloud-config\n"}},
            {"name": "lun", "persistentVolumeClaim": {"claimName": "p", "readOnly": False}},
            {"name": "dv", "dataVolume": {"name": "dv1"}},
            {"name": "hd", "hostDisk": {"path": "/data/disk.img", "type": "DiskOrCreate", "capacity": "1Gi"}},
            {"name": "ed", "emptyDisk": {"capacity": "2Gi"}},
            {"name": "eph", "ephemeral": {"persistentVolumeClaim": {"claimName": "ro"}}},
            {"name": "cfg", "cloudInitConfigDrive": {"userDataBase64": "eA=="}},
            {"name": "da", "downwardAPI": {"fields": [{"path": "labels", "fieldRef": {"fieldPath": "x"}}]}},
        ],
        "terminationGracePeriodSeconds": 30,
        "evictionStrategy": "LiveMigrate",
        "nodeSelector": {"kubernetes.io/hostname": "node01"},
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
        },
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        "hostname": "h",
        "subdomain": "s",
    },
    "status": {
        "phase": "Running",
        "nodeName": "node01",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            },
            {
                "type": "LiveMigratable",
                "status": "False",
                "reason": "InterfaceNotLiveMigratable",
                "message": "m",
            },
        ],
        "phaseTransitionTimestamps": [
            {"phase": "Pending", "phaseTransitionTimestamp": "2024-01-01T00:00:00Z"}
        ],
        "interfaces": [
            {
                "ipAddress": "10.244.0.5",
                "ipAddresses": ["10.244.0.5"],
                "mac": "52:54:00:00:00:01",
                "name": "default",
            }
        ],
        "guestOSInfo": {"id": "fedora"},
        "migrationState": {
            "targetNode": "node02",
            "sourceNode": "node01",
            "completed": True,
            "targetDirectMigrationNodePorts": {"43567": 49152},
            "targetAttachmentPodUID": "u",
            "mode": "PreCopy",
            "abortStatus": "Succeeded",
        },
        "activePods": {"pod-uid": "node01"},
        "qosClass": "Burstable",
        "runtimeUser": 107,
        "VSOCKCID": 3,
        "currentCPUTopology": {"cores": 1, "sockets": 1, "threads": 1},
        "memory": {"guestAtBoot": "1Gi", "guestCurrent": "1Gi"},
        "migrationTransport": "Unix",
        "launcherContainerImageVersion": "v1",
    },
}

VM_FULL: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachine",
    "metadata": {"name": "vm1", "namespace": "demo", "generation": 3},
    "spec": {
        "runStrategy": "Manual",
        "template": {
            "metadata": {"labels": {"app": "vm1"}, "creationTimestamp": None},
            "spec": VMI_FULL["spec"],
        },
        "dataVolumeTemplates": [
            {
                "metadata": {"name": "dv1"},
                "spec": {"source": {"blank": {}}, "storage": {"resources": {"requests": {"storage": "1Gi"}}}},
            }
        ],
    },
    "status": {
        "printableStatus": "Running",
        "ready": True,
        "created": True,
        "conditions": [{"type": "Ready", "status": "True"}],
        "stateChangeRequests": [
            {"action": "Stop", "uid": "1234"},
            {"action": "Start", "data": {"paused": "true"}},
        ],
        "startFailure": {
            "consecutiveFailCount": 2,
            "lastFailedVMIUID": "x",
            "retryAfterTimestamp": "2024-01-01T00:00:00Z",
        },
        "observedGeneration": 3,
        "desiredGeneration": 3,
        "runStrategy": "Manual",
    },
}

VMIM_FULL: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachineInstanceMigration",
    "metadata": {"generateName": "kubevirt-migrate-vm-", "labels": {"kubevirt.io/vmi-name": "vm1"}},
    "spec": {"vmiName": "vm1", "addedNodeSelector": {"zone": "a"}},
    "status": {
        "phase": "Succeeded",
        "phaseTransitionTimestamps": [
            {"phase": "Running", "phaseTransitionTimestamp": "2024-01-01T00:00:00Z"}
        ],
        "migrationState": {"completed": True, "migrationUid": "m1"},
        "conditions": [{"type": "migrationAbortRequested", "status": "False"}],
    },
}

VMIRS_FULL: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachineInstanceReplicaSet",
    "metadata": {"name": "rs"},
    "spec": {
        "replicas": 2,
        "paused": False,
        "selector": {"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "c", "operator": "Exists"}]},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"domain": {"devices": {}}}},
    },
    "status": {"replicas": 2, "readyReplicas": 1, "labelSelector": "a=b,c", "conditions": []},
}

DV_FULL: dict[str, Any] = {
    "apiVersion": "cdi.kubevirt.io/v1beta1",
    "kind": "DataVolume",
    "metadata": {"name": "dv"},
    "spec": {
        "source": {"http": {"url": "http://x/disk.img", "extraHeaders": ["A: b"]}},
        "pvc": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeMode": "Block",
        },
        "contentType": "kubevirt",
        "preallocation": True,
    },
    "status": {
        "phase": "ImportInProgress",
        "progress": "45.67%",
        "restartCount": 0,
        "claimName": "dv",
        "conditions": [{"type": "Running", "status": "True", "lastHeartbeatTime": "2024-01-01T00:00:00Z"}],
    },
}


@pytest.mark.parametrize(
    ("model", "manifest"),
    [
        pytest.param(VirtualMachineInstance, VMI_FULL, id="vmi-full"),
        pytest.param(VirtualMachine, VM_FULL, id="vm-full"),
        pytest.param(VirtualMachineInstanceMigration, VMIM_FULL, id="vmim-full"),
        pytest.param(VirtualMachineInstanceReplicaSet, VMIRS_FULL, id="vmirs-full"),
        pytest.param(DataVolume, DV_FULL, id="dv-full"),
        pytest.param(StartOptions, {"paused": True, "dryRun": ["All"]}, id="start"),
        pytest.param(StopOptions, {"gracePeriod": 0}, id="stop"),
        pytest.param(RestartOptions, {"gracePeriodSeconds": 0, "kind": "RestartOptions"}, id="restart"),
        pytest.param(MigrateOptions, {"addedNodeSelector": {"a": "b"}}, id="migrate"),
        pytest.param(PauseOptions, {}, id="pause-empty"),
        pytest.param(UnpauseOptions, {"dryRun": ["All"]}, id="unpause"),
        pytest.param(
            AddVolumeOptions,
            {
                "name": "v",
                "disk": {"name": "v", "disk": {"bus": "scsi"}},
                "volumeSource": {"persistentVolumeClaim": {"claimName": "c", "hotpluggable": True}},
            },
            id="addvolume",
        ),
        pytest.param(RemoveVolumeOptions, {"name": "v"}, id="removevolume"),
    ],
)
def test_round_trip_is_exact(model: type[KubeModel], manifest: dict[str, Any]) -> None:
    original = copy.deepcopy(manifest)
    parsed = model.model_validate(manifest)
    assert parsed.model_dump(by_alias=True, exclude_unset=True) == original
    assert parsed.to_wire() == original
    assert manifest == original, "validation must not mutate its input"


@pytest.mark.parametrize(
    ("where", "manifest", "expected"),
    [
        pytest.param(
            "spec",
            {"spec": {"domain": {"devices": {}}, "futureField": 1}},
            ["futureField"],
            id="top-level-spec-extra",
        ),
        pytest.param(
            "devices",
            {"spec": {"domain": {"devices": {"newDevice": {}, "zz": 1}}}},
            ["newDevice", "zz"],
            id="devices-extra",
        ),
    ],
)
def test_unknown_fields_are_kept_and_named(where: str, manifest: dict[str, Any], expected: list[str]) -> None:
    vmi = VirtualMachineInstance.model_validate(manifest)
    node: KubeModel = vmi.spec if where == "spec" else vmi.spec.domain.devices
    assert node.unknown_fields() == expected
    assert vmi.to_wire() == manifest


@pytest.mark.parametrize(
    ("model", "manifest"),
    [
        pytest.param(VirtualMachine, {"spec": {"runStrategy": "Always"}}, id="vm-without-template"),
        pytest.param(VirtualMachineInstance, {"spec": {}}, id="vmi-without-domain"),
        pytest.param(VirtualMachineInstance, {"spec": {"domain": {}}}, id="domain-without-devices"),
        pytest.param(
            VirtualMachine, {"spec": {"runStrategy": "Sometimes", "template": {}}}, id="bad-run-strategy"
        ),
        pytest.param(
            VirtualMachineInstance,
            {"spec": {"domain": {"devices": {"disks": [{"disk": {}}]}}}},
            id="disk-without-name",
        ),
        pytest.param(
            VirtualMachineInstance,
            {"spec": {"domain": {"devices": {}}, "volumes": [{"name": "x", "containerDisk": {}}]}},
            id="containerdisk-without-image",
        ),
        pytest.param(
            VirtualMachineInstanceReplicaSet, {"spec": {"template": {}}}, id="vmirs-without-selector"
        ),
        pytest.param(DataVolume, {"metadata": {"name": "x"}}, id="dv-without-spec"),
        pytest.param(DataVolume, {"spec": {"contentType": "tarball"}}, id="dv-bad-content-type"),
    ],
)
def test_invalid_manifests_are_refused(model: type[KubeModel], manifest: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(manifest)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, RunStrategy.HALTED, id="neither"),
        pytest.param({"running": True}, RunStrategy.ALWAYS, id="running-true"),
        pytest.param({"running": False}, RunStrategy.HALTED, id="running-false"),
        pytest.param({"runStrategy": "Manual"}, RunStrategy.MANUAL, id="manual"),
        pytest.param({"runStrategy": "RerunOnFailure"}, RunStrategy.RERUN_ON_FAILURE, id="rerun"),
        pytest.param({"runStrategy": "Once"}, RunStrategy.ONCE, id="once"),
    ],
)
def test_effective_run_strategy(spec: dict[str, Any], expected: RunStrategy) -> None:
    vm_spec = VirtualMachineSpec.model_validate({**spec, "template": {}})
    assert effective_run_strategy(vm_spec) is expected


def test_running_and_run_strategy_conflict() -> None:
    vm_spec = VirtualMachineSpec.model_validate({"running": True, "runStrategy": "Always", "template": {}})
    with pytest.raises(RunStrategyConflict):
        effective_run_strategy(vm_spec)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param(LabelSelector(match_labels={"b": "2", "a": "1"}), "a=1,b=2", id="labels-sorted"),
        pytest.param(
            LabelSelector(
                match_expressions=[
                    LabelSelectorRequirement(key="env", operator="In", values=["prod", "dev"]),
                    LabelSelectorRequirement(key="tier", operator="NotIn", values=["db"]),
                    LabelSelectorRequirement(key="x", operator="Exists"),
                    LabelSelectorRequirement(key="y", operator="DoesNotExist"),
                ]
            ),
            "env in (dev,prod),tier notin (db),x,!y",
            id="expressions",
        ),
        pytest.param(LabelSelector(), "", id="empty"),
    ],
)
def test_selector_string(selector: LabelSelector, expected: str) -> None:
    assert selector_string(selector) == expected


@pytest.mark.parametrize(
    ("replicas", "expected"), [(None, 1), (0, 0), (3, 3)], ids=["default", "zero", "three"]
)
def test_desired_replicas(replicas: int | None, expected: int) -> None:
    spec = VirtualMachineInstanceReplicaSetSpec.model_validate(
        {"replicas": replicas, "selector": {}, "template": {}}
        if replicas is not None
        else {"selector": {}, "template": {}}
    )
    assert desired_replicas(spec) == expected


def test_add_volume_disk_name_defaults_to_volume_name() -> None:
    opts = AddVolumeOptions.model_validate(
        {"name": "hp", "disk": {"disk": {"bus": "scsi"}}, "volumeSource": {"dataVolume": {"name": "dv"}}}
    )
    assert opts.disk.name == "hp"
    assert opts.disk_named().name == "hp"


def test_constructors_set_type_meta() -> None:
    vm = VirtualMachine.new(name="a", namespace="b", spec=VirtualMachineSpec.model_validate({"template": {}}))
    assert vm.to_wire() == {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "a", "namespace": "b"},
        "spec": {"template": {}},
    }
    vmim = VirtualMachineInstanceMigration.new(
        namespace="n", vmi_name="v", generate_name="kubevirt-migrate-vm-"
    )
    assert vmim.to_wire()["spec"] == {"vmiName": "v"}


_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**31), 2**31), st.text(max_size=8))
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(extra=st.dictionaries(st.text(min_size=1, max_size=8).map(lambda s: "x" + s), _json, max_size=4))
def test_unknown_fields_round_trip_at_any_value(extra: dict[str, Any]) -> None:
    manifest = {"spec": {"domain": {"devices": {}, **extra}, **extra}, "status": {**extra}}
    assert VirtualMachineInstance.model_validate(manifest).to_wire() == manifest
