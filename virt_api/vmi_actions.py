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
from typing import Any

from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.objects import phase as vmi_phase
from virt_client.api.views import VirtualMachineInstanceView

from .errors import (
    AGENT_NOT_CONNECTED,
    VM_NOT_RUNNING,
    VMI_ALREADY_PAUSED,
    VMI_NOT_PAUSED,
    VMI_NOT_RUNNING,
    VMI_PAUSED,
    PlainTextError,
    SubresourceError,
    bad_request,
    conflict,
    forbidden,
)

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


def _name(vmi: Mapping[str, Any]) -> str:
    return str((vmi.get("metadata") or {}).get("name") or "")


def has_condition(vmi: Mapping[str, Any], ctype: str) -> bool:
    """Whether the VMI carries condition `ctype` with status True."""
    conds = (vmi.get("status") or {}).get("conditions") or []
    return any(isinstance(c, Mapping) and c.get("type") == ctype and c.get("status") == "True" for c in conds)


def _acpi_enabled(vmi: Mapping[str, Any]) -> bool:
    acpi = (((vmi.get("spec") or {}).get("domain") or {}).get("features") or {}).get("acpi")
    if acpi is None:
        return True  # upstream defaults ACPI on
    return bool(acpi.get("enabled", True)) if isinstance(acpi, Mapping) else True


def check(action: Action, vmi: Mapping[str, Any], *, vm: Mapping[str, Any] | None = None) -> None:
    """Raise the upstream error when `action` is not possible on `vmi` now."""
    name = _name(vmi)
    running = vmi_phase(vmi) == Phase.RUNNING
    route = HANDLER_ACTIONS[action]
    try:
        _check(action, vmi, vm, name, running)
    except SubresourceError as e:
        if route.plain_errors:
            raise PlainTextError(500, e.message) from None
        raise


def _check(action: Action, vmi: Mapping[str, Any], vm: Mapping[str, Any] | None, name: str, running: bool) -> None:
    if action == Action.PAUSE:
        if not running:
            raise conflict(VMI_KIND, name, VM_NOT_RUNNING)
        probe = (vmi.get("spec") or {}).get("livenessProbe")
        if probe is not None and not (isinstance(probe, Mapping) and probe.get("guestAgentPing") is not None):
            raise forbidden(VMI_KIND, name, "Pausing VMIs with LivenessProbe is currently not supported")
        if has_condition(vmi, Cond.PAUSED):
            raise conflict(VMI_KIND, name, VMI_ALREADY_PAUSED)
    elif action == Action.UNPAUSE:
        if vm is not None and (vm.get("status") or {}).get("snapshotInProgress"):
            raise conflict(VMI_KIND, name, "VM snapshot is in progress")
        if not running:
            raise conflict(VMI_KIND, name, VM_NOT_RUNNING)
        if not has_condition(vmi, Cond.PAUSED):
            raise conflict(VMI_KIND, name, VMI_NOT_PAUSED)
    elif action == Action.SOFTREBOOT:
        if not running:
            raise conflict(VMI_KIND, name, VMI_NOT_RUNNING)
        if has_condition(vmi, Cond.PAUSED):
            raise conflict(VMI_KIND, name, VMI_PAUSED)
        if not has_condition(vmi, Cond.AGENT_CONNECTED) and not _acpi_enabled(vmi):
            raise conflict(VMI_KIND, name, "VMI neither have the agent connected nor the ACPI feature enabled")
    elif action == Action.RESET:
        if not running:
            raise conflict(VMI_KIND, name, f"Failed to reset non-running VMI with phase {vmi_phase(vmi)}")
    elif action in (Action.GUESTOSINFO, Action.USERLIST, Action.FILESYSTEMLIST):
        if not running:
            raise conflict(VMI_KIND, name, VMI_NOT_RUNNING)
        if not has_condition(vmi, Cond.AGENT_CONNECTED):
            raise conflict(VMI_KIND, name, AGENT_NOT_CONNECTED)
    elif action == Action.CONSOLE:
        if VirtualMachineInstanceView(vmi).spec.domain.devices.autoattach_serial_console is False:
            raise bad_request("No serial consoles are present.", VMI_KIND, name)
        if vmi_phase(vmi) == Phase.FAILED:
            raise conflict(VMI_KIND, name, VMI_NOT_RUNNING)
        if not running:
            raise bad_request(VMI_NOT_RUNNING, VMI_KIND, name)
    elif action in (Action.VNC, Action.SCREENSHOT):
        if VirtualMachineInstanceView(vmi).spec.domain.devices.autoattach_graphics_device is False:
            raise bad_request("No graphics devices are present.", VMI_KIND, name)
        if not running:
            raise bad_request(VMI_NOT_RUNNING, VMI_KIND, name)


def connectable(vmi: Mapping[str, Any]) -> str:
    """The VMI's node, or 400 when the VMI is not on a node a handler can serve."""
    phase = vmi_phase(vmi)
    node = VirtualMachineInstanceView(vmi).node_name
    if phase not in (Phase.SCHEDULED, Phase.RUNNING) or not node:
        raise bad_request(f"Unable to connect to VirtualMachineInstance because phase is {phase} instead of Running",
                          VMI_KIND, _name(vmi))
    return node
