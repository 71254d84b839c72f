"""The launcher's only door to libvirt: one connection, one domain, lifecycle events, close detection.

Every method blocks (libvirt is a blocking C library); callers run them in a worker thread. Callbacks
(`on_lifecycle`, `on_close`) are invoked on libvirt's event-loop thread and must hand over to asyncio
with `loop.call_soon_threadsafe`.

Invariants: libvirt's default event implementation is registered once per process, before the first
connection, and served by one daemon thread; libvirt's own error printing is silenced, errors are
raised as `DomainError` carrying libvirt's message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import libvirt

from virt_launcher.errors import DomainError, NoDomain

LifecycleCallback = Callable[[str, int, int], None]
CloseCallback = Callable[[str], None]

_event_loop_lock = threading.Lock()
_event_loop_started = False


def _ignore_error(_ctx: Any, _err: Any) -> None:
    return None


def _ensure_event_loop() -> None:
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        libvirt.registerErrorHandler(_ignore_error, None)
        libvirt.virEventRegisterDefaultImpl()

        def serve() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=serve, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


def _wrap(exc: libvirt.libvirtError) -> DomainError:
    return DomainError(exc.get_error_message() or str(exc))


class Connection:
    """A libvirt connection scoped to one domain name."""

    def __init__(self, uri: str, domain_name: str | None = None) -> None:
        _ensure_event_loop()
        try:
            self._conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise _wrap(exc) from exc
        self.uri = uri
        self.domain_name = domain_name
        # The test driver rejects several flags; it has no ACPI, no NVRAM and no paused start.
        self._test = uri.startswith("test:")
        self._callback_ids: list[int] = []

    def close(self) -> None:
        for cb in self._callback_ids:
            try:
                self._conn.domainEventDeregisterAny(cb)
            except libvirt.libvirtError:
                pass
        self._callback_ids.clear()
        try:
            self._conn.unregisterCloseCallback()
        except libvirt.libvirtError:
            pass
        try:
            self._conn.close()
        except libvirt.libvirtError:
            pass

    def is_alive(self) -> bool:
        try:
            return bool(self._conn.isAlive())
        except libvirt.libvirtError:
            return False

    def on_lifecycle(self, callback: LifecycleCallback) -> None:
        """callback(domain name, libvirt event, detail) for every lifecycle event of the connection."""

        def relay(_conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
            callback(dom.name(), event, detail)

        self._callback_ids.append(self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, relay, None))
        self._callback_ids.append(self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, lambda _c, dom, _o: callback(dom.name(), -1, 0), None))

    def on_close(self, callback: CloseCallback) -> None:
        """callback(reason) when the connection to the daemon drops (daemon died, socket EOF)."""
        names = {0: "Error", 1: "EOF", 2: "KeepAlive", 3: "Client"}

        def relay(_conn: Any, reason: int, _opaque: Any) -> None:
            callback(names.get(reason, str(reason)))

        self._conn.registerCloseCallback(relay, None)

    def _domain(self) -> Any:
        try:
            return self._conn.lookupByName(self.domain_name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise NoDomain(f"domain {self.domain_name} does not exist") from exc
            raise _wrap(exc) from exc

    def _call(self, op: Callable[[Any], Any]) -> Any:
        dom = self._domain()
        try:
            return op(dom)
        except libvirt.libvirtError as exc:
            raise _wrap(exc) from exc

    def exists(self) -> bool:
        try:
            self._domain()
        except NoDomain:
            return False
        return True

    def define(self, xml: str) -> None:
        try:
            self._conn.defineXML(xml)
        except libvirt.libvirtError as exc:
            raise _wrap(exc) from exc

    def start(self, paused: bool = False) -> None:
        if paused and self._test:
            self._call(lambda d: d.create())
            self._call(lambda d: d.suspend())
            return
        self._call(lambda d: d.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED if paused else 0))

    def shutdown(self) -> None:
        flags = 0 if self._test else libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN
        self._call(lambda d: d.shutdownFlags(flags))

    def destroy(self) -> None:
        self._call(lambda d: d.destroyFlags(libvirt.VIR_DOMAIN_DESTROY_GRACEFUL))

    def pause(self) -> None:
        self._call(lambda d: d.suspend())

    def unpause(self) -> None:
        self._call(lambda d: d.resume())

    def soft_reboot(self) -> None:
        self._call(lambda d: d.reboot(libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN))

    def reset(self) -> None:
        self._call(lambda d: d.reset(0))

    def undefine(self) -> None:
        flags = 0 if self._test else libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        self._call(lambda d: d.undefineFlags(flags))

    def state(self) -> tuple[int, int]:
        """(libvirt state, reason) numbers; see `domain_state` for names."""
        state, reason = self._call(lambda d: d.state())
        return int(state), int(reason)

    def uuid(self) -> str:
        return str(self._call(lambda d: d.UUIDString()))

    def xml(self) -> str:
        return str(self._call(lambda d: d.XMLDesc(0)))


#: libvirt lifecycle event numbers used by the manager (stable ABI).
EVENT_DEFINED = libvirt.VIR_DOMAIN_EVENT_DEFINED
EVENT_UNDEFINED = libvirt.VIR_DOMAIN_EVENT_UNDEFINED
EVENT_STOPPED = libvirt.VIR_DOMAIN_EVENT_STOPPED
