"""VirtualMachineInstance status: phase, conditions, interfaces and the live-migration state.

Mirrors upstream ``VirtualMachineInstanceStatus`` and ``VirtualMachineInstanceMigrationState``.
The status is written only by virt-controller and virt-handler; users never set it.

Invariant: timestamps are kept as RFC 3339 strings; maps (activePods, node ports) keep their keys.
"""

from __future__ import annotations

from pydantic import Field

from virt_client.api.constants import (
    MigrationAbortStatus,
    MigrationMethod,
    MigrationMode,
    MigrationTransport,
)
from virt_client.api.fields import FreeForm, Int64, Quantity, StringMap, Timestamp, UInt32
from virt_client.api.meta import Condition, KubeModel


class PhaseTransitionTimestamp(KubeModel):
    phase: str | None = None
    phase_transition_timestamp: Timestamp | None = None


class VirtualMachineInstanceNetworkInterface(KubeModel):
    ip_address: str | None = None
    ip_addresses: list[str] | None = None
    mac: str | None = None
    name: str | None = None
    interface_name: str | None = None
    info_source: str | None = None
    pod_interface_name: str | None = None
    queue_count: int | None = None
    link_state: str | None = None


class VirtualMachineInstanceMigrationState(KubeModel):
    start_timestamp: Timestamp | None = None
    end_timestamp: Timestamp | None = None
    target_node_domain_ready_timestamp: Timestamp | None = None
    target_node_domain_detected: bool | None = None
    target_node_address: str | None = None
    target_direct_migration_node_ports: dict[str, int] | None = None
    target_node: str | None = None
    target_pod: str | None = None
    target_attachment_pod_uid: str | None = Field(default=None, alias="targetAttachmentPodUID")
    source_node: str | None = None
    source_pod: str | None = None
    completed: bool | None = None
    failed: bool | None = None
    abort_requested: bool | None = None
    abort_status: MigrationAbortStatus | None = None
    failure_reason: str | None = None
    migration_uid: str | None = None
    mode: MigrationMode | None = None
    migration_policy_name: str | None = None
    migration_configuration: FreeForm | None = None
    target_cpu_set: list[int] | None = Field(default=None, alias="targetCPUSet")
    target_node_topology: str | None = None
    source_persistent_state_pvc_name: str | None = Field(default=None, alias="sourcePersistentStatePVCName")
    target_persistent_state_pvc_name: str | None = Field(default=None, alias="targetPersistentStatePVCName")
    source_state: FreeForm | None = None
    target_state: FreeForm | None = None
    migration_network_type: str | None = None
    target_memory_overhead: Quantity | None = None


class VolumeStatus(KubeModel):
    name: str
    target: str | None = None
    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    persistent_volume_claim_info: FreeForm | None = None
    hotplug_volume: FreeForm | None = None
    size: Int64 | None = None
    memory_dump_volume: FreeForm | None = None
    container_disk_volume: FreeForm | None = None


class CPUTopology(KubeModel):
    cores: UInt32 | None = None
    sockets: UInt32 | None = None
    threads: UInt32 | None = None


class MemoryStatus(KubeModel):
    guest_at_boot: Quantity | None = None
    guest_current: Quantity | None = None
    guest_requested: Quantity | None = None


class Machine(KubeModel):
    type: str | None = None


class VirtualMachineInstanceStatus(KubeModel):
    node_name: str | None = None
    reason: str | None = None
    conditions: list[Condition] | None = None
    phase: str | None = None
    phase_transition_timestamps: list[PhaseTransitionTimestamp] | None = None
    interfaces: list[VirtualMachineInstanceNetworkInterface] | None = None
    guest_os_info: FreeForm | None = Field(default=None, alias="guestOSInfo")
    migration_state: VirtualMachineInstanceMigrationState | None = None
    migration_method: MigrationMethod | None = None
    migration_transport: MigrationTransport | None = None
    qos_class: str | None = None
    launcher_container_image_version: str | None = None
    evacuation_node_name: str | None = None
    active_pods: StringMap | None = None
    volume_status: list[VolumeStatus] | None = None
    kernel_boot_status: FreeForm | None = None
    fs_freeze_status: str | None = None
    topology_hints: FreeForm | None = None
    virtual_machine_revision_name: str | None = None
    runtime_user: Int64 | None = None
    vsockcid: int | None = Field(default=None, alias="VSOCKCID")
    selinux_context: str | None = None
    machine: Machine | None = None
    current_cpu_topology: CPUTopology | None = Field(default=None, alias="currentCPUTopology")
    memory: MemoryStatus | None = None
    migrated_volumes: list[FreeForm] | None = None
    changed_block_tracking: FreeForm | None = None
