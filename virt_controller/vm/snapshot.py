"""What the VM controller reads for one VirtualMachine (`VMSnapshot`) and the questions both its plan
and its status ask of it: the effective run strategy and the first state-change request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from virt_client.api.constants import RunStrategy, StateChangeRequestAction
from virt_client.api.views import (
    DataVolumeView,
    PersistentVolumeClaimView,
    StateChangeRequestView,
    VirtualMachineInstanceView,
    VirtualMachineView,
)
from virt_client.api.vm import VirtualMachineSpec, effective_run_strategy

#: the `status` body of a VirtualMachine, as written
VMStatus = dict[str, Any]


@dataclass(frozen=True)
class VMSnapshot:
    """Everything `plan` looks at, read from the caches by the shell."""

    vm: VirtualMachineView
    vmi: VirtualMachineInstanceView | None
    expecting_creation: bool = False
    expecting_deletion: bool = False
    datavolumes: Mapping[str, DataVolumeView] = field(default_factory=dict)
    pvcs: Mapping[str, PersistentVolumeClaimView] = field(default_factory=dict)
    #: the random part of a new crash-loop backoff, in [0, 1) (drawn by the shell)
    jitter: float = 0.0


def run_strategy(vm: VirtualMachineView) -> RunStrategy:
    """The VM's effective run strategy (raises `RunStrategyConflict` when both fields are set)."""
    spec = vm.spec
    fields: dict[str, object] = {"template": {}}
    if spec.running is not None:
        fields["running"] = spec.running
    if spec.run_strategy is not None:
        fields["runStrategy"] = spec.run_strategy
    return effective_run_strategy(VirtualMachineSpec.model_validate(fields))


def first_request(vm: VirtualMachineView) -> StateChangeRequestView | None:
    reqs = vm.status.state_change_requests
    return reqs[0] if reqs else None


def has_start_request(vm: VirtualMachineView) -> bool:
    req = first_request(vm)
    return req is not None and req.action == StateChangeRequestAction.START


def start_paused_requested(vm: VirtualMachineView) -> bool:
    req = first_request(vm)
    return req is not None and req.action == StateChangeRequestAction.START and req.data.get("paused") == "true"


def has_stop_request_for(vm: VirtualMachineView, vmi: VirtualMachineInstanceView) -> bool:
    req = first_request(vm)
    return (req is not None and req.action == StateChangeRequestAction.STOP
            and req.uid is not None and req.uid == vmi.uid)
