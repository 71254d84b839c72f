"""The launchers on this node: one command-socket client per VMI uid, and what their events said.

`LauncherRegistry` is the only place that talks to launchers (through `virt_client.launcher_protocol`).
It remembers, per VMI uid, the last domain status and launcher failure reported on the notify stream,
whether the launcher ever answered, and since when it stopped answering.

Invariants: a launcher is declared `UNREACHABLE` only when its socket refuses or drops connections
for `unreachable_after` seconds, or once it announced its exit — a launcher that is exiting after
a clean shutdown has its final domain state delivered first, so the VMI ends Succeeded, not Failed;
`ABSENT` (never initialized) is only reported for a launcher that never answered; `forget` drops
everything about a uid.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from virt_client.clock import Clock
from virt_client.indexer import thaw
from virt_client.launcher_protocol import (
    Command,
    DomainState,
    LauncherClient,
    LauncherError,
    LauncherEvent,
    LauncherUnreachable,
)
from virt_handler.settings import HandlerSettings
from virt_handler.status import DomainStatus, Failure, LauncherState, Observation

log = logging.getLogger(__name__)

#: connection failures that mean nobody serves the socket (as opposed to a slow launcher)
_GONE = (ConnectionRefusedError, FileNotFoundError, ConnectionResetError, BrokenPipeError, EOFError)


class LauncherPending(Exception):
    """The launcher stopped answering only just now; look again shortly before concluding it is gone."""


@dataclass
class _Known:
    answered: bool = False
    domain: DomainStatus | None = None
    failure: Failure | None = None
    exiting: bool = False
    unreachable_since: float | None = None


def domain_status(info: Mapping[str, object]) -> DomainStatus | None:
    """A `domainInfo`/event domain object → DomainStatus (None when the launcher has no domain)."""
    state = info.get("state")
    if not state:
        return None
    try:
        parsed = DomainState(str(state))
    except ValueError:
        parsed = DomainState.NO_STATE
    return DomainStatus(parsed, str(info.get("reason") or "Unknown"), bool(info.get("exists", True)))


class Launchers(Protocol):
    """What the VMI reconciler needs of the launchers on this node (`LauncherRegistry`; a fake in tests)."""

    def has_socket(self, uid: str) -> bool:
        """The launcher of VMI `uid` has a command socket (it may still not answer)."""
        ...

    async def observe(self, uid: str) -> Observation: ...

    async def command(self, uid: str, cmd: Command, vmi: Mapping[str, object] | None = None) -> Observation: ...

    async def forget(self, uid: str) -> None: ...


class LauncherRegistry:
    def __init__(self, settings: HandlerSettings, clock: Clock, *, unreachable_after: float = 2.0) -> None:
        self.settings = settings
        self.clock = clock
        self.unreachable_after = unreachable_after
        self._clients: dict[str, LauncherClient] = {}
        self._known: dict[str, _Known] = {}

    def _client(self, uid: str) -> LauncherClient:
        client = self._clients.get(uid)
        if client is None:
            client = self._clients[uid] = LauncherClient(str(self.settings.launcher_socket(uid)))
        return client

    def _entry(self, uid: str) -> _Known:
        return self._known.setdefault(uid, _Known())

    # -- notify stream ----------------------------------------------------------------------------

    def record_event(self, event: Mapping[str, Any]) -> str | None:
        """Remember what a notify event says; return the uid it concerns (None for anonymous events)."""
        vmi = event.get("vmi") or {}
        uid = str(vmi.get("uid") or "") if isinstance(vmi, Mapping) else ""
        if not uid:
            return None
        known = self._entry(uid)
        if event.get("type") == "domain":
            domain = event.get("domain")
            if isinstance(domain, Mapping):
                status = domain_status(domain)
                if status is not None:
                    known.domain = status
        elif event.get("type") == "launcher":
            if event.get("event") == LauncherEvent.FAILED:
                known.failure = Failure(str(event.get("reason") or "LauncherFailed"), str(event.get("message") or ""))
            elif event.get("event") == LauncherEvent.EXITING:
                known.exiting = True
        return uid

    # -- command socket ---------------------------------------------------------------------------

    def has_socket(self, uid: str) -> bool:
        return self.settings.launcher_socket(uid).exists()

    async def observe(self, uid: str) -> Observation:
        """Ask the launcher for its domain; raise `LauncherPending` while unreachability is unconfirmed."""
        known = self._entry(uid)
        if not self.settings.launcher_socket(uid).exists():
            return self._unreachable(uid, known, FileNotFoundError())
        try:
            info = await self._client(uid).domain_info()
        except LauncherUnreachable as exc:
            return self._unreachable(uid, known, exc.__cause__)
        except LauncherError as exc:
            known.answered = True
            return Observation(LauncherState.READY, known.domain, known.failure,
                               sync_error=Failure(exc.reason, exc.message))
        return self._answered(known, info)

    def _answered(self, known: _Known, info: Mapping[str, object]) -> Observation:
        known.answered = True
        known.unreachable_since = None
        domain = domain_status(info)
        if domain is not None:
            known.domain = domain
        state = LauncherState.DOMAIN if domain is not None else LauncherState.READY
        return Observation(state, domain if domain is not None else _final_only(known.domain), known.failure)

    def _unreachable(self, uid: str, known: _Known, cause: BaseException | None) -> Observation:
        if not known.answered and isinstance(cause, FileNotFoundError) and not known.exiting \
                and known.domain is None:
            return Observation(LauncherState.ABSENT, None, known.failure)
        if cause is not None and not isinstance(cause, _GONE):
            raise LauncherUnreachable(f"launcher of VMI {uid}: {cause!r}")
        now = self.clock.monotonic()
        if known.unreachable_since is None:
            known.unreachable_since = now
        settled = known.exiting or (known.domain is not None and known.domain.final)
        if not settled and now - known.unreachable_since < self.unreachable_after:
            raise LauncherPending(uid)
        return Observation(LauncherState.UNREACHABLE, _final_only(known.domain), known.failure)

    async def command(self, uid: str, cmd: Command, vmi: Mapping[str, object] | None = None) -> Observation:
        """Send one command; the observation after it. LauncherError/LauncherUnreachable propagate."""
        client = self._client(uid)
        if cmd is Command.SYNC:
            assert vmi is not None
            info = await client.sync(thaw(vmi))
        else:
            info = await client.call(cmd)
        return self._answered(self._entry(uid), info)

    async def forget(self, uid: str) -> None:
        self._known.pop(uid, None)
        client = self._clients.pop(uid, None)
        if client is not None:
            await client.close()

    async def close(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()


def _final_only(domain: DomainStatus | None) -> DomainStatus | None:
    """Without a live answer only a final state is trustworthy (it cannot change any more)."""
    return domain if domain is not None and domain.final else None
