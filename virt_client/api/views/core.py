"""Views of the core (v1) kinds the components read: Pod, Node and PersistentVolumeClaim.

Pod phases, QoS classes and PVC phases are Kubernetes', not KubeVirt's, so they read as the strings
written (compare with the literals "Running", "Bound", ...).
"""

from __future__ import annotations

from virt_client.api.views.fields import (
    Bool,
    Int,
    Items,
    OptInt,
    OptStr,
    OptSub,
    Quantities,
    Str,
    StrList,
    StrMap,
    Sub,
    View,
)
from virt_client.api.views.meta import ConditionView, ObjectView, find_condition
from virt_client.api.views.vmi import ResourceRequirementsView

# --- Pod -----------------------------------------------------------------------------------


class ContainerView(View):
    __slots__ = ()
    name = Str("name")
    image = Str("image")
    image_pull_policy = OptStr("imagePullPolicy")
    command = StrList("command")
    args = StrList("args")
    env = Items("env", View)
    ports = Items("ports", View)
    resources = Sub("resources", ResourceRequirementsView)
    volume_mounts = Items("volumeMounts", View)


class PodSpecView(View):
    __slots__ = ()
    node_name = Str("nodeName")
    scheduler_name = OptStr("schedulerName")
    containers = Items("containers", ContainerView)
    init_containers = Items("initContainers", ContainerView)
    volumes = Items("volumes", View)
    termination_grace_period_seconds = OptInt("terminationGracePeriodSeconds")
    service_account_name = OptStr("serviceAccountName")
    hostname = OptStr("hostname")
    subdomain = OptStr("subdomain")
    node_selector = StrMap("nodeSelector")
    restart_policy = OptStr("restartPolicy")
    priority = OptInt("priority")


class ContainerStateWaitingView(View):
    __slots__ = ()
    reason = Str("reason")
    message = Str("message")


class ContainerStateRunningView(View):
    __slots__ = ()
    started_at = OptStr("startedAt")


class ContainerStateTerminatedView(View):
    __slots__ = ()
    exit_code = Int("exitCode")
    signal = OptInt("signal")
    reason = Str("reason")
    message = Str("message")
    started_at = OptStr("startedAt")
    finished_at = OptStr("finishedAt")


class ContainerStateView(View):
    __slots__ = ()
    waiting = OptSub("waiting", ContainerStateWaitingView)
    running = OptSub("running", ContainerStateRunningView)
    terminated = OptSub("terminated", ContainerStateTerminatedView)


class ContainerStatusView(View):
    __slots__ = ()
    name = Str("name")
    ready = Bool("ready")
    started = Bool("started")
    restart_count = Int("restartCount")
    image = Str("image")
    state = Sub("state", ContainerStateView)
    last_state = Sub("lastState", ContainerStateView)


class PodStatusView(View):
    __slots__ = ()
    phase = Str("phase")
    reason = Str("reason")
    message = Str("message")
    pod_ip = OptStr("podIP")
    pod_ips = Items("podIPs", View)
    host_ip = OptStr("hostIP")
    qos_class = OptStr("qosClass")
    start_time = OptStr("startTime")
    conditions = Items("conditions", ConditionView)
    container_statuses = Items("containerStatuses", ContainerStatusView)
    init_container_statuses = Items("initContainerStatuses", ContainerStatusView)


class PodView(ObjectView):
    """A Pod, typed for reading."""

    __slots__ = ()
    spec = Sub("spec", PodSpecView)
    status = Sub("status", PodStatusView)

    @property
    def phase(self) -> str:
        return self.status.phase

    @property
    def is_ready(self) -> bool:
        """The Ready condition is True."""
        cond = find_condition(self.status.conditions, "Ready")
        return cond is not None and cond.is_true


# --- Node ----------------------------------------------------------------------------------


class TaintView(View):
    __slots__ = ()
    key = Str("key")
    value = Str("value")
    effect = Str("effect")


class NodeAddressView(View):
    __slots__ = ()
    type = Str("type")
    address = Str("address")


class NodeSpecView(View):
    __slots__ = ()
    unschedulable = Bool("unschedulable")
    taints = Items("taints", TaintView)
    pod_cidr = OptStr("podCIDR")


class NodeStatusView(View):
    __slots__ = ()
    capacity = Quantities("capacity")
    allocatable = Quantities("allocatable")
    conditions = Items("conditions", ConditionView)
    addresses = Items("addresses", NodeAddressView)


class NodeView(ObjectView):
    """A Node, typed for reading."""

    __slots__ = ()
    spec = Sub("spec", NodeSpecView)
    status = Sub("status", NodeStatusView)

    @property
    def is_ready(self) -> bool:
        cond = find_condition(self.status.conditions, "Ready")
        return cond is not None and cond.is_true


# --- PersistentVolumeClaim -----------------------------------------------------------------


class PersistentVolumeClaimSpecView(View):
    __slots__ = ()
    access_modes = StrList("accessModes")
    volume_mode = OptStr("volumeMode")
    storage_class_name = OptStr("storageClassName")
    volume_name = Str("volumeName")
    resources = Sub("resources", ResourceRequirementsView)


class PersistentVolumeClaimStatusView(View):
    __slots__ = ()
    phase = Str("phase")
    access_modes = StrList("accessModes")
    capacity = Quantities("capacity")
    conditions = Items("conditions", ConditionView)


class PersistentVolumeClaimView(ObjectView):
    """A PersistentVolumeClaim, typed for reading."""

    __slots__ = ()
    spec = Sub("spec", PersistentVolumeClaimSpecView)
    status = Sub("status", PersistentVolumeClaimStatusView)

    @property
    def is_bound(self) -> bool:
        return self.status.phase == "Bound"
