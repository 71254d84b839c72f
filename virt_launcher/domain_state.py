"""libvirt's numeric domain states and reasons → the names upstream KubeVirt reports. Pure.

The numbers are libvirt's stable ABI (`virDomainState` and the per-state `vir*Reason` enums), so this
module does not import libvirt.
"""

from __future__ import annotations

from virt_client.launcher_protocol import DomainState

STATES = {
    0: DomainState.NO_STATE, 1: DomainState.RUNNING, 2: DomainState.BLOCKED, 3: DomainState.PAUSED,
    4: DomainState.SHUTTING_DOWN, 5: DomainState.SHUTOFF, 6: DomainState.CRASHED, 7: DomainState.PM_SUSPENDED,
}
REASONS: dict[DomainState, tuple[str, ...]] = {
    DomainState.NO_STATE: ("Unknown",),
    DomainState.RUNNING: ("Unknown", "Booted", "Migrated", "Restored", "FromSnapshot", "Unpaused",
                          "MigrationCanceled", "SaveCanceled", "Wakeup", "Crashed", "PostCopy"),
    DomainState.BLOCKED: ("Unknown",),
    DomainState.PAUSED: ("Unknown", "User", "Migration", "Save", "Dump", "IOError", "Watchdog", "FromSnapshot",
                         "ShuttingDown", "Snapshot", "Crashed", "StartingUp", "PostCopy", "PostcopyFailed"),
    DomainState.SHUTTING_DOWN: ("Unknown", "User"),
    DomainState.SHUTOFF: ("Unknown", "Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed",
                          "FromSnapshot", "Daemon"),
    DomainState.CRASHED: ("Unknown", "Panicked"),
    DomainState.PM_SUSPENDED: ("Unknown",),
}
#: Shutoff reasons that mean the VM ended as asked (the launcher exits 0).
CLEAN_SHUTOFF_REASONS = frozenset({"Shutdown", "Destroyed", "Saved", "FromSnapshot", "Migrated"})


def state_name(state: int) -> DomainState:
    return STATES.get(state, DomainState.NO_STATE)


def reason_name(state: int, reason: int) -> str:
    names = REASONS[state_name(state)]
    return names[reason] if 0 <= reason < len(names) else "Unknown"


def is_final(state: DomainState) -> bool:
    """The QEMU process is gone: the VM is over for this launcher."""
    return state in (DomainState.SHUTOFF, DomainState.CRASHED)
