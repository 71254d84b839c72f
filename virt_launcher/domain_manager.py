"""The one domain of this launcher: sync, lifecycle commands, state tracking and events.

The manager owns the libvirt `Connection` (swapped by `attach` after a daemon restart), the converted
`DomainSpec`, and the domain's last known state. libvirt calls run in worker threads; libvirt's event
thread only pokes the asyncio side, which re-reads the state and emits a `Modified` event when it
changed — so events are deduplicated and always carry the state libvirt reports now.

Invariants: one VMI per launcher (a `sync` with another uid is refused); commands are serialised;
once the domain reaches Shutoff or Crashed it is undefined, `Deleted` is emitted and `domain_gone`
is set; the launcher then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from virt_client.launcher_protocol import Command, DomainEvent, DomainState, domain_event
from virt_launcher import converter, disk_tools, domain_state, storage
from virt_launcher import vmi_fields as f
from virt_launcher.errors import InvalidVMI, LauncherError, NoDomain
from virt_launcher.libvirt_conn import Connection
from virt_launcher.notifier import Notifier
from virt_launcher.pod_log import log, vmi_fields
from virt_launcher.settings import LauncherSettings


def converter_context(settings: LauncherSettings, container_disk_files: dict[str, str]) -> converter.ConverterContext:
    cd_dir = settings.dir_for("container-disks")
    return converter.ConverterContext(
        hypervisor=settings.hypervisor,
        private_dir=str(settings.private_dir),
        storage=storage.StoragePaths(
            ephemeral_dir=str(settings.dir_for("ephemeral-disks")), pvc_dir=str(settings.dir_for("vmi-disks")),
            container_disk_dir=str(cd_dir), container_disk_files=container_disk_files),
        kernel_boot_dir=str(settings.kernel_boot_dir or cd_dir / "kernel-boot"),
        emulator=settings.emulator,
    )


def resolve_container_disks(vmi: dict[str, Any], container_disk_dir: Path) -> dict[str, str]:
    """volume name → disk file of each containerDisk volume (I/O: looks into the mounted images)."""
    files = {}
    for i, volume in enumerate(f.items(f.child(vmi, "spec", ""), "volumes", "spec")):
        if isinstance(volume.get("containerDisk"), dict):
            name = str(volume.get("name", ""))
            files[name] = disk_tools.resolve_container_disk(
                str(container_disk_dir / name), str(volume["containerDisk"].get("path") or ""),
                f"spec.volumes[{i}].containerDisk")
    return files


class DomainManager:
    def __init__(self, settings: LauncherSettings, notifier: Notifier,
                 on_first_define: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.notifier = notifier
        self.conn: Connection | None = None
        self.spec: converter.DomainSpec | None = None
        self.vmi_ref: dict[str, str] = {}
        self.state: tuple[DomainState, str] | None = None
        self.domain_defined = asyncio.Event()
        self.domain_started = asyncio.Event()
        self.domain_gone = asyncio.Event()
        self._lock = asyncio.Lock()
        self._poke = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._on_first_define = on_first_define

    # -- connection -------------------------------------------------------------------------------
    def attach(self, conn: Connection) -> None:
        """Use conn from now on (first start, or re-attach after a daemon restart)."""
        if self.spec is not None:
            conn.domain_name = self.spec.name
        def poke(_name: str, _event: int, _detail: int) -> None:
            self._loop.call_soon_threadsafe(self._poke.set)

        conn.on_lifecycle(poke)
        self.conn = conn
        self._poke.set()

    def _connection(self) -> Connection:
        if self.conn is None:
            raise LauncherError("libvirt is not connected")
        return self.conn

    # -- commands ---------------------------------------------------------------------------------
    async def sync(self, vmi: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self._lock:
            uid = str((vmi.get("metadata") or {}).get("uid", ""))
            if self.spec is not None and uid != self.vmi_ref.get("uid", ""):
                raise InvalidVMI("metadata.uid", f"this launcher runs VMI uid {self.vmi_ref.get('uid')!r}, not {uid!r}")
            if self.domain_started.is_set():
                return await self._info_locked()
            test_mode = self.settings.hypervisor is converter.Hypervisor.TEST
            files = {} if test_mode else await asyncio.to_thread(
                resolve_container_disks, vmi, self.settings.dir_for("container-disks"))
            if test_mode:
                files = {str(v.get("name")): "/test/disk.qcow2"
                         for v in f.items(f.child(vmi, "spec", ""), "volumes", "spec") if "containerDisk" in v}
            spec = converter.convert(vmi, converter_context(self.settings, files))
            conn = self._connection()
            conn.domain_name = spec.name
            meta = vmi.get("metadata") or {}
            self.vmi_ref = {"namespace": str(meta.get("namespace") or "default"), "name": str(meta.get("name")), "uid": uid}
            if not await asyncio.to_thread(conn.exists):
                if not test_mode:
                    await asyncio.to_thread(self._prepare_files, spec)
                await asyncio.to_thread(conn.define, spec.xml)
                self.spec = spec
                log.info("domain %s defined", spec.name, extra=vmi_fields(self.vmi_ref))
                self._on_first_define()
                self.notifier.emit(domain_event(DomainEvent.ADDED, self.vmi_ref, self._info_dict(DomainState.SHUTOFF, "Unknown")))
            self.spec = spec
            self.domain_defined.set()
            await asyncio.to_thread(conn.start, spec.start_paused)
            log.info("domain %s started%s", spec.name, " paused" if spec.start_paused else "",
                     extra=vmi_fields(self.vmi_ref))
            self.domain_started.set()
            self._poke.set()
            return await self._info_locked()

    def _prepare_files(self, spec: converter.DomainSpec) -> None:
        for d in ("ephemeral-disks", "nvram"):
            (self.settings.dir_for(d) if d != "nvram" else self.settings.private_dir / d).mkdir(parents=True, exist_ok=True)
        disk_tools.prepare(spec.actions)

    async def command(self, cmd: Command) -> dict[str, Any]:
        ops: dict[Command, Callable[[Connection], None]] = {
            Command.SHUTDOWN: Connection.shutdown, Command.KILL: Connection.destroy,
            Command.PAUSE: Connection.pause, Command.UNPAUSE: Connection.unpause,
            Command.SOFT_REBOOT: Connection.soft_reboot, Command.RESET: Connection.reset,
        }
        async with self._lock:
            if self.spec is None:
                raise NoDomain("no domain has been synced yet")
            conn = self._connection()
            log.info("command %s on domain %s", cmd, self.spec.name, extra=vmi_fields(self.vmi_ref))
            await asyncio.to_thread(ops[cmd], conn)
            self._poke.set()
            return await self._info_locked()

    async def info(self) -> dict[str, Any]:
        async with self._lock:
            return await self._info_locked()

    async def _info_locked(self) -> dict[str, Any]:
        if self.spec is None:
            return {"exists": False}
        if self.domain_gone.is_set() or self.conn is None:
            state, reason = self.state or (DomainState.SHUTOFF, "Unknown")
            return self._info_dict(state, reason, exists=not self.domain_gone.is_set())
        try:
            raw = await asyncio.to_thread(self.conn.state)
        except NoDomain:
            return {"exists": False}
        return self._info_dict(domain_state.state_name(raw[0]), domain_state.reason_name(*raw))

    def _info_dict(self, state: DomainState, reason: str, exists: bool = True) -> dict[str, Any]:
        assert self.spec is not None
        return {"exists": exists, "name": self.spec.name, "uuid": self.spec.uuid, "state": str(state),
                "reason": reason, "vmiUID": self.vmi_ref.get("uid", ""), "gracePeriodSeconds": self.spec.grace_period}

    # -- events -----------------------------------------------------------------------------------
    async def watch_events(self) -> None:
        """Re-read the domain state on every poke; emit Modified on change; finish on Shutoff/Crashed."""
        while not self.domain_gone.is_set():
            await self._poke.wait()
            self._poke.clear()
            if self.spec is None or self.conn is None:
                continue
            async with self._lock:
                try:
                    raw = await asyncio.to_thread(self.conn.state)
                except NoDomain:
                    continue
                except LauncherError:
                    continue  # daemon gone; the supervisor re-attaches and pokes again
                now = (domain_state.state_name(raw[0]), domain_state.reason_name(*raw))
                if now != self.state:
                    self.state = now
                    level = logging.ERROR if now[0] is DomainState.CRASHED else logging.INFO
                    log.log(level, "domain %s is %s (reason %s)", self.spec.name, now[0], now[1],
                            extra=vmi_fields(self.vmi_ref))
                    self.notifier.emit(domain_event(DomainEvent.MODIFIED, self.vmi_ref, self._info_dict(*now)))
                if domain_state.is_final(now[0]) and self.domain_started.is_set():
                    await self._finish_locked()

    async def _finish_locked(self) -> None:
        assert self.conn is not None and self.state is not None
        with contextlib.suppress(LauncherError):
            await asyncio.to_thread(self.conn.undefine)
        self.notifier.emit(domain_event(DomainEvent.DELETED, self.vmi_ref, self._info_dict(*self.state, exists=False)))
        self.domain_gone.set()

    def ended_cleanly(self) -> bool:
        return self.state is not None and self.state[0] is DomainState.SHUTOFF and \
            self.state[1] in domain_state.CLEAN_SHUTOFF_REASONS

    def current_state(self) -> DomainState | None:
        return self.state[0] if self.state else None

    def kill_qemu(self, pid: int | None) -> None:
        """Last resort when libvirt is gone: SIGKILL the QEMU process."""
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 9)
