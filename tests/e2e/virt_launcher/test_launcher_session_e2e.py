"""Session mode: virt-launcher as an unprivileged user boots the tiny guest with a session-mode libvirtd.

As root the test drops to `nobody` for the launcher (setpriv). When the interpreter lives under a
directory others cannot enter (a pyenv under /root, say), the launcher runs in a private mount
namespace where that directory is a tmpfs exposing only the interpreter's tree; nothing on the host
changes. The guest's kernel and initrd are copied where the user can read them. The capabilities
cache starts empty, so the run also shows that the session daemon's probe is published to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.virt_launcher.test_launcher_boot_e2e import tiny_vmi
from tests.support.launcher import RunningLauncher, domain_event, notify_socket, running_launcher
from tests.support.process import REPO
from virt_client import launcher_protocol as proto

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USER = "nobody"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


def _others_can_enter(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o001)


def _expose_script(paths: list[Path], scratch: Path) -> str:
    """sh commands (root, private mount namespace) that make each path reachable for any user: the
    first ancestor others cannot enter is covered by a tmpfs holding a bind mount of the one child
    on the way to the path. Empty when every path is reachable already."""
    children: dict[Path, set[str]] = {}
    for path in paths:
        for ancestor in reversed(path.parents):
            if not _others_can_enter(ancestor):
                children.setdefault(ancestor, set()).add(path.relative_to(ancestor).parts[0])
                break
    cmds = []
    for i, (ancestor, names) in enumerate(sorted(children.items())):
        keep = scratch / f"orig{i}"
        keep.mkdir()
        cmds += [f"mount --bind '{ancestor}' '{keep}'", f"mount -t tmpfs -o mode=0755 tmpfs '{ancestor}'"]
        for name in sorted(names):
            cmds += [f"mkdir '{ancestor / name}'", f"mount --bind '{keep / name}' '{ancestor / name}'"]
    return "; ".join(cmds)


@pytest.fixture
def user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pytest.skip(f"no {USER!r} user to run the launcher as")


@pytest.fixture
def work() -> Iterator[Path]:
    # Not tmp_path: pytest's base directory is 0700 root, and unix socket paths must stay short.
    directory = Path(tempfile.mkdtemp(prefix="vl-session-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _reap(proc: asyncio.subprocess.Process, qemu_run_dir: Path) -> None:
    """Stop a launcher the test gave up on, and any QEMU its session daemon left behind."""
    if proc.returncode is None:
        proc.terminate()
        try:
            async with asyncio.timeout(30):
                await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.communicate()
    else:
        await proc.communicate()
    _kill_leftover_qemu(qemu_run_dir)


def _kill_leftover_qemu(qemu_run_dir: Path) -> None:
    for pidfile in qemu_run_dir.glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


@contextlib.asynccontextmanager
async def session_launcher(work: Path, user: pwd.struct_passwd, guest: dict[str, str],
                           vmi: dict[str, Any]) -> AsyncIterator[RunningLauncher]:
    uid, gid = (user.pw_uid, user.pw_gid) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    kernel_boot = work / "kernel-boot"
    shutil.copytree(guest["kernel_boot_dir"], kernel_boot)
    for p in [kernel_boot, *kernel_boot.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    private, cache = work / "l", work / "capabilities"
    (work / "vmi.json").write_bytes(proto.encode(vmi))
    for d in (private, cache):
        d.mkdir()
        os.chown(d, uid, gid)

    argv = [sys.executable, "-m", "virt_launcher.main", "--dir", str(private), "--hypervisor", "emulation",
            "--vmi-file", str(work / "vmi.json"), "--notify-socket", str(notify_socket(work)),
            "--kernel-boot-dir", str(kernel_boot), "--capabilities-cache", str(cache)]
    if os.geteuid() == 0:
        argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]
        scratch = work / "ns"
        scratch.mkdir()
        expose = _expose_script([Path(sys.base_prefix), Path(sys.prefix), REPO], scratch)
        if expose:
            argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                    f'set -e; {expose}; exec "$@"', "expose", *argv]
    qemu_run_dir = private / "libvirt" / "runtime" / "libvirt" / "qemu" / "run"

    async def reap(proc: asyncio.subprocess.Process) -> None:
        await _reap(proc, qemu_run_dir)

    # The notify socket is world-writable: the launcher connects as the unprivileged user.
    async with running_launcher(work, argv, private, cwd=REPO, env={**ENV, "HOME": str(private)},
                                notify_mode=0o777, reap=reap) as la:
        yield la


def _uid(pid: int) -> int:
    line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("Uid:"))
    return int(line.split()[2])  # effective


async def test_unprivileged_launcher_boots_the_guest_in_session_mode_and_sigterm_shuts_it_down(
        work: Path, user: pwd.struct_passwd, guest: dict[str, str]) -> None:
    async with session_launcher(work, user, guest, tiny_vmi(kernel_boot=True)) as la:
        await la.events.wait_for(domain_event("Modified", "Running"))
        await la.wait_for_socket()
        ping = await la.client.ping()
        uid = _uid(ping["pid"])
        assert uid != 0 and _uid(ping["daemonPid"]) == uid, "launcher and libvirtd must run as the unprivileged user"
        assert (la.dir / "libvirt" / "runtime" / "libvirt" / "libvirt-sock").is_socket(), "no session-mode daemon socket"
        await la.wait_for_serial(b"GUEST-BOOTED")
        la.proc.send_signal(signal.SIGTERM)
        code, err = await la.wait_for_exit()
        assert code == 0, err
        deleted = await la.events.wait_for(domain_event("Deleted"))
        assert (deleted["domain"]["state"], deleted["domain"]["reason"]) == ("Shutoff", "Shutdown")
        assert b"GUEST-ACPI-POWERBUTTON" in (la.dir / "serial0.log").read_bytes()
        assert list((work / "capabilities" / f"session-{uid}").glob("*.xml")), "capabilities cache not published"
