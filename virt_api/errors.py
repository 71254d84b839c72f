"""Errors of virt-api and their wire form: Kubernetes `Status` objects, as upstream writes them.

`SubresourceError` is raised by the pure decision functions and by the I/O shell; the app turns it
into the HTTP answer. Invariant: the HTTP status equals `Status.code`; `details` names the object
with group `kubevirt.io` and the lower-case kind, as upstream's `writeError` does. Two upstream
quirks are kept as their own type, `PlainTextError`: an unauthenticated request is 401 `request is
not authenticated` as plain text, and the guest-agent GET helpers answer 500 plain text.
"""

from __future__ import annotations

from collections.abc import Mapping

from virt_client.api.status import failure_status

from .wire import JsonObject, JsonValue


class SubresourceError(Exception):
    """A failure answered with a `Status` object: `code` is the HTTP status and `Status.code`."""

    def __init__(self, code: int, message: str, name: str = "", kind: str = "", group: str = "kubevirt.io",
                 reason: str = "", extra_details: Mapping[str, JsonValue] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.name = name
        self.kind = kind
        self.group = group
        self.reason = reason
        self.extra_details: Mapping[str, JsonValue] = extra_details or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"

    def status(self) -> JsonObject:
        """The `Status` object for this error."""
        details: dict[str, JsonValue] = {}
        if self.name:
            details["name"] = self.name
        if self.kind:
            details["group"] = self.group
            details["kind"] = self.kind
        details.update(self.extra_details)
        body: JsonObject = failure_status(self.code, self.message, self.reason, details)
        return body


# The refusals a request handler expects, one type per answer. Each message says what is wrong
# with the object (its state, the body) in upstream's words, so the client knows what to change.


class BadRequestError(SubresourceError):
    """400: the request itself is wrong (its body, or an option the object cannot take)."""

    def __init__(self, message: str, kind: str = "", name: str = "") -> None:
        super().__init__(400, message, name=name, kind=kind)


class ForbiddenError(SubresourceError):
    """403: the request is not supported for this object."""

    def __init__(self, kind: str, name: str, message: str) -> None:
        super().__init__(403, f'{kind}.kubevirt.io "{name}" is forbidden: {message}', name=name, kind=kind)


class NotFoundError(SubresourceError):
    """404 in apimachinery's wording: `<kind>.kubevirt.io "<name>" not found`."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(404, f'{kind}.kubevirt.io "{name}" not found', name=name, kind=kind)


class ConflictError(SubresourceError):
    """409 in apimachinery's wording: `Operation cannot be fulfilled on <kind>.kubevirt.io "<name>": <msg>`.

    The object is not in a state that allows the request (or changed while it was served); the
    request may succeed once the object changes.
    """

    def __init__(self, kind: str, name: str, message: str) -> None:
        super().__init__(409, f'Operation cannot be fulfilled on {kind}.kubevirt.io "{name}": {message}',
                         name=name, kind=kind)


class InternalError(SubresourceError):
    """500: virt-api could not do what it should have been able to (the API server or a handler failed)."""

    def __init__(self, message: str, kind: str = "", name: str = "") -> None:
        super().__init__(500, f"Internal error occurred: {message}", name=name, kind=kind)


class PlainTextError(Exception):
    """A failure answered with a plain-text body (upstream's authenticator and GET helpers)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Fixed upstream messages (rest/subresource.go).
VM_NOT_RUNNING = "VM is not running"
VMI_NOT_RUNNING = "VMI is not running"
VMI_NOT_PAUSED = "VMI is not paused"
VMI_PAUSED = "VMI is paused"
VMI_ALREADY_PAUSED = "VMI is already paused"
AGENT_NOT_CONNECTED = "VMI does not have guest agent connected"
