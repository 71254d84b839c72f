"""The launcher's private libvirt daemon: layout, configuration, start, supervision and stop.

Debian 12 ships only the monolithic `libvirtd` (no virtqemud), so each launcher runs its own
`libvirtd`, loading only the QEMU driver (a private `LIBVIRT_DRIVER_DIR`), as upstream runs one
virtqemud per Pod (reference/environment.md §4).

- As root the daemon is privileged and its paths are fixed, so it runs in a private mount namespace
  (`unshare --mount`) where `/etc/libvirt`, `/run/libvirt`, `/var/lib/libvirt`, `/var/cache/libvirt`
  and `/var/log/libvirt` are bind mounts of directories under `<private dir>/libvirt/`. Only those
  sub-directories are covered, so the launcher's own directory stays visible to QEMU wherever it is.
  A private `/etc/passwd` with `libvirt-qemu` is mounted too when the host lacks that user.
- As non-root it runs in session mode with private `XDG_*` directories.

Invariants: each daemon gets its own `host_uuid` and migration port range; the node-level QEMU
capabilities cache is copied in before start (so the first define does not pay the ~8 s probe) and
published back once this daemon has filled its own; the daemon gets SIGTERM if the launcher dies
(`setpriv --pdeathsig`), and `stop()` always reaps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
from pathlib import Path

from virt_launcher.errors import DaemonFailed

LIBVIRTD = "/usr/sbin/libvirtd"
DRIVER_DIR = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver"
PRIVILEGED_DIRS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt",
                   "cache": "/var/cache/libvirt", "log": "/var/log/libvirt"}


@dataclasses.dataclass(frozen=True)
class DaemonSettings:
    base_dir: Path
    root: bool
    host_uuid: str = dataclasses.field(default_factory=lambda: _random_uuid())
    migration_ports: tuple[int, int] = (49152, 49167)
    capabilities_cache: Path | None = None
    libvirtd: str = LIBVIRTD
    start_timeout: float = 10.0


def default_migration_ports(private_dir: str) -> tuple[int, int]:
    """A 16-port range chosen from the private directory, so launchers on a node rarely overlap."""
    slot = int.from_bytes(private_dir.encode()[-8:].rjust(8, b"\0"), "big") % 1000
    start = 49152 + 16 * slot
    return start, start + 15


def libvirtd_conf(s: DaemonSettings, sock_dir: str, log_file: str) -> str:
    return (
        f'unix_sock_dir = "{sock_dir}"\n'
        'unix_sock_rw_perms = "0700"\n'
        'auth_unix_rw = "none"\n'
        'auth_unix_ro = "none"\n'
        f'host_uuid = "{s.host_uuid}"\n'
        "min_workers = 1\nmax_workers = 4\nprio_workers = 1\nmax_clients = 32\nmax_anonymous_clients = 16\n"
        "admin_min_workers = 1\nadmin_max_workers = 1\n"
        "log_level = 3\n"
        f'log_outputs = "3:file:{log_file}"\n'
    )


def qemu_conf(s: DaemonSettings) -> str:
    lines = [
        'stdio_handler = "file"',
        f"migration_port_min = {s.migration_ports[0]}",
        f"migration_port_max = {s.migration_ports[1]}",
    ]
    if s.root:
        lines += ['user = "root"', 'group = "root"', "dynamic_ownership = 0", "remember_owner = 0",
                  'security_driver = "none"', "namespaces = [ ]", "cgroup_controllers = [ ]"]
    return "\n".join(lines) + "\n"


class LibvirtDaemon:
    """One private libvirtd. `start()`, then `wait_exit()` to supervise, `stop()` to end it."""

    def __init__(self, settings: DaemonSettings) -> None:
        self.settings = settings
        b = settings.base_dir
        self._proc: asyncio.subprocess.Process | None = None
        if settings.root:
            self.socket_path = b / "run" / "libvirt-sock"
            self.uri = f"qemu:///system?socket={self.socket_path}"
            self.capabilities_dir = b / "cache" / "qemu" / "capabilities"
            self.qemu_run_dir = b / "run" / "qemu"
            self.log_file = b / "log" / "libvirtd.log"
            self.qemu_log_dir = b / "log" / "qemu"
        else:
            self.socket_path = b / "runtime" / "libvirt" / "libvirt-sock"
            self.uri = f"qemu:///session?socket={self.socket_path}"
            # session mode: <XDG_CACHE_HOME>/libvirt/qemu/cache (the QEMU driver's cacheDir), then capabilities/
            self.capabilities_dir = b / "cache" / "libvirt" / "qemu" / "cache" / "capabilities"
            self.qemu_run_dir = b / "runtime" / "libvirt" / "qemu" / "run"
            self.log_file = b / "log" / "libvirtd.log"
            self.qemu_log_dir = b / "cache" / "libvirt" / "qemu" / "log"  # <XDG_CACHE_HOME>/libvirt/qemu/log

    def qemu_log(self, domain: str) -> Path:
        """The domain's log: libvirt's notes and QEMU's stdout/stderr (`stdio_handler = "file"`)."""
        return self.qemu_log_dir / f"{domain}.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _cache_subdir(self) -> Path | None:
        if self.settings.capabilities_cache is None:
            return None
        mode = "system" if self.settings.root else f"session-{os.getuid()}"
        return self.settings.capabilities_cache / mode

    def prepare(self) -> None:
        b = self.settings.base_dir
        if self.settings.root:
            for name in PRIVILEGED_DIRS:
                (b / name).mkdir(parents=True, exist_ok=True)
            (b / "etc" / "libvirtd.conf").write_text(libvirtd_conf(self.settings, "/run/libvirt", "/var/log/libvirt/libvirtd.log"))
            (b / "etc" / "qemu.conf").write_text(qemu_conf(self.settings))
            for target in PRIVILEGED_DIRS.values():
                os.makedirs(target, exist_ok=True)  # mount points; empty on the host
        else:
            for name in ("home", "config/libvirt", "cache", "data", "runtime", "log"):
                (b / name).mkdir(parents=True, exist_ok=True)
            os.chmod(b / "runtime", 0o700)
            (b / "config" / "libvirt" / "libvirtd.conf").write_text(
                libvirtd_conf(self.settings, str(b / "runtime" / "libvirt"), str(self.log_file)))
            (b / "config" / "libvirt" / "qemu.conf").write_text(qemu_conf(self.settings))
        drivers = b / "drivers"
        drivers.mkdir(exist_ok=True)
        link = drivers / "libvirt_driver_qemu.so"
        if not link.exists():
            link.symlink_to(f"{DRIVER_DIR}/libvirt_driver_qemu.so")
        self._copy_capabilities_in()

    def _copy_capabilities_in(self) -> None:
        src = self._cache_subdir()
        if src is None or not src.is_dir():
            return
        self.capabilities_dir.mkdir(parents=True, exist_ok=True)
        for f in src.glob("*.xml"):
            _copy_file(f, self.capabilities_dir / f.name)

    def publish_capabilities(self) -> None:
        """Copy this daemon's probed capabilities to the node cache (atomically, file by file)."""
        dest = self._cache_subdir()
        if dest is None or not self.capabilities_dir.is_dir():
            return
        dest.mkdir(parents=True, exist_ok=True)
        for f in self.capabilities_dir.glob("*.xml"):
            target = dest / f.name
            if target.exists() and target.stat().st_mtime >= f.stat().st_mtime:
                continue
            tmp = dest / f".{f.name}.{os.getpid()}"
            _copy_file(f, tmp)
            os.replace(tmp, target)

    def _command(self) -> tuple[list[str], dict[str, str]]:
        b = self.settings.base_dir
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LIBVIRT_DRIVER_DIR": str(b / "drivers"), "LANG": "C"}
        if not self.settings.root:
            env.update(HOME=str(b / "home"), XDG_RUNTIME_DIR=str(b / "runtime"), XDG_CONFIG_HOME=str(b / "config"),
                       XDG_CACHE_HOME=str(b / "cache"), XDG_DATA_HOME=str(b / "data"))
            return ["setpriv", "--pdeathsig", "TERM", self.settings.libvirtd], env
        binds = [(str(b / name), target) for name, target in PRIVILEGED_DIRS.items()]
        if not _in_passwd_file("libvirt-qemu"):
            self._write_identity_files()
            binds += [(str(b / "passwd"), "/etc/passwd"), (str(b / "group"), "/etc/group")]
        # paths travel as arguments, never spliced into the script, so they need no quoting
        script = ('set -e; while [ "$#" -gt 1 ]; do mount --bind "$1" "$2"; shift 2; done; '
                  'exec "$1" -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid')
        return ["setpriv", "--pdeathsig", "TERM", "unshare", "--mount", "--propagation", "private",
                "/bin/sh", "-c", script, "libvirtd-namespace", *(p for pair in binds for p in pair),
                self.settings.libvirtd], env

    def _write_identity_files(self) -> None:
        b = self.settings.base_dir
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        (b / "passwd").write_text(passwd + "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin\n")
        extra = "libvirt-qemu:x:64055:\n" + ("" if "\nkvm:" in "\n" + group else "kvm:x:64056:\n")
        (b / "group").write_text(group + extra)

    async def start(self) -> None:
        """Spawn the daemon and wait until its socket accepts connections."""
        await asyncio.to_thread(self.prepare)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        argv, env = self._command()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.settings.base_dir / "libvirtd.stderr", "ab") as err:  # noqa: ASYNC230
            self._proc = await asyncio.create_subprocess_exec(
                *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
        await self.wait_for_socket(self.settings.start_timeout)

    async def wait_for_socket(self, timeout: float) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.005
        while True:
            if self._proc is None or self._proc.returncode is not None:
                raise DaemonFailed(f"libvirtd exited during start: {self.log_tail()}")
            if self.socket_path.exists() and _connectable(str(self.socket_path)):
                return
            if loop.time() > deadline:
                await self.stop()
                raise DaemonFailed(f"libvirtd socket {self.socket_path} not ready after {timeout:.0f}s: {self.log_tail()}")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    async def wait_exit(self) -> int:
        """Block until the daemon process exits; returns its exit status (negative: signal)."""
        assert self._proc is not None
        return await self._proc.wait()

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    def qemu_pid(self, domain_name: str) -> int | None:
        try:
            return int((self.qemu_run_dir / f"{domain_name}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def log_tail(self, lines: int = 5) -> str:
        text = ""
        for path in (self.settings.base_dir / "libvirtd.stderr", self.log_file):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        tail = [ln for ln in text.strip().splitlines() if ln][-lines:]
        return " | ".join(tail) or "(no log output)"


def _random_uuid() -> str:
    """A random (version 4) UUID, as `uuid.uuid4` makes; that module would also load platform and libuuid."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _copy_file(src: Path, dest: Path) -> None:
    """Copy contents and modification time (what the capabilities cache compares); shutil would
    cost the launcher's every VM its import (and bz2, lzma) for two file copies."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(1 << 16):
            fout.write(chunk)
    st = os.stat(src)
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))


def _in_passwd_file(user: str) -> bool:
    """Whether /etc/passwd itself names user. libvirtd reads that file first, so an entry added to a
    private copy works whatever other NSS sources say; and the launcher does not load NSS modules
    (`pwd.getpwnam` would keep libnss_systemd and friends mapped for the launcher's lifetime)."""
    with contextlib.suppress(OSError), open("/etc/passwd", encoding="utf-8", errors="replace") as passwd:
        return any(line.startswith(f"{user}:") for line in passwd)
    return False


def _connectable(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True
