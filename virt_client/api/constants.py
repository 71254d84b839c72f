"""Names and enumerations of the KubeVirt and CDI APIs, spelled exactly as upstream.

Group/version strings, kinds and plurals; StrEnums for phases, printable statuses, condition
types, reasons, run strategies and the other closed value sets; and the label, annotation and
finalizer keys the components put on objects. Components import these instead of repeating
literals, so a misspelling is a NameError instead of a silent mismatch.

Invariant: every value here is an upstream wire value, except the few product-wide defaults in the
last section (marked as such), which live here because more than one component needs them.
"""

from __future__ import annotations

from enum import StrEnum

# --- groups and versions -------------------------------------------------------------------

GROUP = "kubevirt.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
DEPRECATED_VERSION = "v1alpha3"

SUBRESOURCE_GROUP = "subresources.kubevirt.io"
SUBRESOURCE_VERSION = "v1"

CDI_GROUP = "cdi.kubevirt.io"
CDI_VERSION = "v1beta1"
CDI_API_VERSION = f"{CDI_GROUP}/{CDI_VERSION}"


class Kind(StrEnum):
    VIRTUAL_MACHINE = "VirtualMachine"
    VIRTUAL_MACHINE_INSTANCE = "VirtualMachineInstance"
    VIRTUAL_MACHINE_INSTANCE_MIGRATION = "VirtualMachineInstanceMigration"
    VIRTUAL_MACHINE_INSTANCE_REPLICA_SET = "VirtualMachineInstanceReplicaSet"
    DATA_VOLUME = "DataVolume"


class Plural(StrEnum):
    VIRTUAL_MACHINES = "virtualmachines"
    VIRTUAL_MACHINE_INSTANCES = "virtualmachineinstances"
    VIRTUAL_MACHINE_INSTANCE_MIGRATIONS = "virtualmachineinstancemigrations"
    VIRTUAL_MACHINE_INSTANCE_REPLICA_SETS = "virtualmachineinstancereplicasets"
    DATA_VOLUMES = "datavolumes"


# --- VirtualMachineInstance ----------------------------------------------------------------


class VirtualMachineInstancePhase(StrEnum):
    UNSET = ""
    PENDING = "Pending"
    SCHEDULING = "Scheduling"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    WAITING_FOR_SYNC = "WaitingForSync"
    UNKNOWN = "Unknown"


FINAL_VMI_PHASES = frozenset({VirtualMachineInstancePhase.SUCCEEDED, VirtualMachineInstancePhase.FAILED})


class VirtualMachineInstanceConditionType(StrEnum):
    PROVISIONING = "Provisioning"
    READY = "Ready"
    SYNCHRONIZED = "Synchronized"
    PAUSED = "Paused"
    AGENT_CONNECTED = "AgentConnected"
    ACCESS_CREDENTIALS_SYNCHRONIZED = "AccessCredentialsSynchronized"
    UNSUPPORTED_AGENT = "AgentVersionNotSupported"
    LIVE_MIGRATABLE = "LiveMigratable"
    STORAGE_LIVE_MIGRATABLE = "StorageLiveMigratable"
    HOT_VCPU_CHANGE = "HotVCPUChange"
    HOT_MEMORY_CHANGE = "HotMemoryChange"
    VOLUMES_CHANGE = "VolumesChange"
    DATA_VOLUMES_READY = "DataVolumesReady"
    MIGRATION_REQUIRED = "MigrationRequired"
    EVICTION_REQUESTED = "EvictionRequested"
    SOFTWARE_EMULATION = "SoftwareEmulation"
    POD_SCHEDULED = "PodScheduled"


class ConditionReason(StrEnum):
    """Reasons written on VM and VMI conditions."""

    # Synchronized=False
    FAILED_PVC_NOT_FOUND = "FailedPvcNotFound"
    ERR_IMAGE_PULL = "ErrImagePull"
    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    FAILED_GUARANTEE_RESOURCES = "FailedGuaranteeResources"
    # PodScheduled=False
    UNSCHEDULABLE = "Unschedulable"
    # LiveMigratable=False
    DISKS_NOT_LIVE_MIGRATABLE = "DisksNotLiveMigratable"
    INTERFACE_NOT_LIVE_MIGRATABLE = "InterfaceNotLiveMigratable"
    HOTPLUG_NOT_LIVE_MIGRATABLE = "HotplugNotLiveMigratable"
    CPU_MODE_NOT_LIVE_MIGRATABLE = "CPUModeLiveMigratable"
    VIRTIOFS_NOT_LIVE_MIGRATABLE = "VirtIOFSNotLiveMigratable"
    HOST_DEVICE_NOT_LIVE_MIGRATABLE = "HostDeviceNotLiveMigratable"
    SEV_NOT_LIVE_MIGRATABLE = "SEVNotLiveMigratable"
    HYPERV_PASSTHROUGH_NOT_LIVE_MIGRATABLE = "HypervPassthroughNotLiveMigratable"
    PERSISTENT_RESERVATION_NOT_LIVE_MIGRATABLE = "PersistentReservationNotLiveMigratable"
    # Paused
    PAUSED_BY_USER = "PausedByUser"
    # VM Ready
    VMI_NOT_EXISTS = "VMINotExists"
    VMI_CONDITION_MISSING = "VMIConditionMissing"
    # VMI Failed
    NODE_UNRESPONSIVE = "NodeUnresponsive"


class EvictionStrategy(StrEnum):
    NONE = "None"
    LIVE_MIGRATE = "LiveMigrate"
    LIVE_MIGRATE_IF_POSSIBLE = "LiveMigrateIfPossible"
    EXTERNAL = "External"


class StartStrategy(StrEnum):
    PAUSED = "Paused"


class MigrationMethod(StrEnum):
    BLOCK_MIGRATION = "BlockMigration"
    LIVE_MIGRATION = "LiveMigration"


class MigrationTransport(StrEnum):
    UNIX = "Unix"


class DiskBus(StrEnum):
    VIRTIO = "virtio"
    SATA = "sata"
    SCSI = "scsi"
    USB = "usb"


class DriverCache(StrEnum):
    NONE = "none"
    WRITETHROUGH = "writethrough"
    WRITEBACK = "writeback"


class DriverIO(StrEnum):
    NATIVE = "native"
    THREADS = "threads"
    DEFAULT = "default"


class TrayState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class HostDiskType(StrEnum):
    DISK = "Disk"
    DISK_OR_CREATE = "DiskOrCreate"


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class WatchdogAction(StrEnum):
    POWEROFF = "poweroff"
    RESET = "reset"
    SHUTDOWN = "shutdown"


class InputBus(StrEnum):
    USB = "usb"
    VIRTIO = "virtio"


class InputType(StrEnum):
    TABLET = "tablet"
    KEYBOARD = "keyboard"


class IOThreadsPolicy(StrEnum):
    SHARED = "shared"
    AUTO = "auto"
    SUPPLEMENTAL_POOL = "supplementalPool"


class RebootPolicy(StrEnum):
    REBOOT = "Reboot"
    TERMINATE = "Terminate"


class InterfaceState(StrEnum):
    ABSENT = "absent"
    UP = "up"
    DOWN = "down"


CPU_MODEL_HOST_MODEL = "host-model"
CPU_MODEL_HOST_PASSTHROUGH = "host-passthrough"
DEFAULT_MACHINE_TYPE = "q35"

# --- VirtualMachine ------------------------------------------------------------------------


class RunStrategy(StrEnum):
    ALWAYS = "Always"
    HALTED = "Halted"
    MANUAL = "Manual"
    RERUN_ON_FAILURE = "RerunOnFailure"
    ONCE = "Once"
    WAIT_AS_RECEIVER = "WaitAsReceiver"


class VirtualMachinePrintableStatus(StrEnum):
    STOPPED = "Stopped"
    PROVISIONING = "Provisioning"
    STARTING = "Starting"
    RUNNING = "Running"
    PAUSED = "Paused"
    STOPPING = "Stopping"
    TERMINATING = "Terminating"
    CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
    MIGRATING = "Migrating"
    UNKNOWN = "Unknown"
    ERR_UNSCHEDULABLE = "ErrorUnschedulable"
    ERR_IMAGE_PULL = "ErrImagePull"
    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    ERR_PVC_NOT_FOUND = "ErrorPvcNotFound"
    DATA_VOLUME_ERROR = "DataVolumeError"
    WAITING_FOR_VOLUME_BINDING = "WaitingForVolumeBinding"
    WAITING_FOR_RECEIVER = "WaitingForReceiver"


class VirtualMachineConditionType(StrEnum):
    FAILURE = "Failure"
    READY = "Ready"
    PAUSED = "Paused"
    RESTART_REQUIRED = "RestartRequired"
    MANUAL_RECOVERY_REQUIRED = "ManualRecoveryRequired"


class StateChangeRequestAction(StrEnum):
    START = "Start"
    STOP = "Stop"


class UpdateVolumesStrategy(StrEnum):
    MIGRATION = "Migration"
    REPLACEMENT = "Replacement"


# --- VirtualMachineInstanceMigration -------------------------------------------------------


class MigrationPhase(StrEnum):
    UNSET = ""
    PENDING = "Pending"
    SCHEDULING = "Scheduling"
    SCHEDULED = "Scheduled"
    PREPARING_TARGET = "PreparingTarget"
    TARGET_READY = "TargetReady"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    WAITING_FOR_SYNC = "WaitingForSync"
    SYNCHRONIZING = "Synchronizing"


FINAL_MIGRATION_PHASES = frozenset({MigrationPhase.SUCCEEDED, MigrationPhase.FAILED})


class MigrationConditionType(StrEnum):
    ABORT_REQUESTED = "migrationAbortRequested"
    REJECTED_BY_RESOURCE_QUOTA = "migrationRejectedByResourceQuota"
    BLOCKED_BY_UTILITY_VOLUMES = "migrationBlockedByUtilityVolumes"
    BLOCKED_BY_BACKUP = "migrationBlockedByBackup"
    DECENTRALIZED_BLOCKED = "decentralizedMigrationBlocked"


class MigrationAbortStatus(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABORTING = "Aborting"


class MigrationMode(StrEnum):
    PRE_COPY = "PreCopy"
    POST_COPY = "PostCopy"
    PAUSED = "Paused"


# --- VirtualMachineInstanceReplicaSet ------------------------------------------------------


class ReplicaSetConditionType(StrEnum):
    REPLICA_FAILURE = "ReplicaFailure"
    REPLICA_PAUSED = "ReplicaPaused"


BURST_REPLICAS = 250

# --- DataVolume ----------------------------------------------------------------------------


class DataVolumePhase(StrEnum):
    UNSET = ""
    PENDING = "Pending"
    PVC_BOUND = "PVCBound"
    IMPORT_SCHEDULED = "ImportScheduled"
    IMPORT_IN_PROGRESS = "ImportInProgress"
    CLONE_SCHEDULED = "CloneScheduled"
    CLONE_IN_PROGRESS = "CloneInProgress"
    SNAPSHOT_FOR_SMART_CLONE_IN_PROGRESS = "SnapshotForSmartCloneInProgress"
    CLONE_FROM_SNAPSHOT_SOURCE_IN_PROGRESS = "CloneFromSnapshotSourceInProgress"
    SMART_CLONE_PVC_IN_PROGRESS = "SmartClonePVCInProgress"
    CSI_CLONE_IN_PROGRESS = "CSICloneInProgress"
    EXPANSION_IN_PROGRESS = "ExpansionInProgress"
    NAMESPACE_TRANSFER_IN_PROGRESS = "NamespaceTransferInProgress"
    UPLOAD_SCHEDULED = "UploadScheduled"
    UPLOAD_READY = "UploadReady"
    WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
    PENDING_POPULATION = "PendingPopulation"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"
    PAUSED = "Paused"
    PREP_CLAIM_IN_PROGRESS = "PrepClaimInProgress"
    REBIND_IN_PROGRESS = "RebindInProgress"


class DataVolumeConditionType(StrEnum):
    READY = "Ready"
    BOUND = "Bound"
    RUNNING = "Running"


class DataVolumeContentType(StrEnum):
    KUBEVIRT = "kubevirt"
    ARCHIVE = "archive"


class RegistryPullMethod(StrEnum):
    POD = "pod"
    NODE = "node"


# --- labels, annotations, finalizers -------------------------------------------------------

APP_LABEL = "kubevirt.io"
APP_LABEL_VIRT_LAUNCHER = "virt-launcher"
APP_LABEL_VIRT_HANDLER = "virt-handler"
CREATED_BY_LABEL = "kubevirt.io/created-by"
NODE_NAME_LABEL = "kubevirt.io/nodeName"
MIGRATION_TARGET_NODE_NAME_LABEL = "kubevirt.io/migrationTargetNodeName"
MIGRATION_JOB_LABEL = "kubevirt.io/migrationJobUID"
MIGRATION_JOB_NAME_ANNOTATION = "kubevirt.io/migrationJobName"
MIGRATION_SELECTOR_LABEL = "kubevirt.io/vmi-name"
VIRTUAL_MACHINE_NAME_LABEL = "vm.kubevirt.io/name"
VMI_ID_LABEL = "vmi.kubevirt.io/id"
SCHEDULABLE_NODE_LABEL = "kubevirt.io/schedulable"
CPU_MANAGER_NODE_LABEL = "kubevirt.io/cpumanager"
HEARTBEAT_ANNOTATION = "kubevirt.io/heartbeat"

DOMAIN_ANNOTATION = "kubevirt.io/domain"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
MIGRATION_TRANSPORT_UNIX_ANNOTATION = "kubevirt.io/migrationTransportUnix"
ALLOW_POD_BRIDGE_NETWORK_LIVE_MIGRATION_ANNOTATION = "kubevirt.io/allow-pod-bridge-network-live-migration"
VM_GENERATION_ANNOTATION = "kubevirt.io/vm-generation"
LATEST_OBSERVED_API_VERSION_ANNOTATION = "kubevirt.io/latest-observed-api-version"
STORAGE_OBSERVED_API_VERSION_ANNOTATION = "kubevirt.io/storage-observed-api-version"
EPHEMERAL_PROVISIONING_ANNOTATION = "kubevirt.io/ephemeral-provisioning"
RESTORE_RUN_STRATEGY_ANNOTATION = "kubevirt.io/restore-run-strategy"
KEEP_LAUNCHER_ALIVE_ANNOTATION = "kubevirt.io/keep-launcher-alive-after-failure"

VMI_FINALIZER = "kubevirt.io/foregroundDeleteVirtualMachine"
VM_FINALIZER = "kubevirt.io/virtualMachineControllerFinalize"
MIGRATION_FINALIZER = "kubevirt.io/migrationJobFinalize"

LAUNCHER_COMPUTE_CONTAINER = "compute"
LAUNCHER_POD_READINESS_GATE = "kubevirt.io/virtual-machine-unpaused"
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30


# --- identifiers and protocol names shared by components -----------------------------------

#: Upstream's `firmwareUUIDns`: a VM's default firmware UUID is uuid5(this, VM name)
#: (`CalculateLegacyUUID`), computed identically by the VM controller and the VMI mutating webhook.
FIRMWARE_UUID_NAMESPACE = "6a1a24a1-4061-4607-8bf4-a3963d0c5895"

#: The websocket subprotocol of the console and VNC streams (virtctl ↔ virt-api ↔ virt-handler).
STREAM_SUBPROTOCOL = "plain.kubevirt.io"

#: The namespace KubeVirt is installed in (virt-api's APIService/webhooks point at its Service there).
INSTALL_NAMESPACE = "kubevirt"

# Product-wide default, not an upstream value: the launcher image the controller renders into Pods
# and virt-local runs.
DEFAULT_LAUNCHER_IMAGE = "kubevirt-py/virt-launcher:v0.1.0"
