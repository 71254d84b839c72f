"""Pure preconditions of the VMI subresources forwarded to virt-handler (upstream `rest/subresource.go`).

`check(action, vmi)` raises `SubresourceError` (or `PlainTextError` for the GET helpers, which
upstream answers 500 plain text whatever the failure) when the VMI is not in a state the action
accepts; otherwise it returns and the shell forwards the call to the handler of the VMI's node.
`HANDLER_ACTIONS` lists each action's HTTP method, the handler route and the success code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.views import VirtualMachineInstanceView, VirtualMachineView, find_condition

from .errors import (
    AGENT_NOT_CONNECTED,
    VM_NOT_RUNNING,
    VMI_ALREADY_PAUSED,
    VMI_NOT_PAUSED,
    VMI_NOT_RUNNING,
    VMI_PAUSED,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    PlainTextError,
    SubresourceError,
)

Object = Mapping[str, object]
VMI_KIND = "virtualmachineinstance"


class Action(StrEnum):
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SOFTREBOOT = "softreboot"
    RESET = "reset"
    GUESTOSINFO = "guestosinfo"
    USERLIST = "userlist"
    FILESYSTEMLIST = "filesystemlist"
    CONSOLE = "console"
    VNC = "vnc"
    SCREENSHOT = "vnc/screenshot"


@dataclass(frozen=True)
class Route:
    method: str
    stream: bool = False
    plain_errors: bool = False


HANDLER_ACTIONS: dict[Action, Route] = {
    Action.PAUSE: Route("PUT"),
    Action.UNPAUSE: Route("PUT"),
    Action.SOFTREBOOT: Route("PUT"),
    Action.RESET: Route("PUT"),
    Action.GUESTOSINFO: Route("GET", plain_errors=True),
    Action.USERLIST: Route("GET", plain_errors=True),
    Action.FILESYSTEMLIST: Route("GET", plain_errors=True),
    Action.CONSOLE: Route("GET", stream=True),
    Action.VNC: Route("GET", stream=True),
    Action.SCREENSHOT: Route("GET", plain_errors=True),
}


def has_condition(vmi: VirtualMachineInstanceView, ctype: str) -> bool:
    """Whether the VMI carries condition `ctype` with status True."""
    cond = find_condition(vmi.status.conditions, ctype)
    return cond is not None and cond.is_true


def _acpi_enabled(vmi: VirtualMachineInstanceView) -> bool:
    acpi = vmi.spec.domain.features.get("acpi")
    if acpi is None:
        return True  # upstream defaults ACPI on
    return bool(acpi.get("enabled", True)) if isinstance(acpi, Mapping) else True


def check(action: Action, vmi: Object, *, vm: Object | None = None) -> None:
    """Raise the upstream error when `action` is not possible on `vmi` now."""
    view = VirtualMachineInstanceView(vmi)
    try:
        _check(action, view, VirtualMachineView(vm) if vm is not None else None)
    except SubresourceError as e:
        if HANDLER_ACTIONS[action].plain_errors:
            raise PlainTextError(500, e.message) from None
        raise


def _check(action: Action, vmi: VirtualMachineInstanceView, vm: VirtualMachineView | None) -> None:
    name = vmi.name
    running = vmi.phase == Phase.RUNNING
    devices = vmi.spec.domain.devices
    if action == Action.PAUSE:
        if not running:
            raise ConflictError(VMI_KIND, name, VM_NOT_RUNNING)
        probe = vmi.spec.liveness_probe
        if probe is not None and probe.raw.get("guestAgentPing") is None:
            raise ForbiddenError(VMI_KIND, name, "Pausing VMIs with LivenessProbe is currently not supported")
        if has_condition(vmi, Cond.PAUSED):
            raise ConflictError(VMI_KIND, name, VMI_ALREADY_PAUSED)
    elif action == Action.UNPAUSE:
        if vm is not None and vm.status.snapshot_in_progress:
            raise ConflictError(VMI_KIND, name, "VM snapshot is in progress")
        if not running:
            raise ConflictError(VMI_KIND, name, VM_NOT_RUNNING)
        if not has_condition(vmi, Cond.PAUSED):
            raise ConflictError(VMI_KIND, name, VMI_NOT_PAUSED)
    elif action == Action.SOFTREBOOT:
        if not running:
            raise ConflictError(VMI_KIND, name, VMI_NOT_RUNNING)
        if has_condition(vmi, Cond.PAUSED):
            raise ConflictError(VMI_KIND, name, VMI_PAUSED)
        if not has_condition(vmi, Cond.AGENT_CONNECTED) and not _acpi_enabled(vmi):
            raise ConflictError(VMI_KIND, name, "VMI neither have the agent connected nor the ACPI feature enabled")
    elif action == Action.RESET:
        if not running:
            raise ConflictError(VMI_KIND, name, f"Failed to reset non-running VMI with phase {vmi.phase}")
    elif action in (Action.GUESTOSINFO, Action.USERLIST, Action.FILESYSTEMLIST):
        if not running:
            raise ConflictError(VMI_KIND, name, VMI_NOT_RUNNING)
        if not has_condition(vmi, Cond.AGENT_CONNECTED):
            raise ConflictError(VMI_KIND, name, AGENT_NOT_CONNECTED)
    elif action == Action.CONSOLE:
        if devices.autoattach_serial_console is False:
            raise BadRequestError("No serial consoles are present.", VMI_KIND, name)
        if vmi.phase == Phase.FAILED:
            raise ConflictError(VMI_KIND, name, VMI_NOT_RUNNING)
        if not running:
            raise BadRequestError(VMI_NOT_RUNNING, VMI_KIND, name)
    elif action in (Action.VNC, Action.SCREENSHOT):
        if devices.autoattach_graphics_device is False:
            raise BadRequestError("No graphics devices are present.", VMI_KIND, name)
        if not running:
            raise BadRequestError(VMI_NOT_RUNNING, VMI_KIND, name)


def connectable(vmi: Object) -> str:
    """The VMI's node, or 400 when the VMI is not on a node a handler can serve."""
    view = VirtualMachineInstanceView(vmi)
    phase, node = view.phase, view.node_name
    if phase not in (Phase.SCHEDULED, Phase.RUNNING) or not node:
        raise BadRequestError(f"Unable to connect to VirtualMachineInstance because phase is {phase} instead of "
                              f"Running", VMI_KIND, view.name)
    return node
