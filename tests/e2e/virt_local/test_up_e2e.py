"""The README demo as a test: the tiny guest boots under emulation on the whole stack.

hack/build_guest.py builds (or reuses) the guest; it is imported into virt-local's image store as
`kubevirt-py/tiny-guest-kernel:latest` (kernelBoot layout: boot/vmlinuz, boot/initrd.gz); `virt-local up
--hypervisor emulation`; examples/vm-kernelboot.yaml applied → VMI Running and `GUEST-BOOTED` on the
serial console read through virt-api's aggregated websocket; runStrategy Halted → ACPI power button →
the guest powers off, the VMI ends Succeeded and goes away; Ctrl-C of `up` leaves no process (no QEMU,
libvirtd or launcher).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.launcher import build_guest
from tests.support.virtlocal import VirtLocal, virt_local_up
from tests.support.wait import wait_for

# Emulated boots on a busy machine are slow: the waits below are deadlines, generous on purpose, and the
# test as a whole gets more than pytest's default 300 s so that a failing wait reports its own message.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[3]
IMAGE = "kubevirt-py/tiny-guest-kernel:latest"


@pytest.fixture(scope="module")
def guest() -> dict[str, str]:
    return build_guest()


@pytest.fixture
def stack(tmp_path: Path, guest: dict[str, str]) -> Iterator[VirtLocal]:
    with virt_local_up(tmp_path / "d", "emulation") as vl:
        vl.images_import(IMAGE, Path(guest["kernel_boot_dir"]), directory=True)
        yield vl


def test_tiny_guest_boots_and_powers_off_on_the_stack(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", str(REPO / "examples" / "vm-kernelboot.yaml"))
    # The console is read from the moment the stream exists, so the boot marker cannot be missed.
    console = stack.read_console("tiny", "GUEST-BOOTED", seconds=300)
    assert "GUEST-BOOTED" in console
    assert stack.phase("vmi", "tiny") == "Running"
    vm = wait_for(lambda: (o := stack.get("vm", "tiny")) and (o.get("status") or {}).get("printableStatus") == "Running"
                  and o, timeout=60, message="VM tiny Running")
    assert vm["status"]["ready"] is True

    stack.kubectl("patch", "vm", "tiny", "--type", "merge", "-p", '{"spec":{"runStrategy":"Halted"}}')
    phases: list[str] = []

    def vmi_final() -> bool:
        phase = stack.phase("vmi", "tiny")
        if not phases or phases[-1] != phase:
            phases.append(phase)
        return phase in ("Succeeded", "Failed", "<gone>")

    wait_for(vmi_final, timeout=120, interval=0.1, message="VMI tiny to end")
    assert "Failed" not in phases, f"VMI phases seen while stopping: {phases}"
    wait_for(lambda: stack.get("vmi", "tiny") is None, timeout=120, message="VMI tiny gone")
    wait_for(lambda: not stack.list("pods", "-l", "vm.kubevirt.io/name=tiny"), timeout=120, message="launcher Pod gone")
    uid = next(iter(stack.vmi_uids))
    log = stack.data_dir / "nodes" / "node-1" / "root" / "var" / "run" / "kubevirt" / "sockets" / uid / "serial0.log"
    if log.exists():  # the launcher's serial log, when the node keeps it: the guest saw the power button
        assert "GUEST-ACPI-POWERBUTTON" in log.read_text(errors="replace")
