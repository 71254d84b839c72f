#!/usr/bin/env python3
"""Build the tiny test guest from Debian packages and cache it outside the repository.

The guest is a Debian cloud kernel plus a busybox initramfs whose `/init` prints `GUEST-BOOTED` on
ttyS0, then `GUEST-ALIVE n` every few seconds, and powers off when the ACPI power button is pressed
(busybox `acpid` with `evdev.ko` and `button.ko` from the kernel package): it prints
`GUEST-ACPI-POWERBUTTON`, then `GUEST-POWEROFF` just before it powers off. Kernel command-line flags make
variants: `guest.ignore-acpi` ignores the power button (a guest that must be destroyed when its grace
period ends); `guest.shutdown-delay=N` waits N seconds between the two markers (a guest that needs
time to shut down).

Outputs, under `<cache>/<key>/` where the key hashes the package versions and this script's revision:

- `kernel-boot/boot/vmlinuz`, `kernel-boot/boot/initrd.gz`: for `firmware.kernelBoot`, laid out like a
  kernel-boot container image.
- `container-disk/disk/disk.qcow2`: a BIOS-bootable disk (FAT filesystem with syslinux, holding the same
  kernel and initramfs), laid out like an upstream containerDisk image (the disk sits under `/disk/`).
- `disk.raw`: the same disk, raw.

Invariants: a finished build is published with one atomic rename, so readers never see a partial cache
entry; concurrent builders serialise on a lock file. Nothing is installed on the host: packages are
fetched with `apt-get download` and unpacked with `dpkg-deb -x` into a scratch directory.

Usage: `python hack/build_guest.py [--cache DIR]` prints the paths as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

BUILD_REVISION = "5"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "kubevirt-py" / "guest"
KERNEL_CMDLINE = "console=ttyS0 quiet panic=-1"
DISK_SIZE_MIB = 48
BOOT_PACKAGES = ("syslinux", "syslinux-common", "mtools", "dosfstools")

INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
insmod /lib/modules/evdev.ko
insmod /lib/modules/button.ko
# `guest.ignore-acpi` on the kernel command line makes a guest that ignores the power button.
grep -q guest.ignore-acpi /proc/cmdline || acpid -c /etc/acpi -l /tmp/acpid.log
echo "GUEST-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)" > /dev/ttyS0
n=0
while true; do n=$((n+1)); echo "GUEST-ALIVE $n" > /dev/ttyS0; sleep 3; done
"""
POWER_BUTTON_HANDLER = """#!/bin/sh
echo GUEST-ACPI-POWERBUTTON > /dev/ttyS0
# `guest.shutdown-delay=N` on the kernel command line: a guest that takes N seconds to shut down.
delay=$(sed -n 's/.*guest\\.shutdown-delay=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
[ -n "$delay" ] && sleep "$delay"
echo GUEST-POWEROFF > /dev/ttyS0
poweroff -f
"""
SYSLINUX_CFG = f"""DEFAULT guest
PROMPT 0
TIMEOUT 0
SERIAL 0 115200
LABEL guest
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND {KERNEL_CMDLINE}
"""


@dataclasses.dataclass(frozen=True)
class GuestImages:
    """Paths of one cached guest build."""

    key: str
    root: Path
    kernel: Path
    initrd: Path
    disk_raw: Path
    disk_qcow2: Path
    kernel_boot_dir: Path
    container_disk_dir: Path
    cmdline: str = KERNEL_CMDLINE

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in dataclasses.asdict(self).items()}


def _run(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def kernel_package() -> str:
    """The current cloud kernel package, e.g. linux-image-6.1.0-56-cloud-amd64."""
    out = _run("apt-cache", "depends", "linux-image-cloud-amd64")
    m = re.search(r"Depends:\s*(linux-image-\S+-cloud-amd64)", out)
    if not m:
        raise RuntimeError("cannot find the cloud kernel ABI in `apt-cache depends linux-image-cloud-amd64`")
    return m.group(1)


def candidate_version(package: str) -> str:
    out = _run("apt-cache", "show", "--no-all-versions", package)
    m = re.search(r"^Version:\s*(\S+)", out, re.M)
    if not m:
        raise RuntimeError(f"no candidate version for {package}")
    return m.group(1)


def installed_version(package: str) -> str:
    return _run("dpkg-query", "-W", "-f=${Version}", package).strip()


def cache_key(kernel_pkg: str) -> str:
    parts = [f"rev={BUILD_REVISION}", f"{kernel_pkg}={candidate_version(kernel_pkg)}",
             f"busybox-static={installed_version('busybox-static')}"]
    parts += [f"{p}={candidate_version(p)}" for p in BOOT_PACKAGES]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def images_at(root: Path, key: str) -> GuestImages:
    return GuestImages(
        key=key, root=root,
        kernel=root / "kernel-boot" / "boot" / "vmlinuz",
        initrd=root / "kernel-boot" / "boot" / "initrd.gz",
        disk_raw=root / "disk.raw",
        disk_qcow2=root / "container-disk" / "disk" / "disk.qcow2",
        kernel_boot_dir=root / "kernel-boot",
        container_disk_dir=root / "container-disk",
    )


def _fetch(packages: list[str], work: Path) -> Path:
    """Download and unpack packages into work/root; returns the unpack root."""
    debs = work / "debs"
    debs.mkdir()
    os.chmod(debs, 0o777)  # apt's sandbox user wants to write here
    _run("apt-get", "download", "-q", *packages, cwd=debs)
    unpacked = work / "unpacked"
    unpacked.mkdir()
    for deb in sorted(debs.glob("*.deb")):
        _run("dpkg-deb", "-x", str(deb), str(unpacked))
    return unpacked


def newc_archive(root: Path) -> bytes:
    """A cpio archive in the `newc` format of everything under root (no host cpio needed)."""
    out = io.BytesIO()
    ino = 1

    def entry(name: str, st: os.stat_result, data: bytes) -> None:
        nonlocal ino
        header = "070701" + "".join(f"{v:08x}" for v in (
            ino, st.st_mode, 0, 0, 1, int(st.st_mtime), len(data), 0, 0, 0, 0, len(name) + 1, 0))
        ino += 1
        out.write(header.encode() + name.encode() + b"\0")
        out.write(b"\0" * (-(110 + len(name) + 1) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))

    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            entry(rel, st, os.readlink(path).encode())
        elif stat.S_ISDIR(st.st_mode):
            entry(rel, st, b"")
        else:
            entry(rel, st, path.read_bytes())
    trailer = os.stat_result((0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    entry("TRAILER!!!", trailer, b"")
    return out.getvalue()


def _build_initrd(kernel_root: Path, kver: str, dest: Path, work: Path) -> None:
    root = work / "initramfs"
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "etc/acpi/PWRF", "lib/modules"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    mods = kernel_root / "lib" / "modules" / kver / "kernel"
    for rel in ("drivers/input/evdev.ko", "drivers/acpi/button.ko"):
        src = mods / rel
        if not src.exists():
            raise RuntimeError(f"kernel module {src} missing (compressed modules are not handled)")
        shutil.copy2(src, root / "lib" / "modules" / src.name)
    (root / "init").write_text(INIT_SCRIPT)
    (root / "init").chmod(0o755)
    handler = root / "etc" / "acpi" / "PWRF" / "00000080"
    handler.write_text(POWER_BUTTON_HANDLER)
    handler.chmod(0o755)
    dest.write_bytes(gzip.compress(newc_archive(root), compresslevel=1))


def _build_disk(tools: Path, kernel: Path, initrd: Path, dest: Path, work: Path) -> None:
    """A raw disk: one FAT filesystem over the whole disk with syslinux in its boot sector."""
    env = dict(os.environ, PATH=f"{tools}/usr/bin:{tools}/usr/sbin:{tools}/sbin:{os.environ.get('PATH', '')}",
               MTOOLS_SKIP_CHECK="1")
    with open(dest, "wb") as f:
        f.truncate(DISK_SIZE_MIB * 1024 * 1024)
    _run(str(tools / "sbin" / "mkfs.fat"), "-F", "16", "-n", "GUEST", str(dest), env=env)
    cfg = work / "syslinux.cfg"
    cfg.write_text(SYSLINUX_CFG)
    for src, name in ((kernel, "vmlinuz"), (initrd, "initrd.gz"), (cfg, "syslinux.cfg")):
        _run(str(tools / "usr" / "bin" / "mcopy"), "-i", str(dest), str(src), f"::{name}", env=env)
    _run(str(tools / "usr" / "bin" / "syslinux"), "--install", str(dest), env=env)


def build(cache: Path = DEFAULT_CACHE) -> GuestImages:
    """Return the cached guest for the current package versions, building it when missing."""
    kernel_pkg = kernel_package()
    key = cache_key(kernel_pkg)
    final = cache / key
    images = images_at(final, key)
    if images.disk_qcow2.exists():
        return images
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if images.disk_qcow2.exists():
            return images
        with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
            work = Path(tmp)
            unpacked = _fetch([kernel_pkg, *BOOT_PACKAGES], work)
            kver = kernel_pkg.removeprefix("linux-image-")
            staged = images_at(work / "out", key)
            staged.kernel.parent.mkdir(parents=True)
            staged.disk_qcow2.parent.mkdir(parents=True)
            shutil.copy2(unpacked / "boot" / f"vmlinuz-{kver}", staged.kernel)
            _build_initrd(unpacked, kver, staged.initrd, work)
            _build_disk(unpacked, staged.kernel, staged.initrd, staged.disk_raw, work)
            _run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(staged.disk_raw), str(staged.disk_qcow2))
            (work / "out" / "packages.txt").write_text(
                "\n".join(f"{p} {candidate_version(p)}" for p in (kernel_pkg, *BOOT_PACKAGES)) + "\n")
            os.rename(work / "out", final)
    return images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"cache directory (default {DEFAULT_CACHE})")
    args = parser.parse_args(argv)
    try:
        images = build(args.cache)
    except RuntimeError as exc:
        print(f"build_guest: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(images.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
