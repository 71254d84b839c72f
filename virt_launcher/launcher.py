"""The launcher process: its own libvirt daemon, one domain, the command socket and the notify stream.

Lifecycle of `run(settings)`:
1. start the private libvirtd (not in `test` mode) and connect; open the command socket;
2. sync the VMI given on the command line, or wait for virt-handler's first `sync`;
3. supervise: domain events → notify stream; a dead libvirtd is reported, restarted and re-attached
   (up to `--daemon-restarts`, then the VM fails); no domain within `--domain-timeout` → fail;
4. SIGTERM/SIGINT: ACPI shutdown, destroy once the grace period has passed;
5. once the domain is gone: deliver the final events, stop the daemon, exit (0 when the domain ended
   as asked, 1 with the reason on stderr otherwise).

Every step is logged as a JSON line on stderr (`pod_log`), with libvirtd's and QEMU's own lines
forwarded, so the Pod log tells what happened and why the launcher exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

from virt_client.launcher_protocol import (
    SUPPORTED_VERSIONS,
    VERSION,
    Command,
    DomainState,
    LauncherEvent,
    launcher_event,
)
from virt_launcher.command_server import CommandServer
from virt_launcher.converter import Hypervisor
from virt_launcher.daemon import DaemonSettings, LibvirtDaemon, default_migration_ports
from virt_launcher.domain_manager import DomainManager
from virt_launcher.errors import InvalidVMI, LauncherError
from virt_launcher.libvirt_conn import Connection
from virt_launcher.notifier import Notifier
from virt_launcher.pod_log import LineForwarder, log, vmi_fields
from virt_launcher.settings import LauncherSettings

#: After the grace period's destroy, how long to wait for the domain to be reported gone before exiting.
KILL_REPORT_SECONDS = 10.0


class Launcher:
    def __init__(self, settings: LauncherSettings) -> None:
        self.settings = settings
        self.notifier = Notifier(settings.notify_socket)
        self.daemon: LibvirtDaemon | None = None
        self.manager: DomainManager | None = None
        self.done = asyncio.Event()
        self.failure: str | None = None
        self.terminating = False
        self._terminate = asyncio.Event()
        self._forwarders: list[LineForwarder] = []
        self._forwarding: list[asyncio.Task[None]] = []

    def _vmi_ref(self) -> dict[str, str]:
        return self.manager.vmi_ref if self.manager else {}

    def _fields(self) -> dict[str, Any]:
        return vmi_fields(self._vmi_ref())

    def fail(self, reason: str, message: str) -> None:
        if self.failure is None:
            self.failure = f"{reason}: {message}"
            log.error("the VMI failed: %s", self.failure, extra=self._fields())
            self.notifier.emit(launcher_event(LauncherEvent.FAILED, self._vmi_ref(), reason, message))
        self.done.set()

    async def _connect(self) -> Connection:
        if self.settings.hypervisor is Hypervisor.TEST:
            node = self.settings.private_dir / "test-node.xml"
            node.write_text("<node/>\n")
            return await asyncio.to_thread(Connection, f"test://{node}")
        assert self.daemon is not None
        return await asyncio.to_thread(Connection, self.daemon.uri)

    async def run(self) -> int:
        s = self.settings
        s.private_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_terminate)
        server: CommandServer | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                notify_task = tg.create_task(self.notifier.run())
                if s.hypervisor is not Hypervisor.TEST:
                    self.daemon = LibvirtDaemon(DaemonSettings(
                        base_dir=s.private_dir / "libvirt", root=os.geteuid() == 0,
                        migration_ports=s.migration_ports or default_migration_ports(str(s.private_dir)),
                        capabilities_cache=s.capabilities_cache, libvirtd=s.libvirtd))
                    await self.daemon.start()
                    log.info("libvirtd started (pid %s)", self.daemon.pid)
                    self._forward(tg, LineForwarder(self.daemon.log_file, "libvirt"))
                self.manager = DomainManager(s, self.notifier, on_first_define=self._publish_capabilities)
                self.manager.attach(await self._connect())
                watchers = [tg.create_task(self.manager.watch_events()), tg.create_task(self._domain_timeout()),
                            tg.create_task(self._graceful_shutdown())]
                if self.daemon is not None:
                    watchers.append(tg.create_task(self._supervise_daemon()))
                    watchers.append(tg.create_task(self._forward_qemu_log(tg)))
                server = CommandServer(s.socket_path, self._handle)
                await server.start()
                log.info("virt-launcher started (pid %d, hypervisor %s), serving %s", os.getpid(), s.hypervisor,
                         s.socket_path)
                self.notifier.emit(launcher_event(LauncherEvent.READY, {}, "", f"pid {os.getpid()}"))
                if s.vmi is not None:
                    watchers.append(tg.create_task(self._initial_sync(s.vmi)))
                watchers.append(tg.create_task(self._wait_domain_gone()))
                await self.done.wait()
                await server.close()
                for w in watchers:
                    w.cancel()
                await self._stop_forwarding()
                self.notifier.emit(launcher_event(LauncherEvent.EXITING, self._vmi_ref(), "", self.failure or ""))
                await self.notifier.wait_for_flush(s.final_notify_timeout)
                notify_task.cancel()
        except LauncherError as exc:
            self.failure = self.failure or f"{exc.reason}: {exc}"
        finally:
            if server is not None:
                await server.close()
            await self._cleanup()
            await self._stop_forwarding()
        if self.failure:
            log.error("virt-launcher exiting: %s", self.failure, extra={**self._fields(), "exitCode": 1})
            return 1
        log.info("virt-launcher exiting: the domain ended as asked", extra={**self._fields(), "exitCode": 0})
        return 0

    def _forward(self, tg: asyncio.TaskGroup, forwarder: LineForwarder) -> None:
        self._forwarders.append(forwarder)
        self._forwarding.append(tg.create_task(forwarder.run()))

    async def _forward_qemu_log(self, tg: asyncio.TaskGroup) -> None:
        """Once a domain is defined, forward its QEMU log (QEMU's stderr) to ours."""
        assert self.manager is not None and self.daemon is not None
        await self.manager.domain_defined.wait()
        assert self.manager.spec is not None
        self._forward(tg, LineForwarder(self.daemon.qemu_log(self.manager.spec.name), "qemu"))

    async def _stop_forwarding(self) -> None:
        """Stop polling, then forward the lines written since the last poll (the last words of a QEMU)."""
        for task in self._forwarding:
            task.cancel()
        await asyncio.gather(*self._forwarding, return_exceptions=True)
        self._forwarding.clear()
        forwarders, self._forwarders = self._forwarders, []
        for forwarder in forwarders:
            await forwarder.drain()

    async def _cleanup(self) -> None:
        m = self.manager
        if m is not None and m.conn is not None:
            if m.spec is not None and not m.domain_gone.is_set():
                with contextlib.suppress(LauncherError):
                    await asyncio.to_thread(m.conn.destroy)
            await asyncio.to_thread(m.conn.close)
        if self.daemon is not None:
            if m is not None and m.spec is not None:
                m.kill_qemu(self.daemon.qemu_pid(m.spec.name))
            await self.daemon.stop()

    def _publish_capabilities(self) -> None:
        if self.daemon is not None:
            with contextlib.suppress(OSError):
                self.daemon.publish_capabilities()

    async def _initial_sync(self, vmi: dict[str, Any]) -> None:
        try:
            assert self.manager is not None
            await self.manager.sync(vmi)
        except LauncherError as exc:
            self.fail(exc.reason, str(exc))

    async def _handle(self, cmd: Command, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._dispatch(cmd, args)
        except LauncherError as exc:
            log.error("command %s failed: %s", cmd, exc, extra={**self._fields(), "command": str(cmd), "reason": exc.reason})
            raise

    async def _dispatch(self, cmd: Command, args: dict[str, Any]) -> dict[str, Any]:
        m = self.manager
        assert m is not None
        if cmd is Command.PING:
            return {"version": VERSION, "supportedVersions": list(SUPPORTED_VERSIONS),
                    "hypervisor": str(self.settings.hypervisor), "pid": os.getpid(), "hasDomain": m.spec is not None,
                    "daemonPid": self.daemon.pid if self.daemon else None}
        if cmd is Command.DOMAIN_INFO:
            return await m.info()
        if cmd is Command.SYNC:
            vmi = args.get("vmi")
            if not isinstance(vmi, dict):
                raise InvalidVMI("vmi", "sync needs the VMI object in args.vmi")
            if self.terminating:
                raise LauncherError("the launcher is shutting down")
            return await m.sync(vmi, args.get("options") or {})
        return await m.command(cmd)

    async def _wait_domain_gone(self) -> None:
        assert self.manager is not None
        await self.manager.domain_gone.wait()
        if not self.manager.ended_cleanly() and self.manager.state is not None:
            state, reason = self.manager.state
            self.fail(f"Domain{state}", f"domain ended {state}/{reason}")
        self.done.set()

    async def _domain_timeout(self) -> None:
        assert self.manager is not None
        try:
            await asyncio.wait_for(self.manager.domain_started.wait(), self.settings.domain_timeout)
        except TimeoutError:
            self.fail("DomainTimeout", f"no domain started within {self.settings.domain_timeout:g}s")

    def _on_terminate(self) -> None:
        if not self.terminating:
            log.info("received a stop signal: shutting the domain down", extra=self._fields())
        self.terminating = True
        self._terminate.set()

    async def _graceful_shutdown(self) -> None:
        await self._terminate.wait()
        m = self.manager
        if m is None or m.spec is None or m.domain_gone.is_set() or not m.domain_started.is_set():
            # nothing runs (no sync yet, or the domain never started): nothing to shut down
            self.done.set()
            return
        grace = self.settings.grace_period if self.settings.grace_period is not None else m.spec.grace_period
        try:
            if m.current_state() is DomainState.PAUSED:
                await m.command(Command.KILL)
            elif grace > 0:
                await m.command(Command.SHUTDOWN)
        except LauncherError:
            pass
        try:
            await asyncio.wait_for(m.domain_gone.wait(), grace)
            return
        except TimeoutError:
            log.warning("the domain did not shut down within its grace period of %gs: destroying it", grace,
                        extra=self._fields())
            with contextlib.suppress(LauncherError):
                await m.command(Command.KILL)
        # A domain that will not go (or whose state never reaches us) must not keep the Pod alive:
        # give the destroy a moment to be reported, then end; the cleanup destroys what is left.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(m.domain_gone.wait(), KILL_REPORT_SECONDS)
        self.done.set()

    async def _supervise_daemon(self) -> None:
        assert self.daemon is not None and self.manager is not None
        restarts = 0
        while True:
            status = await self.daemon.wait_exit()
            reason = f"libvirtd (pid {self.daemon.pid}) exited with status {status}"
            log.error("%s", reason, extra=self._fields())
            self.notifier.emit(launcher_event(LauncherEvent.DAEMON_DIED, self._vmi_ref(), "DaemonDied", reason))
            old = self.manager.conn
            if old is not None:
                await asyncio.to_thread(old.close)
            if restarts >= self.settings.daemon_restarts:
                if self.manager.spec is not None:
                    self.manager.kill_qemu(self.daemon.qemu_pid(self.manager.spec.name))
                self.fail("DaemonFailed", f"{reason}; restarted {restarts} times already")
                return
            restarts += 1
            try:
                await self.daemon.start()
                self.manager.attach(await self._connect())
            except LauncherError as exc:
                self.fail("DaemonFailed", f"{reason}; restart failed: {exc}")
                return
            info = await self.manager.info()
            log.info("libvirtd restarted (pid %s); domain %s/%s", self.daemon.pid, info.get("state", "absent"),
                     info.get("reason", ""), extra=self._fields())
            self.notifier.emit(launcher_event(LauncherEvent.DAEMON_RESTARTED, self._vmi_ref(), "DaemonRestarted",
                                              f"libvirtd restarted (pid {self.daemon.pid}); domain "
                                              f"{info.get('state', 'absent')}/{info.get('reason', '')}"))


async def run(settings: LauncherSettings) -> int:
    return await Launcher(settings).run()
