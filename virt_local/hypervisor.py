"""Choosing the hypervisor mode for `virt-local up --hypervisor auto|kvm|emulation|test`.

`auto` picks `kvm` only when a real guest boots with it: /dev/kvm must be usable and the tiny test
guest built by `hack/build_guest.py` (cached in `~/.cache/kubevirt-py/guest/`) must print
`GUEST-BOOTED` under `qemu-system-x86_64 -accel kvm` within the probe timeout. Without the guest
cache there is nothing honest to boot, so `auto` falls back to `emulation` and says why. The verdict is
remembered per guest build in `<data-dir>/hypervisor.json`, so restarts do not probe again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

GUEST_CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "kubevirt-py" / "guest"
PROBE_SECONDS = 40.0
BOOT_MARKER = b"GUEST-BOOTED"


@dataclass(frozen=True)
class Choice:
    mode: str
    why: str


def _guest() -> tuple[str, Path, Path] | None:
    if not GUEST_CACHE.is_dir():
        return None
    builds = sorted((d for d in GUEST_CACHE.iterdir() if (d / "kernel-boot" / "boot" / "vmlinuz").is_file()),
                    key=lambda d: d.stat().st_mtime, reverse=True)
    for d in builds:
        boot = d / "kernel-boot" / "boot"
        if (boot / "initrd.gz").is_file():
            return d.name, boot / "vmlinuz", boot / "initrd.gz"
    return None


async def probe_kvm(kernel: Path, initrd: Path, seconds: float = PROBE_SECONDS) -> tuple[bool, str]:
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        return False, "qemu-system-x86_64 is not installed"
    proc = await asyncio.create_subprocess_exec(
        qemu, "-accel", "kvm", "-cpu", "host", "-m", "128", "-nodefaults", "-no-reboot", "-display", "none",
        "-serial", "stdio", "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", "console=ttyS0 quiet panic=-1", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    seen = b""
    try:
        async with asyncio.timeout(seconds):
            while BOOT_MARKER not in seen:
                chunk = await proc.stdout.read(4096)
                if not chunk:
                    break
                seen = (seen + chunk)[-65536:]
    except TimeoutError:
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        err = await proc.stderr.read()
        await proc.wait()
    if BOOT_MARKER in seen:
        return True, "the test guest booted with KVM"
    detail = (err.decode(errors="replace").strip().splitlines() or ["no output on the serial console"])[-1]
    return False, f"a test boot with KVM did not reach {BOOT_MARKER.decode()} within {seconds:.0f}s ({detail})"


async def choose(requested: str, data_dir: Path) -> Choice:
    if requested != "auto":
        return Choice(requested, "as requested")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Choice("emulation", "/dev/kvm is missing or not accessible")
    guest = _guest()
    if guest is None:
        return Choice("emulation", "cannot verify that KVM boots guests: the test guest is not built "
                                   "(python hack/build_guest.py); using emulation")
    key, kernel, initrd = guest
    cache = data_dir / "hypervisor.json"
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads(cache.read_text())
        if saved.get("guest") == key:
            return Choice(saved["mode"], saved["why"] + " (probed earlier)")
    ok, why = await probe_kvm(kernel, initrd)
    choice = Choice("kvm" if ok else "emulation", why)
    cache.write_text(json.dumps({"guest": key, "mode": choice.mode, "why": choice.why}))
    return choice
