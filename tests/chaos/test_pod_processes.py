"""Faults against a launcher Pod with a real guest (QEMU under TCG, the tiny guest of
hack/build_guest.py): nothing of a Pod outlives it.

- `kill -9` of the launcher: its QEMU (started by the launcher's private libvirtd, in a session of its
  own) and libvirtd end with it, before the container's end is reported.
- Ctrl-C of `virt-local up` with a guest that needs 10 s to power off (`guest.shutdown-delay=10`) under
  a 20 s grace period: the guest gets its ACPI shutdown and powers off cleanly (its console shows
  `GUEST-POWEROFF`), and no process is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.conftest import ChaosLedger
from tests.support.process import processes_mentioning
from tests.support.virtlocal import VirtLocal, start_virt_local
from tests.support.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
IMAGE = "kubevirt-py/tiny-guest-kernel:latest"


def vmi_manifest(name: str, kernel_args: str = "", grace: int = 20) -> str:
    return f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: {grace}
  domain:
    firmware:
      kernelBoot:
        kernelArgs: console=ttyS0 quiet panic=-1 {kernel_args}
        container: {{image: {IMAGE}, imagePullPolicy: IfNotPresent, kernelPath: /boot/vmlinuz,
                    initrdPath: /boot/initrd.gz}}
    devices: {{}}
    resources: {{requests: {{memory: 128Mi}}}}
"""


@pytest.fixture(scope="module")
def guest() -> dict[str, str]:
    res = subprocess.run([sys.executable, str(REPO / "hack" / "build_guest.py")], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, f"hack/build_guest.py failed:\n{res.stderr[-3000:]}"
    paths: dict[str, str] = json.loads(res.stdout)
    return paths


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, guest: dict[str, str],
          chaos_ledger: ChaosLedger) -> Iterator[VirtLocal]:
    """One `up` for the module (starting it is most of a test's time); the Ctrl-C test, last, ends it."""
    vl = start_virt_local(tmp_path_factory.mktemp("virt-local") / "d", "emulation")
    try:
        vl.images_import(IMAGE, Path(guest["kernel_boot_dir"]), directory=True)
        yield vl
    finally:
        left = vl.stop()  # a no-op when the test stopped it already
        chaos_ledger.leaked(left)
    assert not left, f"processes left behind by virt-local up: {json.dumps(left, indent=1)}"


def serial_log(stack: VirtLocal, uid: str) -> Path:
    """The guest's console as its launcher logs it, in the node's `/var/run/kubevirt`."""
    return stack.data_dir / "nodes" / "node-1" / "root" / "var" / "run" / "kubevirt" / "sockets" / uid / "serial0.log"


def wait_for_boot(stack: VirtLocal, uid: str) -> None:
    log = serial_log(stack, uid)
    wait_for(lambda: log.exists() and "GUEST-BOOTED" in log.read_text(errors="replace"), timeout=120, message="GUEST-BOOTED on the console")


def qemu_of(uid: str) -> dict[int, str]:
    return {pid: cmd for pid, cmd in processes_mentioning([uid]).items() if "qemu-system" in cmd}


def launcher_pod(stack: VirtLocal, uid: str) -> dict[str, Any]:
    pods = stack.list("pods", "-l", f"kubevirt.io/created-by={uid}")
    assert len(pods) == 1, f"launcher Pods of {uid}: {[p['metadata']['name'] for p in pods]}"
    return pods[0]


def test_kill_9_of_a_launcher_leaves_no_qemu(stack: VirtLocal, chaos: ChaosLedger) -> None:
    stack.kubectl("apply", "-f", "-", input=vmi_manifest("victim"))
    uid = wait_for(lambda: stack.get("vmi", "victim"), message="VMI victim")["metadata"]["uid"]
    wait_for_boot(stack, uid)
    assert len(qemu_of(uid)) == 1
    pod = launcher_pod(stack, uid)
    pid_file = stack.data_dir / "pods" / pod["metadata"]["uid"] / "containers" / "compute" / "pid"
    launcher = int(pid_file.read_text().split()[0])

    os.kill(launcher, signal.SIGKILL)
    chaos.fault("launcher kill -9")
    # The node reports the container's end once nothing of it runs (no QEMU, no libvirtd); the VMI then
    # fails with the reason (virt-controller or virt-handler, whichever sees it first), and its Pod goes.
    vmi = wait_for(lambda: (v := stack.get("vmi", "victim")) and v.get("status", {}).get("phase") == "Failed" and v,
                   timeout=60, message="VMI victim Failed after its launcher was killed")
    assert vmi["metadata"]["uid"] == uid
    events = [e for e in stack.list("events") if e["involvedObject"].get("uid") == uid and e.get("type") == "Warning"]
    assert any("137" in e.get("message", "") or e.get("reason") == "LauncherExited" for e in events), events
    left = processes_mentioning([uid])
    chaos.leaked(left)
    assert left == {}


def test_ctrl_c_shuts_the_guest_down_within_its_grace_period_and_leaves_nothing(stack: VirtLocal,
                                                                               chaos: ChaosLedger) -> None:
    stack.kubectl("apply", "-f", "-", input=vmi_manifest("slowstop", "guest.shutdown-delay=10"))
    uid = wait_for(lambda: stack.get("vmi", "slowstop"), message="VMI slowstop")["metadata"]["uid"]
    wait_for_boot(stack, uid)
    assert len(qemu_of(uid)) == 1

    chaos.fault("virt-local up Ctrl-C with a running guest")
    left = stack.stop()
    left.update(qemu_of(uid))
    chaos.leaked(left)
    assert not left, f"processes left behind by virt-local up: {json.dumps(left, indent=1)}"
    console = serial_log(stack, uid).read_text(errors="replace")
    chaos.rebooted(max(0, console.count("GUEST-BOOTED") - 1))
    assert console.count("GUEST-BOOTED") == 1, console[-2000:]
    assert "GUEST-ACPI-POWERBUTTON" in console, console[-2000:]
    assert "GUEST-POWEROFF" in console, f"the guest was killed before it powered off:\n{console[-2000:]}"
