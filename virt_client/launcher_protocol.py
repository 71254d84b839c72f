"""The virt-handler ↔ virt-launcher protocol: messages, framing and a small async client.

Both sides import this module and nothing else from each other. It stays dependency-light (stdlib only:
messages are small, and orjson with the modules it loads would add ~0.4 MiB to every launcher, whose
memory is the product's per-VM overhead).

Wire format (version 1, documented in docs/launcher-protocol.md): newline-delimited JSON objects over a
unix stream socket. Every object carries `"v": 1`.

- Command socket (`<launcher dir>/launcher.sock`, served by the launcher): the client sends
  `{"v":1,"id":N,"cmd":NAME,"args":{...}}`; the launcher answers each request, in order, with
  `{"v":1,"id":N,"ok":true,"result":{...}}` or `{"v":1,"id":N,"ok":false,"error":{"reason":R,"message":M}}`.
- Notify socket (served by virt-handler): the launcher connects and writes one event object per line,
  `{"v":1,"type":"domain"|"launcher","event":...,"vmi":{...},...}`; nothing is sent back.

Invariants: encoded messages never contain a raw newline (JSON escapes them); unknown fields are ignored
by readers so either side may add fields within a version; a new `v` means an incompatible change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from virt_client import unix_sockets

VERSION = 1
SUPPORTED_VERSIONS = (1,)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
LAUNCHER_SOCKET_NAME = "launcher.sock"
SERIAL_SOCKET_NAME = "serial0"
SERIAL_LOG_NAME = "serial0.log"
VNC_SOCKET_NAME = "vnc"


class Command(StrEnum):
    PING = "ping"
    SYNC = "sync"
    SHUTDOWN = "shutdown"
    KILL = "kill"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SOFT_REBOOT = "softReboot"
    RESET = "reset"
    DOMAIN_INFO = "domainInfo"


class DomainState(StrEnum):
    """Libvirt domain states with upstream KubeVirt's names (`virtwrap/api/schema.go`)."""

    NO_STATE = "NoState"
    RUNNING = "Running"
    BLOCKED = "Blocked"
    PAUSED = "Paused"
    SHUTTING_DOWN = "ShuttingDown"
    SHUTOFF = "Shutoff"
    CRASHED = "Crashed"
    PM_SUSPENDED = "PMSuspended"


class EventType(StrEnum):
    """`type` of a notify event."""

    DOMAIN = "domain"
    LAUNCHER = "launcher"


class DomainEvent(StrEnum):
    """`event` of a `domain` notify event (upstream watch event types)."""

    ADDED = "Added"
    MODIFIED = "Modified"
    DELETED = "Deleted"


class LauncherEvent(StrEnum):
    """`event` of a `launcher` notify event."""

    READY = "Ready"
    DAEMON_DIED = "DaemonDied"
    DAEMON_RESTARTED = "DaemonRestarted"
    FAILED = "Failed"
    EXITING = "Exiting"


class ErrorReason(StrEnum):
    BAD_REQUEST = "BadRequest"
    UNSUPPORTED_VERSION = "UnsupportedVersion"
    UNKNOWN_COMMAND = "UnknownCommand"
    INVALID_VMI = "InvalidVMI"
    NO_VMI = "NoVMI"
    NO_DOMAIN = "NoDomain"
    LIBVIRT = "LibvirtError"
    INTERNAL = "InternalError"


class ProtocolError(Exception):
    """A message that cannot be decoded or has the wrong version."""


class LauncherError(Exception):
    """The launcher answered a request with `ok: false`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class LauncherUnreachable(Exception):
    """The command socket could not be reached or closed mid-request."""


def encode(message: dict[str, Any]) -> bytes:
    """One framed message: compact JSON plus a newline."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Parse one framed message and check its version."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProtocolError(f"malformed message: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("message is not a JSON object")
    if message.get("v") not in SUPPORTED_VERSIONS:
        raise ProtocolError(f"unsupported protocol version {message.get('v')!r}; supported {list(SUPPORTED_VERSIONS)}")
    return message


def request(request_id: int, cmd: Command | str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"v": VERSION, "id": request_id, "cmd": str(cmd), "args": args or {}}


def ok_response(request_id: Any, result: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"v": VERSION, "id": request_id, "ok": True, "result": result or {}}


def error_response(request_id: Any, reason: str, message: str) -> dict[str, Any]:
    return {"v": VERSION, "id": request_id, "ok": False, "error": {"reason": str(reason), "message": message}}


def domain_event(event: DomainEvent, vmi: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
    """`vmi` is `{namespace, name, uid}`; `domain` is a domain-info object (see `LauncherClient.domain_info`)."""
    return {"v": VERSION, "type": str(EventType.DOMAIN), "event": str(event), "vmi": vmi, "domain": domain,
            "timestamp": time.time()}


def launcher_event(event: LauncherEvent, vmi: dict[str, Any], reason: str = "", message: str = "") -> dict[str, Any]:
    return {"v": VERSION, "type": str(EventType.LAUNCHER), "event": str(event), "vmi": vmi, "reason": reason,
            "message": message, "timestamp": time.time()}


class LauncherClient:
    """Async client of one launcher's command socket.

    One connection, opened on first use and reopened after a failure; requests are serialised.
    Each method returns the `result` object or raises `LauncherError` / `LauncherUnreachable`.
    """

    def __init__(self, path: str, *, timeout: float = 20.0) -> None:
        self.path = path
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0

    async def call(self, cmd: Command | str, args: dict[str, Any] | None = None,
                   *, timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109
        async with self._lock:
            try:
                async with asyncio.timeout(timeout or self.timeout):
                    return await self._call_locked(cmd, args)
            except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as exc:
                await self._close_locked()
                raise LauncherUnreachable(f"launcher at {self.path}: {exc or type(exc).__name__}") from exc

    async def _call_locked(self, cmd: Command | str, args: dict[str, Any] | None) -> dict[str, Any]:
        if self._writer is None:
            self._reader, self._writer = await unix_sockets.open_unix_connection(str(self.path), limit=MAX_MESSAGE_BYTES)
        assert self._reader is not None
        self._next_id += 1
        request_id = self._next_id
        self._writer.write(encode(request(request_id, cmd, args)))
        await self._writer.drain()
        line = await self._reader.readline()
        if not line:
            raise EOFError("connection closed")
        response = decode(line)
        if response.get("id") != request_id:
            raise ProtocolError(f"response id {response.get('id')!r} does not match request {request_id}")
        if not response.get("ok"):
            error = response.get("error") or {}
            raise LauncherError(str(error.get("reason", ErrorReason.INTERNAL)), str(error.get("message", "")))
        result = response.get("result") or {}
        assert isinstance(result, dict)
        return result

    async def _close_locked(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        async with self._lock:
            await self._close_locked()

    async def __aenter__(self) -> LauncherClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def ping(self) -> dict[str, Any]:
        return await self.call(Command.PING, timeout=5.0)

    async def sync(self, vmi: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.call(Command.SYNC, {"vmi": vmi, "options": options or {}}, timeout=60.0)

    async def shutdown(self) -> dict[str, Any]:
        return await self.call(Command.SHUTDOWN)

    async def kill(self) -> dict[str, Any]:
        return await self.call(Command.KILL)

    async def pause(self) -> dict[str, Any]:
        return await self.call(Command.PAUSE)

    async def unpause(self) -> dict[str, Any]:
        return await self.call(Command.UNPAUSE)

    async def soft_reboot(self) -> dict[str, Any]:
        return await self.call(Command.SOFT_REBOOT)

    async def reset(self) -> dict[str, Any]:
        return await self.call(Command.RESET)

    async def domain_info(self) -> dict[str, Any]:
        return await self.call(Command.DOMAIN_INFO, timeout=5.0)


NotifyHandler = Callable[[dict[str, Any]], Awaitable[None]]


async def serve_notify(path: str, handler: NotifyHandler) -> asyncio.AbstractServer:
    """Listen on a notify socket and call `handler(event)` for each event any launcher sends.

    Malformed lines are skipped (a misbehaving launcher must not stop the handler's server).
    The caller owns the returned server (close it and `await server.wait_closed()`).
    """

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    event = decode(line)
                except ProtocolError:
                    continue
                await handler(event)
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return await unix_sockets.start_unix_server(on_connection, str(path), limit=MAX_MESSAGE_BYTES)
