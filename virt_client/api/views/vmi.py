"""Views of a VirtualMachineInstance: its spec (domain, devices, networks, volumes) and status.

The VMI spec views are shared by the VM and VMIRS templates (`VirtualMachineInstanceTemplateView`)
and the migration state by VMIM status. Fields are the ones the components read; anything else is
reachable through `.raw`.
"""

from __future__ import annotations

from virt_client.api.constants import FINAL_VMI_PHASES, VirtualMachineInstancePhase
from virt_client.api.views.fields import (
    Bool,
    Enum,
    Int,
    Items,
    OptBool,
    OptInt,
    OptStr,
    OptSub,
    Quantities,
    Raw,
    Str,
    StrList,
    StrMap,
    Sub,
    View,
)
from virt_client.api.views.meta import ConditionView, ObjectMetaView, ObjectView

# --- spec ----------------------------------------------------------------------------------


class ResourceRequirementsView(View):
    __slots__ = ()
    requests = Quantities("requests")
    limits = Quantities("limits")
    overcommit_guest_overhead = Bool("overcommitGuestOverhead")


class MemoryView(View):
    __slots__ = ()
    guest = OptStr("guest")
    max_guest = OptStr("maxGuest")
    hugepages = Raw("hugepages")


class CPUView(View):
    __slots__ = ()
    cores = OptInt("cores")
    sockets = OptInt("sockets")
    threads = OptInt("threads")
    model = Str("model")
    dedicated_cpu_placement = Bool("dedicatedCpuPlacement")


class FirmwareView(View):
    __slots__ = ()
    uuid = OptStr("uuid")
    serial = OptStr("serial")
    bootloader = Raw("bootloader")


class DiskView(View):
    __slots__ = ()
    name = Str("name")
    boot_order = OptInt("bootOrder")
    serial = OptStr("serial")
    disk = OptSub("disk", View)
    cdrom = OptSub("cdrom", View)
    lun = OptSub("lun", View)


class InterfaceView(View):
    __slots__ = ()
    name = Str("name")
    mac_address = OptStr("macAddress")
    model = OptStr("model")
    state = OptStr("state")
    masquerade = OptSub("masquerade", View)
    bridge = OptSub("bridge", View)
    sriov = OptSub("sriov", View)
    binding = OptSub("binding", View)
    ports = Items("ports", View)

    @property
    def binding_method(self) -> str:
        """Which binding the interface asks for: "masquerade", "bridge", "sriov", "binding" or ""."""
        for method in ("masquerade", "bridge", "sriov", "binding"):
            if method in self.raw:
                return method
        return ""


class DevicesView(View):
    __slots__ = ()
    disks = Items("disks", DiskView)
    interfaces = Items("interfaces", InterfaceView)
    inputs = Items("inputs", View)
    autoattach_pod_interface = OptBool("autoattachPodInterface")
    autoattach_serial_console = OptBool("autoattachSerialConsole")
    autoattach_graphics_device = OptBool("autoattachGraphicsDevice")


class DomainSpecView(View):
    __slots__ = ()
    resources = Sub("resources", ResourceRequirementsView)
    memory = Sub("memory", MemoryView)
    cpu = Sub("cpu", CPUView)
    firmware = Sub("firmware", FirmwareView)
    devices = Sub("devices", DevicesView)
    machine = Raw("machine")
    features = Raw("features")
    clock = Raw("clock")


class NetworkView(View):
    __slots__ = ()
    name = Str("name")
    pod = OptSub("pod", View)
    multus = OptSub("multus", View)


class ContainerDiskSourceView(View):
    __slots__ = ()
    image = Str("image")
    image_pull_policy = OptStr("imagePullPolicy")
    path = OptStr("path")


class PersistentVolumeClaimSourceView(View):
    __slots__ = ()
    claim_name = Str("claimName")
    read_only = Bool("readOnly")
    hotpluggable = Bool("hotpluggable")


class DataVolumeSourceView(View):
    __slots__ = ()
    name = Str("name")
    hotpluggable = Bool("hotpluggable")


class VolumeView(View):
    __slots__ = ()
    name = Str("name")
    container_disk = OptSub("containerDisk", ContainerDiskSourceView)
    persistent_volume_claim = OptSub("persistentVolumeClaim", PersistentVolumeClaimSourceView)
    data_volume = OptSub("dataVolume", DataVolumeSourceView)
    empty_disk = OptSub("emptyDisk", View)
    cloud_init_no_cloud = OptSub("cloudInitNoCloud", View)
    cloud_init_config_drive = OptSub("cloudInitConfigDrive", View)

    @property
    def claim_name(self) -> str | None:
        """The PVC the volume uses: a persistentVolumeClaim's claimName, or a DataVolume's name (its PVC's)."""
        if (pvc := self.persistent_volume_claim) is not None:
            return pvc.claim_name
        if (dv := self.data_volume) is not None:
            return dv.name
        return None


class VirtualMachineInstanceSpecView(View):
    __slots__ = ()
    domain = Sub("domain", DomainSpecView)
    networks = Items("networks", NetworkView)
    volumes = Items("volumes", VolumeView)
    termination_grace_period_seconds = OptInt("terminationGracePeriodSeconds")
    node_selector = StrMap("nodeSelector")
    hostname = OptStr("hostname")
    subdomain = OptStr("subdomain")
    scheduler_name = OptStr("schedulerName")
    priority_class_name = OptStr("priorityClassName")
    eviction_strategy = OptStr("evictionStrategy")
    start_strategy = OptStr("startStrategy")
    architecture = OptStr("architecture")
    liveness_probe = OptSub("livenessProbe", View)
    readiness_probe = OptSub("readinessProbe", View)
    affinity = Raw("affinity")
    tolerations = Items("tolerations", View)


class VirtualMachineInstanceTemplateView(View):
    """`spec.template` of a VM or VMIRS: metadata and a VMI spec."""

    __slots__ = ()
    metadata = Sub("metadata", ObjectMetaView)
    spec = Sub("spec", VirtualMachineInstanceSpecView)


# --- status --------------------------------------------------------------------------------


class MigrationStateView(View):
    """`status.migrationState` of a VMI (and of a VMIM)."""

    __slots__ = ()
    migration_uid = Str("migrationUid")
    start_timestamp = OptStr("startTimestamp")
    end_timestamp = OptStr("endTimestamp")
    source_node = Str("sourceNode")
    source_pod = Str("sourcePod")
    target_node = Str("targetNode")
    target_pod = Str("targetPod")
    target_node_address = OptStr("targetNodeAddress")
    target_node_domain_detected = Bool("targetNodeDomainDetected")
    target_node_domain_ready_timestamp = OptStr("targetNodeDomainReadyTimestamp")
    completed = Bool("completed")
    failed = Bool("failed")
    abort_requested = Bool("abortRequested")
    abort_status = OptStr("abortStatus")
    failure_reason = OptStr("failureReason")
    mode = OptStr("mode")


class VirtualMachineInstanceNetworkInterfaceView(View):
    __slots__ = ()
    name = Str("name")
    interface_name = OptStr("interfaceName")
    ip_address = OptStr("ipAddress")
    ip_addresses = StrList("ipAddresses")
    mac = OptStr("mac")


class PhaseTransitionTimestampView(View):
    __slots__ = ()
    phase = Str("phase")
    phase_transition_timestamp = Str("phaseTransitionTimestamp")


class VolumeStatusView(View):
    __slots__ = ()
    name = Str("name")
    target = Str("target")
    phase = OptStr("phase")
    reason = OptStr("reason")
    message = OptStr("message")
    size = OptInt("size")


class VirtualMachineInstanceStatusView(View):
    __slots__ = ()
    phase = Enum("phase", VirtualMachineInstancePhase, VirtualMachineInstancePhase.UNSET,
                 VirtualMachineInstancePhase.UNKNOWN)
    reason = Str("reason")
    message = Str("message")
    node_name = Str("nodeName")
    conditions = Items("conditions", ConditionView)
    migration_state = OptSub("migrationState", MigrationStateView)
    migration_transport = OptStr("migrationTransport")
    interfaces = Items("interfaces", VirtualMachineInstanceNetworkInterfaceView)
    qos_class = OptStr("qosClass")
    launcher_container_image_version = OptStr("launcherContainerImageVersion")
    phase_transition_timestamps = Items("phaseTransitionTimestamps", PhaseTransitionTimestampView)
    active_pods = StrMap("activePods")
    volume_status = Items("volumeStatus", VolumeStatusView)
    guest_os_info = Raw("guestOSInfo")
    machine = Raw("machine")
    memory = Raw("memory")
    current_cpu_topology = Raw("currentCPUTopology")
    evacuation_node_name = OptStr("evacuationNodeName")
    observed_generation = Int("observedGeneration")


class VirtualMachineInstanceView(ObjectView):
    """A VirtualMachineInstance, typed for reading."""

    __slots__ = ()
    spec = Sub("spec", VirtualMachineInstanceSpecView)
    status = Sub("status", VirtualMachineInstanceStatusView)

    @property
    def phase(self) -> VirtualMachineInstancePhase:
        """`status.phase`; UNSET when absent, UNKNOWN for a value this version does not know."""
        return self.status.phase

    @property
    def is_final(self) -> bool:
        """Succeeded or Failed: the VMI never runs again."""
        return self.status.phase in FINAL_VMI_PHASES

    @property
    def node_name(self) -> str:
        """`status.nodeName`: the node the VMI runs on, "" before it is scheduled."""
        return self.status.node_name
