"""`create vm`: flags → the VirtualMachine manifest upstream prints."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from virtctl import create_vm, main
from virtctl.create_vm import VmFlags, vm_manifest
from virtctl.errors import CommandError


def template_spec(vm: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = vm["spec"]["template"]["spec"]
    return spec


def test_defaults() -> None:
    vm = vm_manifest(VmFlags(name="vm1"))
    assert vm == {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1"},
        "spec": {"runStrategy": "Always", "template": {"metadata": {}, "spec": {
            "domain": {"devices": {}, "memory": {"guest": "512Mi"}, "resources": {}},
            "terminationGracePeriodSeconds": 180}}},
    }


def test_containerdisk_volumes_are_named_after_the_vm_and_index() -> None:
    vm = vm_manifest(VmFlags(name="vm1", run_strategy="Manual", memory="1Gi",
                             containerdisks=("src:quay.io/x/cirros:0.6", "src:example/b:1,name:data")))
    assert vm["spec"]["runStrategy"] == "Manual"
    spec = template_spec(vm)
    assert spec["domain"]["memory"] == {"guest": "1Gi"}
    assert spec["volumes"] == [{"name": "vm1-containerdisk-0", "containerDisk": {"image": "quay.io/x/cirros:0.6"}},
                               {"name": "data", "containerDisk": {"image": "example/b:1"}}]
    assert "disks" not in spec["domain"]["devices"]
    assert "instancetype" not in vm["spec"] and "preference" not in vm["spec"]


def test_pvc_volume_infers_instancetype_and_preference_with_ignore_policy() -> None:
    vm = vm_manifest(VmFlags(name="vm1", pvcs=("src:rootdisk",)))
    assert template_spec(vm)["volumes"] == [{"name": "rootdisk", "persistentVolumeClaim": {"claimName": "rootdisk"}}]
    inferred = {"inferFromVolume": "rootdisk", "inferFromVolumeFailurePolicy": "Ignore"}
    assert vm["spec"]["instancetype"] == inferred and vm["spec"]["preference"] == inferred


@pytest.mark.parametrize(("flags", "instancetype", "preference"), [
    (VmFlags(name="v", memory="1Gi", pvcs=("src:d",)), False, True),
    (VmFlags(name="v", pvcs=("src:d",), infer_instancetype=False, infer_preference=False), False, False),
    (VmFlags(name="v", containerdisks=("src:img",), pvcs=("src:d",)), False, False),
    (VmFlags(name="v", containerdisks=("src:img",), pvcs=("src:d,bootorder:1",)), True, True),
], ids=["memory-disables-instancetype", "turned-off", "first-volume-is-containerdisk", "boot-order-picks-pvc"])
def test_inference_rules(flags: VmFlags, instancetype: bool, preference: bool) -> None:
    vm = vm_manifest(flags)
    assert ("instancetype" in vm["spec"], "preference" in vm["spec"]) == (instancetype, preference)


def test_boot_order_adds_a_disk() -> None:
    spec = template_spec(vm_manifest(VmFlags(name="v", containerdisks=("src:img,bootorder:2",))))
    assert spec["domain"]["devices"]["disks"] == [{"name": "v-containerdisk-0", "bootOrder": 2}]


def test_instancetype_drops_guest_memory() -> None:
    vm = vm_manifest(VmFlags(name="v", instancetype="virtualmachineinstancetype/small"))
    assert vm["spec"]["instancetype"] == {"name": "small", "kind": "virtualmachineinstancetype"}
    assert "memory" not in template_spec(vm)["domain"]


def test_cloud_init_and_namespace() -> None:
    vm = vm_manifest(VmFlags(name="v", namespace="demo", cloud_init_user_data="I2Nsb3VkLWNvbmZpZw=="))
    assert vm["metadata"] == {"name": "v", "namespace": "demo"}
    assert template_spec(vm)["volumes"] == [{"name": "cloudinitdisk",
                                             "cloudInitNoCloud": {"userDataBase64": "I2Nsb3VkLWNvbmZpZw=="}}]


@pytest.mark.parametrize(("flags", "message"), [
    (VmFlags(name="v", run_strategy="Sometimes"), 'invalid RunStrategy "Sometimes"'),
    (VmFlags(name="v", memory="lots"), '"--memory" flag: quantities must match'),
    (VmFlags(name="v", containerdisks=("name:x",)), "src must be specified"),
    (VmFlags(name="v", containerdisks=("src:a,color:red",)), "unknown param\\(s\\): color:red"),
    (VmFlags(name="v", pvcs=("src:other/d",)), "not allowed to specify namespace of pvc 'd'"),
    (VmFlags(name="v", pvcs=("src:d", "src:d")), "there is already a volume with name 'd'"),
    (VmFlags(name="v", pvcs=("src:d,bootorder:0",)), "bootorder must be greater than 0"),
    (VmFlags(name="v", containerdisks=("src:a,bootorder:1",), pvcs=("src:d,bootorder:1",)),
     "bootorder 1 was specified multiple times"),
], ids=["run-strategy", "memory", "no-src", "unknown-param", "pvc-namespace", "duplicate", "bootorder-0",
        "bootorder-twice"])
def test_invalid_flags(flags: VmFlags, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        vm_manifest(flags)


def test_random_name_uses_kubernetes_alphabet() -> None:
    name = create_vm.random_name(random.Random(1))
    assert name.startswith("vm-") and len(name) == 8 and set(name[3:]) <= set(create_vm.NAME_ALPHABET)


async def test_command_prints_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    args = main.build_parser().parse_args(["create", "vm", "--name", "x", "--volume-pvc", "src:d",
                                           "--infer-instancetype=false", "-n", "demo"])
    await args.run(args, None)
    vm = yaml.safe_load(capsys.readouterr().out)
    assert vm["metadata"] == {"name": "x", "namespace": "demo"}
    assert "instancetype" not in vm["spec"] and vm["spec"]["preference"]["inferFromVolume"] == "d"


async def test_memory_and_instancetype_are_exclusive() -> None:
    args = main.build_parser().parse_args(["create", "vm", "--memory", "1Gi", "--instancetype", "small"])
    with pytest.raises(CommandError, match=r"\[memory instancetype\]"):
        await args.run(args, None)
