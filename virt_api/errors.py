"""Errors of virt-api and their wire form: Kubernetes `Status` objects, as upstream writes them.

`SubresourceError` is raised by the pure decision functions and by the I/O shell; the app turns it
into the HTTP answer. Invariant: the HTTP status equals `Status.code`; `details` names the object
with group `kubevirt.io` and the lower-case kind, as upstream's `writeError` does. Two upstream
quirks are kept as their own type, `PlainTextError`: an unauthenticated request is 401 `request is
not authenticated` as plain text, and the guest-agent GET helpers answer 500 plain text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from virt_client.api.status import failure_status


@dataclass
class SubresourceError(Exception):
    """A failure answered with a `Status` object."""

    code: int
    message: str
    name: str = ""
    kind: str = ""
    group: str = "kubevirt.io"
    reason: str = ""
    extra_details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> dict[str, Any]:
        """The `Status` object for this error."""
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.kind:
            details["group"] = self.group
            details["kind"] = self.kind
        details.update(self.extra_details)
        return failure_status(self.code, self.message, self.reason, details)


@dataclass
class PlainTextError(Exception):
    """A failure answered with a plain-text body (upstream's authenticator and GET helpers)."""

    code: int
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)


def conflict(kind: str, name: str, message: str) -> SubresourceError:
    """409 in apimachinery's wording: `Operation cannot be fulfilled on <kind>.kubevirt.io "<name>": <msg>`."""
    return SubresourceError(409, f'Operation cannot be fulfilled on {kind}.kubevirt.io "{name}": {message}',
                            name=name, kind=kind)


def not_found(kind: str, name: str) -> SubresourceError:
    """404 in apimachinery's wording: `<kind>.kubevirt.io "<name>" not found`."""
    return SubresourceError(404, f'{kind}.kubevirt.io "{name}" not found', name=name, kind=kind)


def bad_request(message: str, kind: str = "", name: str = "") -> SubresourceError:
    return SubresourceError(400, message, name=name, kind=kind)


def forbidden(kind: str, name: str, message: str) -> SubresourceError:
    return SubresourceError(403, f'{kind}.kubevirt.io "{name}" is forbidden: {message}', name=name, kind=kind)


def internal(message: str, kind: str = "", name: str = "") -> SubresourceError:
    return SubresourceError(500, f"Internal error occurred: {message}", name=name, kind=kind)


# Fixed upstream messages (rest/subresource.go).
VM_NOT_RUNNING = "VM is not running"
VMI_NOT_RUNNING = "VMI is not running"
VMI_NOT_PAUSED = "VMI is not paused"
VMI_PAUSED = "VMI is paused"
VMI_ALREADY_PAUSED = "VMI is already paused"
AGENT_NOT_CONNECTED = "VMI does not have guest agent connected"
