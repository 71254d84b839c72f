"""Typed read-only views of the objects the components read from their caches.

A view wraps one object (the informer cache's `FrozenDict`, or any mapping) without copying it and
reads fields through typed properties: `VirtualMachineInstanceView(vmi).status.migration_state`
instead of `((vmi.get("status") or {}).get("migrationState") or {})`. Absent fields read as empty
values of their type, nested objects as views (falsy when absent), lists as tuples of views.
`.raw` is the wrapped object itself, for building patches and for fields no view declares yet.

Invariants: a view never copies, caches or mutates what it wraps (assigning a field raises);
constructing one costs one small object, so wrap at the point of use. The pydantic models of
`virt_client.api` stay the schema (validation, CRD generation); views are for reading cached
objects on the hot path.
"""

from virt_client.api.views.core import (
    ContainerStateRunningView,
    ContainerStateTerminatedView,
    ContainerStateView,
    ContainerStateWaitingView,
    ContainerStatusView,
    ContainerView,
    NodeAddressView,
    NodeSpecView,
    NodeStatusView,
    NodeView,
    PersistentVolumeClaimSpecView,
    PersistentVolumeClaimStatusView,
    PersistentVolumeClaimView,
    PodSpecView,
    PodStatusView,
    PodView,
    TaintView,
)
from virt_client.api.views.datavolume import DataVolumeSpecView, DataVolumeStatusView, DataVolumeView
from virt_client.api.views.fields import EMPTY, ResourceList, View
from virt_client.api.views.meta import (
    ConditionView,
    LabelSelectorView,
    ObjectMetaView,
    ObjectView,
    OwnerReferenceView,
    find_condition,
)
from virt_client.api.views.vm import (
    DataVolumeTemplateView,
    StartFailureView,
    StateChangeRequestView,
    VirtualMachineInstanceMigrationSpecView,
    VirtualMachineInstanceMigrationStatusView,
    VirtualMachineInstanceMigrationView,
    VirtualMachineInstanceReplicaSetSpecView,
    VirtualMachineInstanceReplicaSetStatusView,
    VirtualMachineInstanceReplicaSetView,
    VirtualMachineSpecView,
    VirtualMachineStatusView,
    VirtualMachineView,
)
from virt_client.api.views.vmi import (
    ContainerDiskSourceView,
    CPUView,
    DataVolumeSourceView,
    DevicesView,
    DiskView,
    DomainSpecView,
    FirmwareView,
    InterfaceView,
    MemoryView,
    MigrationStateView,
    NetworkView,
    PersistentVolumeClaimSourceView,
    PhaseTransitionTimestampView,
    ResourceRequirementsView,
    VirtualMachineInstanceNetworkInterfaceView,
    VirtualMachineInstanceSpecView,
    VirtualMachineInstanceStatusView,
    VirtualMachineInstanceTemplateView,
    VirtualMachineInstanceView,
    VolumeStatusView,
    VolumeView,
)

__all__ = [
    "EMPTY", "CPUView", "ConditionView", "ContainerDiskSourceView", "ContainerStateRunningView",
    "ContainerStateTerminatedView", "ContainerStateView", "ContainerStateWaitingView", "ContainerStatusView",
    "ContainerView", "DataVolumeSourceView", "DataVolumeSpecView", "DataVolumeStatusView",
    "DataVolumeTemplateView", "DataVolumeView", "DevicesView", "DiskView", "DomainSpecView", "FirmwareView",
    "InterfaceView", "LabelSelectorView", "MemoryView", "MigrationStateView", "NetworkView", "NodeAddressView",
    "NodeSpecView", "NodeStatusView", "NodeView", "ObjectMetaView", "ObjectView", "OwnerReferenceView",
    "PersistentVolumeClaimSourceView", "PersistentVolumeClaimSpecView", "PersistentVolumeClaimStatusView",
    "PersistentVolumeClaimView", "PhaseTransitionTimestampView", "PodSpecView", "PodStatusView", "PodView",
    "ResourceList", "ResourceRequirementsView", "StartFailureView", "StateChangeRequestView", "TaintView",
    "View", "VirtualMachineInstanceMigrationSpecView", "VirtualMachineInstanceMigrationStatusView",
    "VirtualMachineInstanceMigrationView", "VirtualMachineInstanceNetworkInterfaceView",
    "VirtualMachineInstanceReplicaSetSpecView", "VirtualMachineInstanceReplicaSetStatusView",
    "VirtualMachineInstanceReplicaSetView", "VirtualMachineInstanceSpecView", "VirtualMachineInstanceStatusView",
    "VirtualMachineInstanceTemplateView", "VirtualMachineInstanceView", "VirtualMachineSpecView",
    "VirtualMachineStatusView", "VirtualMachineView", "VolumeStatusView", "VolumeView", "find_condition",
]
