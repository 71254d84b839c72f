"""virtctl against a running virt-local stack: every VM-level command, checked on the objects.

start/stop/restart (Manual and Always run strategies, paused, dry run, force), pause/unpause of a VM and
a VMI, soft-reboot and reset, migrate and migrate-cancel, guestosinfo, expose (vm, vmi, vmirs),
`create vm` applied with kubectl, version, kubeconfig flags, and the server's messages on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.support.virtlocal import VIRTCTL, VirtLocal, condition, vm_manifest
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, f"virtctl failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return res.stdout


def fails(res: subprocess.CompletedProcess[str], message: str) -> None:
    assert res.returncode == 1, f"expected a failure, got {res.returncode}:\n{res.stdout}\n{res.stderr}"
    assert message in res.stderr, res.stderr


def running_vmi(stack: VirtLocal, name: str, namespace: str = "default") -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        vmi = stack.get("vmi", name, namespace)
        return vmi if vmi and vmi.get("status", {}).get("phase") == "Running" else None
    result: dict[str, Any] = wait_for(check, timeout=60, message=f"VMI {name} Running")
    return result


def test_version_reports_client_and_server(stack: VirtLocal) -> None:
    out = ok(stack.virtctl("version"))
    assert out.startswith("Client Version: version.Info{GitVersion:\"v")
    assert "Server Version: version.Info{GitVersion:" in out and 'GitTreeState:"clean"' in out
    assert "Server Version" not in ok(stack.virtctl("version", "--client"))


def test_manual_vm_lifecycle(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=vm_manifest("manual", "Manual"))
    assert ok(stack.virtctl("start", "manual", "--dry-run")) == "Dry Run execution\nVM manual was scheduled to start\n"
    assert not (stack.get("vm", "manual") or {}).get("status", {}).get("stateChangeRequests")

    assert ok(stack.virtctl("start", "manual")) == "VM manual was scheduled to start\n"
    first = running_vmi(stack, "manual")
    fails(stack.virtctl("start", "manual"), "Error starting VirtualMachine ")
    fails(stack.virtctl("start", "manual"), "VM is already running")

    ok(stack.virtctl("restart", "manual"))
    uid = first["metadata"]["uid"]
    wait_for(lambda: (v := stack.get("vmi", "manual")) and v["metadata"]["uid"] != uid
             and v["status"].get("phase") == "Running", timeout=60, message="a new VMI after restart")

    fails(stack.virtctl("stop", "manual", "--force"), "Must both use --force=true and set --grace-period.")
    assert ok(stack.virtctl("stop", "manual")) == "VM manual was scheduled to stop\n"
    wait_for(lambda: stack.get("vmi", "manual") is None, timeout=60, message="VMI gone after stop")
    fails(stack.virtctl("stop", "manual"), "error stopping VirtualMachine ")

    ok(stack.virtctl("start", "manual", "--paused"))
    paused = wait_for(lambda: condition(stack.get("vmi", "manual"), "Paused") == "True", timeout=60, message="VMI started paused")
    assert paused
    assert stack.obj("vmi", "manual")["spec"]["startStrategy"] == "Paused"
    ok(stack.virtctl("stop", "manual", "--force", "--grace-period", "0"))
    wait_for(lambda: stack.get("vmi", "manual") is None, timeout=60, message="VMI gone after force stop")


def test_halted_vm_start_sets_always_and_stop_halts_it(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=vm_manifest("always", "Halted"))
    fails(stack.virtctl("pause", "vm", "always"), "VirtualMachine always is not set to run")
    ok(stack.virtctl("start", "always", "--dry-run"))
    assert stack.obj("vm", "always")["spec"]["runStrategy"] == "Halted"
    ok(stack.virtctl("start", "always"))
    assert stack.obj("vm", "always")["spec"]["runStrategy"] == "Always"
    running_vmi(stack, "always")
    ok(stack.virtctl("stop", "always"))
    assert stack.obj("vm", "always")["spec"]["runStrategy"] == "Halted"
    wait_for(lambda: stack.get("vmi", "always") is None, timeout=60, message="VMI gone after stop")


def test_pause_unpause_soft_reboot_reset(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=vm_manifest("pausable", "Always"))
    running_vmi(stack, "pausable")
    assert ok(stack.virtctl("pause", "vm", "pausable")) == "VMI pausable was scheduled to pause\n"
    wait_for(lambda: condition(stack.get("vmi", "pausable"), "Paused") == "True", message="Paused condition")
    fails(stack.virtctl("pause", "vmi", "pausable"), "VMI is already paused")
    fails(stack.virtctl("soft-reboot", "pausable"), "Error soft rebooting VirtualMachineInstance pausable: ")
    assert ok(stack.virtctl("unpause", "vmi", "pausable")) == "VMI pausable was scheduled to unpause\n"
    wait_for(lambda: condition(stack.get("vmi", "pausable"), "Paused") is None, message="Paused condition gone")
    fails(stack.virtctl("unpause", "VM", "pausable"), "VMI is not paused")
    assert ok(stack.virtctl("soft-reboot", "pausable")) == "VMI pausable was scheduled to soft-reboot\n"
    assert ok(stack.virtctl("reset", "pausable")) == "VMI pausable was scheduled to reset\n"
    assert stack.obj("vmi", "pausable")["status"]["phase"] == "Running"
    fails(stack.virtctl("reset", "nothere"), 'virtualmachineinstance.kubevirt.io "nothere" not found')


def test_guestosinfo_reports_the_missing_agent(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=vm_manifest("noagent", "Always"))
    running_vmi(stack, "noagent")
    fails(stack.virtctl("guestosinfo", "noagent"), "Error getting guestosinfo of VirtualMachineInstance noagent, ")
    fails(stack.virtctl("guestosinfo", "noagent"), "VMI does not have guest agent connected")


def test_migrate_creates_a_migration_and_migrate_cancel_deletes_it(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=vm_manifest("mover", "Always"))
    running_vmi(stack, "mover")
    ok(stack.virtctl("migrate", "mover", "--dry-run"))
    assert not json.loads(stack.kubectl("get", "vmim", "-o", "json").stdout)["items"]
    assert ok(stack.virtctl("migrate", "mover")) == "VM mover was scheduled to migrate\n"
    vmims = json.loads(stack.kubectl("get", "vmim", "-o", "json").stdout)["items"]
    assert [m["spec"]["vmiName"] for m in vmims] == ["mover"]
    assert vmims[0]["metadata"]["generateName"] == "kubevirt-migrate-vm-"
    assert ok(stack.virtctl("migrate-cancel", "mover")) == "VM mover was scheduled to migrate-cancel\n"
    name = vmims[0]["metadata"]["name"]
    wait_for(lambda: (m := stack.get("vmim", name)) is None
             or m["metadata"].get("deletionTimestamp"), message="migration deleted")
    fails(stack.virtctl("migrate", "nosuchvm"), "Error migrating VirtualMachine ")


def test_expose_creates_services_selecting_the_vmi(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=vm_manifest("web", "Always"))
    running_vmi(stack, "web")
    out = ok(stack.virtctl("expose", "vm", "web", "--name", "web-ssh", "--port", "2222", "--target-port", "22",
                           "--type", "NodePort"))
    assert out == "Service web-ssh successfully created for vm web\n"
    svc = stack.get("service", "web-ssh")
    assert svc is not None and svc["spec"]["selector"] == {"vmi.kubevirt.io/id": "web"}
    assert svc["spec"]["type"] == "NodePort"
    assert [(p["port"], p["targetPort"], p["protocol"]) for p in svc["spec"]["ports"]] == [(2222, 22, "TCP")]
    pods = json.loads(stack.kubectl("get", "pods", "-l", "vmi.kubevirt.io/id=web", "-o", "json").stdout)["items"]
    assert len(pods) == 1, "the Service selector must match the VMI's launcher Pod"

    ok(stack.virtctl("expose", "vmi", "web", "--name", "web-http", "--port", "80"))
    assert stack.obj("service", "web-http")["spec"]["selector"] == {"vmi.kubevirt.io/id": "web"}
    fails(stack.virtctl("expose", "vmi", "web", "--name", "web-http", "--port", "80"), "service creation failed: ")

    stack.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet",
        "metadata": {"name": "pool", "namespace": "default"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"tier": "pool"}},
                 "template": {"metadata": {"labels": {"tier": "pool"}},
                              "spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}}}}))
    ok(stack.virtctl("expose", "vmirs", "pool", "--name", "pool-svc", "--port", "8080"))
    assert stack.obj("service", "pool-svc")["spec"]["selector"] == {"tier": "pool"}
    fails(stack.virtctl("expose", "vm", "ghost", "--name", "x", "--port", "1"), "error fetching VirtualMachine: ")


def test_create_vm_manifest_applies_and_runs(stack: VirtLocal) -> None:
    manifest = ok(stack.virtctl("create", "vm", "--name", "made", "--run-strategy", "Manual", "--memory", "64Mi",
                                "--volume-containerdisk", "src:example/disk:1,name:root", "-n", "default"))
    stack.kubectl("apply", "-f", "-", input=manifest)
    vm = stack.get("vm", "made")
    assert vm is not None and vm["spec"]["runStrategy"] == "Manual"
    spec = vm["spec"]["template"]["spec"]
    assert spec["domain"]["memory"]["guest"] == "64Mi" and spec["terminationGracePeriodSeconds"] == 180
    assert spec["volumes"] == [{"name": "root", "containerDisk": {"image": "example/disk:1"}}]


def test_kubeconfig_flags_and_namespaces(stack: VirtLocal) -> None:
    stack.kubectl("create", "namespace", "team", check=False)
    stack.kubectl("apply", "-f", "-", input=vm_manifest("other", "Halted", namespace="team"))
    env = {k: v for k, v in stack.env.items() if k != "KUBECONFIG"}
    env["HOME"] = str(stack.data_dir)  # no ~/.kube/config either
    res = subprocess.run([VIRTCTL, "start", "other", "-n", "team"], capture_output=True, text=True, env=env, timeout=60)
    fails(res, "invalid configuration")
    res = subprocess.run([VIRTCTL, "--kubeconfig", str(stack.kubeconfig), "--context", "virt-local", "start", "other",
                          "-n", "team"], capture_output=True, text=True, env=env, timeout=60)
    ok(res)
    assert stack.obj("vm", "other", "team")["spec"]["runStrategy"] == "Always"
    fails(stack.virtctl("stop", "other"), 'virtualmachine.kubevirt.io "other" not found')  # context namespace: default
    fails(stack.virtctl("--context", "nope", "stop", "other"), "nope")
    assert os.environ.get("KUBECONFIG") != str(stack.kubeconfig)
