"""The whole stack with libvirt's test driver: `virt-local up --hypervisor test`, the README's VM.

kubectl apply of examples/vm-kernelboot.yaml → VMI Running and VM Running; runStrategy Halted → VMI and
launcher Pod gone, VM Stopped; a plain VMI deleted → gone with its Pod; Ctrl-C of `up` leaves no process.
The kernel-boot image only has to exist in the image store (the test driver boots nothing), so a small
directory stands in for the guest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.virtlocal import VirtLocal, virt_local_up
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
IMAGE = "kubevirt-py/tiny-guest-kernel:latest"

VMI = """
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: plain}
spec:
  domain:
    firmware:
      kernelBoot:
        container: {image: kubevirt-py/tiny-guest-kernel:latest, kernelPath: /boot/vmlinuz, initrdPath: /boot/initrd.gz}
    resources: {requests: {memory: 64Mi}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtLocal]:
    root = tmp_path_factory.mktemp("stack")
    image = root / "kernel-boot"
    (image / "boot").mkdir(parents=True)
    (image / "boot" / "vmlinuz").write_bytes(b"not a kernel: the test driver boots nothing\n")
    (image / "boot" / "initrd.gz").write_bytes(b"")
    with virt_local_up(root / "d", "test") as vl:
        vl.images_import(IMAGE, image, directory=True)
        yield vl


def _launcher_pods(vl: VirtLocal, vmi: str) -> list[dict[str, object]]:
    return vl.list("pods", "-l", f"vm.kubevirt.io/name={vmi}")


def test_vm_runs_and_halts(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", str(REPO / "examples" / "vm-kernelboot.yaml"))
    wait_for(lambda: stack.phase("vmi", "tiny") == "Running", timeout=60, message="VMI tiny Running")
    vm = wait_for(lambda: (o := stack.get("vm", "tiny")) and o.get("status", {}).get("printableStatus") == "Running"
                  and o, timeout=30, message="VM tiny printableStatus Running")
    assert vm["status"]["ready"] is True
    vmi = stack.get("vmi", "tiny")
    assert vmi is not None
    assert vmi["status"]["nodeName"] == "node-1"
    assert vmi["spec"]["domain"]["devices"]["interfaces"] == [{"name": "default", "masquerade": {}}]
    interfaces = wait_for(lambda: ((stack.get("vmi", "tiny") or {}).get("status") or {}).get("interfaces"), timeout=30, message="VMI tiny's interface status")
    launchers = _launcher_pods(stack, "tiny")
    assert [p["status"]["phase"] for p in launchers] == ["Running"]  # type: ignore[index]
    pod_ip = launchers[0]["status"]["podIP"]  # type: ignore[index]
    assert [(i["name"], i["ipAddress"]) for i in interfaces] == [("default", pod_ip)]

    stack.kubectl("patch", "vm", "tiny", "--type", "merge", "-p", '{"spec":{"runStrategy":"Halted"}}')
    wait_for(lambda: stack.get("vmi", "tiny") is None, timeout=60, message="VMI tiny gone")
    wait_for(lambda: not _launcher_pods(stack, "tiny"), timeout=60, message="launcher Pod of tiny gone")
    wait_for(lambda: ((stack.get("vm", "tiny") or {}).get("status") or {}).get("printableStatus") == "Stopped", timeout=30, message="VM tiny Stopped")
    stack.kubectl("delete", "vm", "tiny")
    wait_for(lambda: stack.get("vm", "tiny") is None, timeout=30, message="VM tiny gone")


def test_vmi_deleted_goes_away_with_its_pod(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=VMI)
    wait_for(lambda: stack.phase("vmi", "plain") == "Running", timeout=60, message="VMI plain Running")
    stack.kubectl("delete", "vmi", "plain")
    assert stack.get("vmi", "plain") is None
    wait_for(lambda: not _launcher_pods(stack, "plain"), timeout=60, message="launcher Pod of plain gone")


def test_kubectl_shows_nodes_launcher_pod_and_its_log(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=VMI.replace("name: plain", "name: logged"))
    wait_for(lambda: stack.phase("vmi", "logged") == "Running", timeout=60, message="VMI logged Running")
    nodes = [line.split() for line in stack.kubectl("get", "nodes").stdout.splitlines()]
    assert nodes[0][:3] == ["NAME", "STATUS", "ROLES"] and nodes[1][:2] == ["node-1", "Ready"]
    pod = _launcher_pods(stack, "logged")[0]["metadata"]["name"]  # type: ignore[index]
    row = stack.kubectl("get", "pod", str(pod)).stdout.splitlines()[1].split()
    assert row[1:4] == ["1/1", "Running", "0"], row
    # virt-api → virt-handler over mutual TLS with the certificate names virt-local minted
    paused = stack.kubectl("replace", "--raw", "/apis/subresources.kubevirt.io/v1/namespaces/default/"
                           "virtualmachineinstances/logged/pause", "-f", "-", input="{}", check=False)
    assert paused.returncode == 0, paused.stderr

    def log_lines() -> list[dict[str, object]]:
        out = stack.kubectl("logs", str(pod), "-c", "compute").stdout
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    lines = wait_for(lambda: (got := log_lines()) and any(
        str(line["msg"]).startswith("domain default_logged is Paused") for line in got) and got, timeout=30,
        message="the launcher's Paused line")
    assert {line["component"] for line in lines} == {"virt-launcher"}
    assert any(str(line["msg"]).startswith("domain default_logged started") for line in lines)
    stack.kubectl("delete", "vmi", "logged")
    wait_for(lambda: not _launcher_pods(stack, "logged"), timeout=60, message="launcher Pod of logged gone")
