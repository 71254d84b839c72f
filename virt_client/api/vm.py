"""VirtualMachine: desired state (run strategy, VMI template, DataVolume templates) and status.

Mirrors upstream ``VirtualMachineSpec``/``VirtualMachineStatus``. The effective run strategy
rule (``running`` vs ``runStrategy``) lives in :func:`effective_run_strategy`, a pure function
controllers and virt-api share.

Invariant: ``spec.template`` is required, as upstream.
"""

from __future__ import annotations

from pydantic import Field

from virt_client.api.constants import (
    API_VERSION,
    Kind,
    RunStrategy,
    StateChangeRequestAction,
    UpdateVolumesStrategy,
)
from virt_client.api.datavolume import DataVolumeSpec
from virt_client.api.fields import FreeForm, Int64, StringMap, Timestamp
from virt_client.api.meta import Condition, KubeModel, ObjectMeta
from virt_client.api.vmi import VirtualMachineInstanceTemplateSpec


class DataVolumeTemplateSpec(KubeModel):
    api_version: str | None = Field(default=None)
    kind: str | None = None
    metadata: ObjectMeta | None = None
    spec: DataVolumeSpec
    status: FreeForm | None = None


class VirtualMachineSpec(KubeModel):
    running: bool | None = None
    run_strategy: RunStrategy | None = None
    instancetype: FreeForm | None = None
    preference: FreeForm | None = None
    template: VirtualMachineInstanceTemplateSpec
    data_volume_templates: list[DataVolumeTemplateSpec] | None = None
    update_volumes_strategy: UpdateVolumesStrategy | None = None


class VirtualMachineStateChangeRequest(KubeModel):
    action: StateChangeRequestAction
    data: StringMap | None = None
    uid: str | None = None


class VirtualMachineStartFailure(KubeModel):
    consecutive_fail_count: int | None = None
    last_failed_vmi_uid: str | None = Field(default=None, alias="lastFailedVMIUID")
    retry_after_timestamp: Timestamp | None = None


class VirtualMachineVolumeRequest(KubeModel):
    add_volume_options: FreeForm | None = None
    remove_volume_options: FreeForm | None = None


class VirtualMachineStatus(KubeModel):
    snapshot_in_progress: str | None = None
    restore_in_progress: str | None = None
    created: bool | None = None
    ready: bool | None = None
    printable_status: str | None = None
    conditions: list[Condition] | None = None
    state_change_requests: list[VirtualMachineStateChangeRequest] | None = None
    volume_requests: list[VirtualMachineVolumeRequest] | None = None
    volume_snapshot_statuses: list[FreeForm] | None = None
    start_failure: VirtualMachineStartFailure | None = None
    memory_dump_request: FreeForm | None = None
    observed_generation: Int64 | None = None
    desired_generation: Int64 | None = None
    run_strategy: RunStrategy | None = None
    volume_update_state: FreeForm | None = None
    changed_block_tracking: FreeForm | None = None
    instancetype_ref: FreeForm | None = None
    preference_ref: FreeForm | None = None


class VirtualMachine(KubeModel):
    api_version: str | None = Field(default=None)
    kind: str | None = None
    metadata: ObjectMeta | None = None
    spec: VirtualMachineSpec
    status: VirtualMachineStatus | None = None

    @classmethod
    def new(cls, *, name: str, namespace: str, spec: VirtualMachineSpec) -> VirtualMachine:
        """A fresh VM with apiVersion and kind set."""
        return cls(
            api_version=API_VERSION,
            kind=Kind.VIRTUAL_MACHINE,
            metadata=ObjectMeta(name=name, namespace=namespace),
            spec=spec,
        )


class RunStrategyConflict(ValueError):
    """Both ``spec.running`` and ``spec.runStrategy`` are set."""


def effective_run_strategy(spec: VirtualMachineSpec) -> RunStrategy:
    """The run strategy a VM spec asks for, as upstream computes it.

    ``running: true`` means Always; ``running: false`` or neither field means Halted;
    both fields set is an error (the webhook rejects such objects).
    """
    if spec.running is not None and spec.run_strategy is not None:
        raise RunStrategyConflict("spec.running and spec.runStrategy are mutually exclusive")
    if spec.running is not None:
        return RunStrategy.ALWAYS if spec.running else RunStrategy.HALTED
    if spec.run_strategy is None:
        return RunStrategy.HALTED
    return RunStrategy(spec.run_strategy)
