"""Views of a VirtualMachine, a VirtualMachineInstanceMigration and a VirtualMachineInstanceReplicaSet:
the three kinds that own or act on VMIs."""

from __future__ import annotations

from virt_client.api.constants import FINAL_MIGRATION_PHASES, MigrationPhase
from virt_client.api.views.fields import (
    Bool,
    Enum,
    Int,
    Items,
    OptBool,
    OptInt,
    OptStr,
    OptSub,
    Raw,
    Str,
    StrMap,
    Sub,
    View,
)
from virt_client.api.views.meta import ConditionView, LabelSelectorView, ObjectMetaView, ObjectView
from virt_client.api.views.vmi import (
    MigrationStateView,
    PhaseTransitionTimestampView,
    VirtualMachineInstanceTemplateView,
)

# --- VirtualMachine ------------------------------------------------------------------------


class DataVolumeTemplateView(View):
    __slots__ = ()
    metadata = Sub("metadata", ObjectMetaView)
    spec = Raw("spec")

    @property
    def name(self) -> str:
        return self.metadata.name


class VirtualMachineSpecView(View):
    __slots__ = ()
    running = OptBool("running")
    run_strategy = OptStr("runStrategy")
    template = Sub("template", VirtualMachineInstanceTemplateView)
    data_volume_templates = Items("dataVolumeTemplates", DataVolumeTemplateView)
    update_volumes_strategy = OptStr("updateVolumesStrategy")
    instancetype = OptSub("instancetype", View)
    preference = OptSub("preference", View)


class StateChangeRequestView(View):
    __slots__ = ()
    action = Str("action")
    uid = OptStr("uid")
    data = StrMap("data")


class StartFailureView(View):
    __slots__ = ()
    retries = Int("retries")
    consecutive_fail_count = Int("consecutiveFailCount")
    last_failed_vmi_uid = Str("lastFailedVMIUID")
    retry_after_timestamp = OptStr("retryAfterTimestamp")


class VirtualMachineStatusView(View):
    __slots__ = ()
    printable_status = Str("printableStatus")
    created = Bool("created")
    ready = Bool("ready")
    run_strategy = OptStr("runStrategy")
    state_change_requests = Items("stateChangeRequests", StateChangeRequestView)
    start_failure = OptSub("startFailure", StartFailureView)
    snapshot_in_progress = OptStr("snapshotInProgress")
    restore_in_progress = OptStr("restoreInProgress")
    conditions = Items("conditions", ConditionView)
    observed_generation = Int("observedGeneration")
    desired_generation = Int("desiredGeneration")
    volume_requests = Items("volumeRequests", View)


class VirtualMachineView(ObjectView):
    """A VirtualMachine, typed for reading."""

    __slots__ = ()
    spec = Sub("spec", VirtualMachineSpecView)
    status = Sub("status", VirtualMachineStatusView)


# --- VirtualMachineInstanceMigration -------------------------------------------------------


class VirtualMachineInstanceMigrationSpecView(View):
    __slots__ = ()
    vmi_name = Str("vmiName")
    added_node_selector = StrMap("addedNodeSelector")


class VirtualMachineInstanceMigrationStatusView(View):
    __slots__ = ()
    phase = Enum("phase", MigrationPhase, MigrationPhase.UNSET)
    conditions = Items("conditions", ConditionView)
    migration_state = OptSub("migrationState", MigrationStateView)
    phase_transition_timestamps = Items("phaseTransitionTimestamps", PhaseTransitionTimestampView)


class VirtualMachineInstanceMigrationView(ObjectView):
    """A VirtualMachineInstanceMigration, typed for reading."""

    __slots__ = ()
    spec = Sub("spec", VirtualMachineInstanceMigrationSpecView)
    status = Sub("status", VirtualMachineInstanceMigrationStatusView)

    @property
    def phase(self) -> MigrationPhase:
        """`status.phase`; UNSET when absent or not a phase this version knows."""
        return self.status.phase

    @property
    def is_final(self) -> bool:
        return self.status.phase in FINAL_MIGRATION_PHASES


# --- VirtualMachineInstanceReplicaSet ------------------------------------------------------


class VirtualMachineInstanceReplicaSetSpecView(View):
    __slots__ = ()
    replicas = OptInt("replicas")
    selector = Sub("selector", LabelSelectorView)
    template = Sub("template", VirtualMachineInstanceTemplateView)
    paused = Bool("paused")


class VirtualMachineInstanceReplicaSetStatusView(View):
    __slots__ = ()
    replicas = Int("replicas")
    ready_replicas = Int("readyReplicas")
    label_selector = Str("labelSelector")
    conditions = Items("conditions", ConditionView)


class VirtualMachineInstanceReplicaSetView(ObjectView):
    """A VirtualMachineInstanceReplicaSet, typed for reading."""

    __slots__ = ()
    spec = Sub("spec", VirtualMachineInstanceReplicaSetSpecView)
    status = Sub("status", VirtualMachineInstanceReplicaSetStatusView)

    @property
    def replicas(self) -> int:
        """Wanted replicas: `spec.replicas`, 1 when unset (the API default)."""
        replicas = self.spec.replicas
        return 1 if replicas is None else replicas
