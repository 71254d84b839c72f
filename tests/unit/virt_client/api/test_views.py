"""Typed views: each field reads what the wire object holds, absent fields read empty, nothing is copied or changed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from virt_client.api.constants import DataVolumePhase, MigrationPhase, VirtualMachineInstancePhase
from virt_client.api.views import (
    DataVolumeView,
    NodeView,
    PersistentVolumeClaimView,
    PodView,
    View,
    VirtualMachineInstanceMigrationView,
    VirtualMachineInstanceReplicaSetView,
    VirtualMachineInstanceView,
    VirtualMachineView,
    find_condition,
)
from virt_client.indexer import FrozenDict, freeze, thaw

VMI: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
    "metadata": {"name": "vmi-1", "namespace": "ns", "uid": "u-1", "generation": 3,
                 "labels": {"kubevirt.io/nodeName": "node-a"}, "finalizers": ["kubevirt.io/x"],
                 "ownerReferences": [{"kind": "VirtualMachine", "name": "vm-1", "uid": "u-vm", "controller": True}]},
    "spec": {
        "domain": {"resources": {"requests": {"memory": "128Mi", "cpu": 1}},
                   "memory": {"guest": "256Mi"}, "cpu": {"cores": 2},
                   "firmware": {"uuid": "6a1a"},
                   "devices": {"disks": [{"name": "root", "bootOrder": 1, "disk": {"bus": "virtio"}}],
                               "interfaces": [{"name": "default", "masquerade": {}}],
                               "autoattachPodInterface": False}},
        "networks": [{"name": "default", "pod": {}}],
        "volumes": [{"name": "root", "containerDisk": {"image": "quay.io/x"}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "pvc-1", "readOnly": True}},
                    {"name": "dv", "dataVolume": {"name": "dv-1"}},
                    "not-an-object"],
        "terminationGracePeriodSeconds": 0,
        "nodeSelector": {"zone": "a"},
    },
    "status": {
        "phase": "Running", "nodeName": "node-a", "qosClass": "Burstable",
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "Paused", "status": "False", "reason": "r"}],
        "migrationState": {"migrationUid": "m-1", "targetNode": "node-b", "completed": True},
        "interfaces": [{"name": "default", "ipAddress": "10.0.0.5", "ipAddresses": ["10.0.0.5"]}],
        "phaseTransitionTimestamps": [{"phase": "Running", "phaseTransitionTimestamp": "2026-01-01T00:00:00Z"}],
        "activePods": {"pod-uid": "node-a"},
    },
}

VM: dict[str, Any] = {
    "metadata": {"name": "vm-1", "namespace": "ns", "deletionTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {"runStrategy": "Always", "template": {"metadata": {"labels": {"a": "b"}}, "spec": VMI["spec"]},
             "dataVolumeTemplates": [{"metadata": {"name": "dv-1"}, "spec": {"source": {"blank": {}}}}]},
    "status": {"printableStatus": "Running", "ready": True, "created": True,
               "stateChangeRequests": [{"action": "Stop", "uid": "u-1"}],
               "startFailure": {"consecutiveFailCount": 2, "lastFailedVMIUID": "u-0"}},
}

VMIM: dict[str, Any] = {"metadata": {"name": "m", "namespace": "ns"}, "spec": {"vmiName": "vmi-1"},
                        "status": {"phase": "TargetReady", "migrationState": {"sourceNode": "node-a"}}}
VMIRS: dict[str, Any] = {"metadata": {"name": "rs", "namespace": "ns"},
                         "spec": {"selector": {"matchLabels": {"app": "x"}}, "paused": True,
                                  "template": {"spec": {"domain": {"memory": {"guest": "1Gi"}}}}},
                         "status": {"replicas": 2, "readyReplicas": 1}}
POD: dict[str, Any] = {
    "metadata": {"name": "virt-launcher-x", "namespace": "ns"},
    "spec": {"nodeName": "node-a", "terminationGracePeriodSeconds": 30,
             "containers": [{"name": "compute", "image": "launcher", "resources": {"limits": {"memory": "1Gi"}}}]},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "qosClass": "Burstable",
               "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "compute", "ready": True, "restartCount": 1,
                                      "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]},
}
NODE: dict[str, Any] = {"metadata": {"name": "node-a"}, "spec": {"unschedulable": True,
                                                                 "taints": [{"key": "k", "effect": "NoSchedule"}]},
                        "status": {"allocatable": {"devices.kubevirt.io/kvm": "110"},
                                   "conditions": [{"type": "Ready", "status": "False"}],
                                   "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}
PVC: dict[str, Any] = {"metadata": {"name": "pvc-1", "namespace": "ns"},
                       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                       "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}
DV: dict[str, Any] = {"metadata": {"name": "dv-1", "namespace": "ns"},
                      "spec": {"source": {"http": {"url": "http://x"}}, "storage": {}},
                      "status": {"phase": "ImportInProgress", "progress": "42.0%"}}

CASES: list[tuple[str, Callable[[Mapping[str, Any]], Any], dict[str, Any], Any]] = [
    # metadata shortcuts
    ("vmi-key", lambda o: VirtualMachineInstanceView(o).key, VMI, "ns/vmi-1"),
    ("vmi-uid", lambda o: VirtualMachineInstanceView(o).uid, VMI, "u-1"),
    ("vmi-generation", lambda o: VirtualMachineInstanceView(o).metadata.generation, VMI, 3),
    ("vmi-labels", lambda o: dict(VirtualMachineInstanceView(o).labels), VMI, {"kubevirt.io/nodeName": "node-a"}),
    ("vmi-annotations-absent", lambda o: dict(VirtualMachineInstanceView(o).annotations), VMI, {}),
    ("vmi-finalizers", lambda o: list(VirtualMachineInstanceView(o).finalizers), VMI, ["kubevirt.io/x"]),
    ("vmi-not-deleting", lambda o: VirtualMachineInstanceView(o).is_deleting, VMI, False),
    ("vmi-controller-ref", lambda o: VirtualMachineInstanceView(o).controller_ref.name, VMI, "vm-1"),  # type: ignore[union-attr]
    ("node-key-cluster-scoped", lambda o: NodeView(o).key, NODE, "node-a"),
    # VMI spec
    ("vmi-requests-as-written", lambda o: dict(VirtualMachineInstanceView(o).spec.domain.resources.requests), VMI,
     {"memory": "128Mi", "cpu": 1}),
    ("vmi-limits-absent", lambda o: dict(VirtualMachineInstanceView(o).spec.domain.resources.limits), VMI, {}),
    ("vmi-guest-memory", lambda o: VirtualMachineInstanceView(o).spec.domain.memory.guest, VMI, "256Mi"),
    ("vmi-cpu-cores", lambda o: VirtualMachineInstanceView(o).spec.domain.cpu.cores, VMI, 2),
    ("vmi-cpu-sockets-absent", lambda o: VirtualMachineInstanceView(o).spec.domain.cpu.sockets, VMI, None),
    ("vmi-firmware-uuid", lambda o: VirtualMachineInstanceView(o).spec.domain.firmware.uuid, VMI, "6a1a"),
    ("vmi-disk-boot-order",
     lambda o: [(d.name, d.boot_order) for d in VirtualMachineInstanceView(o).spec.domain.devices.disks], VMI,
     [("root", 1)]),
    ("vmi-interface-binding",
     lambda o: [i.binding_method for i in VirtualMachineInstanceView(o).spec.domain.devices.interfaces], VMI,
     ["masquerade"]),
    ("vmi-autoattach-false-not-absent",
     lambda o: VirtualMachineInstanceView(o).spec.domain.devices.autoattach_pod_interface, VMI, False),
    ("vmi-network-pod", lambda o: [n.pod is not None for n in VirtualMachineInstanceView(o).spec.networks], VMI,
     [True]),
    ("vmi-volume-claims-skip-non-objects",
     lambda o: [v.claim_name for v in VirtualMachineInstanceView(o).spec.volumes], VMI, [None, "pvc-1", "dv-1"]),
    ("vmi-volume-read-only",
     lambda o: VirtualMachineInstanceView(o).spec.volumes[1].persistent_volume_claim.read_only, VMI, True),  # type: ignore[union-attr]
    ("vmi-container-disk-image",
     lambda o: VirtualMachineInstanceView(o).spec.volumes[0].container_disk.image, VMI, "quay.io/x"),  # type: ignore[union-attr]
    ("vmi-grace-zero-is-not-absent", lambda o: VirtualMachineInstanceView(o).spec.termination_grace_period_seconds,
     VMI, 0),
    ("vmi-node-selector", lambda o: dict(VirtualMachineInstanceView(o).spec.node_selector), VMI, {"zone": "a"}),
    # VMI status
    ("vmi-phase", lambda o: VirtualMachineInstanceView(o).phase, VMI, VirtualMachineInstancePhase.RUNNING),
    ("vmi-not-final", lambda o: VirtualMachineInstanceView(o).is_final, VMI, False),
    ("vmi-node-name", lambda o: VirtualMachineInstanceView(o).node_name, VMI, "node-a"),
    ("vmi-qos", lambda o: VirtualMachineInstanceView(o).status.qos_class, VMI, "Burstable"),
    ("vmi-conditions", lambda o: [(c.type, c.is_true) for c in VirtualMachineInstanceView(o).status.conditions],
     VMI, [("Ready", True), ("Paused", False)]),
    ("vmi-find-condition", lambda o: find_condition(VirtualMachineInstanceView(o).status.conditions, "Paused").reason,  # type: ignore[union-attr]
     VMI, "r"),
    ("vmi-find-condition-absent",
     lambda o: find_condition(VirtualMachineInstanceView(o).status.conditions, "AgentConnected"), VMI, None),
    ("vmi-migration-state",
     lambda o: (lambda m: (m.migration_uid, m.target_node, m.completed, m.failed))(  # type: ignore[union-attr]
         VirtualMachineInstanceView(o).status.migration_state), VMI, ("m-1", "node-b", True, False)),
    ("vmi-interface-ips", lambda o: list(VirtualMachineInstanceView(o).status.interfaces[0].ip_addresses), VMI,
     ["10.0.0.5"]),
    ("vmi-phase-timestamps",
     lambda o: [(t.phase, t.phase_transition_timestamp)
                for t in VirtualMachineInstanceView(o).status.phase_transition_timestamps],
     VMI, [("Running", "2026-01-01T00:00:00Z")]),
    ("vmi-active-pods", lambda o: dict(VirtualMachineInstanceView(o).status.active_pods), VMI, {"pod-uid": "node-a"}),
    # VM
    ("vm-deleting", lambda o: VirtualMachineView(o).is_deleting, VM, True),
    ("vm-run-strategy", lambda o: VirtualMachineView(o).spec.run_strategy, VM, "Always"),
    ("vm-running-absent", lambda o: VirtualMachineView(o).spec.running, VM, None),
    ("vm-template-labels", lambda o: dict(VirtualMachineView(o).spec.template.metadata.labels), VM, {"a": "b"}),
    ("vm-template-volumes", lambda o: [v.name for v in VirtualMachineView(o).spec.template.spec.volumes], VM,
     ["root", "data", "dv"]),
    ("vm-dv-templates", lambda o: [t.name for t in VirtualMachineView(o).spec.data_volume_templates], VM, ["dv-1"]),
    ("vm-printable", lambda o: VirtualMachineView(o).status.printable_status, VM, "Running"),
    ("vm-ready", lambda o: VirtualMachineView(o).status.ready, VM, True),
    ("vm-state-change", lambda o: [(r.action, r.uid) for r in VirtualMachineView(o).status.state_change_requests],
     VM, [("Stop", "u-1")]),
    ("vm-start-failure",
     lambda o: (lambda f: (f.consecutive_fail_count, f.retries, f.last_failed_vmi_uid))(  # type: ignore[union-attr]
         VirtualMachineView(o).status.start_failure), VM, (2, 0, "u-0")),
    # VMIM
    ("vmim-vmi-name", lambda o: VirtualMachineInstanceMigrationView(o).spec.vmi_name, VMIM, "vmi-1"),
    ("vmim-phase", lambda o: VirtualMachineInstanceMigrationView(o).phase, VMIM, MigrationPhase.TARGET_READY),
    ("vmim-not-final", lambda o: VirtualMachineInstanceMigrationView(o).is_final, VMIM, False),
    ("vmim-source-node",
     lambda o: VirtualMachineInstanceMigrationView(o).status.migration_state.source_node, VMIM, "node-a"),  # type: ignore[union-attr]
    # VMIRS
    ("vmirs-replicas-default-one", lambda o: VirtualMachineInstanceReplicaSetView(o).replicas, VMIRS, 1),
    ("vmirs-spec-replicas-absent", lambda o: VirtualMachineInstanceReplicaSetView(o).spec.replicas, VMIRS, None),
    ("vmirs-selector", lambda o: dict(VirtualMachineInstanceReplicaSetView(o).spec.selector.match_labels), VMIRS,
     {"app": "x"}),
    ("vmirs-paused", lambda o: VirtualMachineInstanceReplicaSetView(o).spec.paused, VMIRS, True),
    ("vmirs-template-memory",
     lambda o: VirtualMachineInstanceReplicaSetView(o).spec.template.spec.domain.memory.guest, VMIRS, "1Gi"),
    ("vmirs-status", lambda o: (lambda s: (s.replicas, s.ready_replicas))(
        VirtualMachineInstanceReplicaSetView(o).status), VMIRS, (2, 1)),
    # Pod
    ("pod-node", lambda o: PodView(o).spec.node_name, POD, "node-a"),
    ("pod-grace", lambda o: PodView(o).spec.termination_grace_period_seconds, POD, 30),
    ("pod-container-limits", lambda o: dict(PodView(o).spec.containers[0].resources.limits), POD, {"memory": "1Gi"}),
    ("pod-phase", lambda o: PodView(o).phase, POD, "Running"),
    ("pod-ip", lambda o: PodView(o).status.pod_ip, POD, "10.0.0.5"),
    ("pod-ready", lambda o: PodView(o).is_ready, POD, True),
    ("pod-terminated",
     lambda o: (lambda t: (t.exit_code, t.reason))(  # type: ignore[union-attr]
         PodView(o).status.container_statuses[0].state.terminated), POD, (137, "OOMKilled")),
    ("pod-not-waiting", lambda o: PodView(o).status.container_statuses[0].state.waiting, POD, None),
    ("pod-restarts", lambda o: PodView(o).status.container_statuses[0].restart_count, POD, 1),
    ("pod-init-statuses-absent", lambda o: PodView(o).status.init_container_statuses, POD, ()),
    # Node
    ("node-unschedulable", lambda o: NodeView(o).spec.unschedulable, NODE, True),
    ("node-taints", lambda o: [(t.key, t.effect) for t in NodeView(o).spec.taints], NODE, [("k", "NoSchedule")]),
    ("node-allocatable", lambda o: dict(NodeView(o).status.allocatable), NODE, {"devices.kubevirt.io/kvm": "110"}),
    ("node-capacity-absent", lambda o: dict(NodeView(o).status.capacity), NODE, {}),
    ("node-not-ready", lambda o: NodeView(o).is_ready, NODE, False),
    ("node-addresses", lambda o: [(a.type, a.address) for a in NodeView(o).status.addresses], NODE,
     [("InternalIP", "127.0.0.1")]),
    # PVC
    ("pvc-bound", lambda o: PersistentVolumeClaimView(o).is_bound, PVC, True),
    ("pvc-access-modes", lambda o: list(PersistentVolumeClaimView(o).spec.access_modes), PVC, ["ReadWriteOnce"]),
    ("pvc-request", lambda o: dict(PersistentVolumeClaimView(o).spec.resources.requests), PVC, {"storage": "1Gi"}),
    ("pvc-capacity", lambda o: dict(PersistentVolumeClaimView(o).status.capacity), PVC, {"storage": "1Gi"}),
    ("pvc-storage-class-absent", lambda o: PersistentVolumeClaimView(o).spec.storage_class_name, PVC, None),
    # DataVolume
    ("dv-phase", lambda o: DataVolumeView(o).phase, DV, DataVolumePhase.IMPORT_IN_PROGRESS),
    ("dv-progress", lambda o: DataVolumeView(o).status.progress, DV, "42.0%"),
    ("dv-source-kind", lambda o: DataVolumeView(o).spec.source_kind, DV, "http"),
    ("dv-claim-defaults-to-name", lambda o: DataVolumeView(o).claim_name, DV, "dv-1"),
]


@pytest.mark.parametrize(("read", "obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_view_reads_plain_dict(read: Callable[[Mapping[str, Any]], Any], obj: dict[str, Any], expected: Any) -> None:
    assert read(obj) == expected


@pytest.mark.parametrize(("read", "obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_view_reads_cached_object_alike_without_changing_it(
        read: Callable[[Mapping[str, Any]], Any], obj: dict[str, Any], expected: Any) -> None:
    cached = freeze(obj)
    assert read(cached) == expected
    assert thaw(cached) == obj


EMPTY_CASES: list[tuple[str, Callable[[Mapping[str, Any]], Any], Any]] = [
    ("vmi-phase-unset", lambda o: VirtualMachineInstanceView(o).phase, VirtualMachineInstancePhase.UNSET),
    ("vmi-key", lambda o: VirtualMachineInstanceView(o).key, ""),
    ("vmi-spec-falsy", lambda o: bool(VirtualMachineInstanceView(o).spec), False),
    ("vmi-deep-chain", lambda o: dict(VirtualMachineInstanceView(o).spec.domain.resources.requests), {}),
    ("vmi-migration-state-none", lambda o: VirtualMachineInstanceView(o).status.migration_state, None),
    ("vmi-controller-ref-none", lambda o: VirtualMachineInstanceView(o).controller_ref, None),
    ("vm-running-none", lambda o: VirtualMachineView(o).spec.running, None),
    ("vm-start-failure-none", lambda o: VirtualMachineView(o).status.start_failure, None),
    ("vmim-phase-unset", lambda o: VirtualMachineInstanceMigrationView(o).phase, MigrationPhase.UNSET),
    ("pod-phase-empty", lambda o: PodView(o).phase, ""),
    ("pod-not-ready", lambda o: PodView(o).is_ready, False),
    ("dv-phase-unset", lambda o: DataVolumeView(o).phase, DataVolumePhase.UNSET),
]


@pytest.mark.parametrize("obj", [{}, {"spec": None, "status": None, "metadata": None},
                                 {"spec": "oops", "status": [], "metadata": 7}],
                         ids=["absent", "null", "wrong-json-type"])
@pytest.mark.parametrize(("read", "expected"), [c[1:] for c in EMPTY_CASES], ids=[c[0] for c in EMPTY_CASES])
def test_missing_or_malformed_fields_read_empty(read: Callable[[Mapping[str, Any]], Any], obj: dict[str, Any],
                                                expected: Any) -> None:
    assert read(obj) == expected


@pytest.mark.parametrize(("view", "phase", "expected"), [
    (VirtualMachineInstanceView, "Failed", VirtualMachineInstancePhase.FAILED),
    (VirtualMachineInstanceView, "SomethingNew", VirtualMachineInstancePhase.UNKNOWN),
    (DataVolumeView, "SomethingNew", DataVolumePhase.UNKNOWN),
    (VirtualMachineInstanceMigrationView, "SomethingNew", MigrationPhase.UNSET),
], ids=["vmi-known", "vmi-unknown-value", "dv-unknown-value", "vmim-unknown-value"])
def test_phase_values_map_into_the_enum(view: Callable[[Mapping[str, Any]], Any], phase: str, expected: Any) -> None:
    assert view({"status": {"phase": phase}}).phase is expected


@pytest.mark.parametrize(("view", "phase", "final"), [
    (VirtualMachineInstanceView, "Succeeded", True),
    (VirtualMachineInstanceView, "Scheduled", False),
    (VirtualMachineInstanceMigrationView, "Failed", True),
    (VirtualMachineInstanceMigrationView, "Running", False),
], ids=["vmi-succeeded", "vmi-scheduled", "vmim-failed", "vmim-running"])
def test_is_final(view: Callable[[Mapping[str, Any]], Any], phase: str, final: bool) -> None:
    assert view({"status": {"phase": phase}}).is_final is final


def test_raw_is_the_wrapped_object_itself() -> None:
    cached = freeze(VMI)
    vmi = VirtualMachineInstanceView(cached)
    assert vmi.raw is cached
    assert isinstance(vmi.status.raw, FrozenDict)
    assert vmi.status.raw == VMI["status"]


def test_nested_views_share_the_objects_containers() -> None:
    obj = thaw(VMI)
    vmi = VirtualMachineInstanceView(obj)
    assert vmi.spec.domain.resources.requests is obj["spec"]["domain"]["resources"]["requests"]
    assert vmi.spec.volumes[1].raw is obj["spec"]["volumes"][1]


@pytest.mark.parametrize("assign", [
    lambda v: setattr(v, "spec", None),
    lambda v: setattr(v.spec.domain.memory, "guest", "1Gi"),
    lambda v: setattr(v, "cache", {}),
], ids=["declared-field", "nested-field", "new-attribute"])
def test_views_refuse_assignment(assign: Callable[[VirtualMachineInstanceView], None]) -> None:
    obj = thaw(VMI)
    with pytest.raises(AttributeError):
        assign(VirtualMachineInstanceView(obj))
    assert obj == VMI


def test_views_compare_by_kind_and_content() -> None:
    assert VirtualMachineInstanceView(VMI) == VirtualMachineInstanceView(thaw(VMI))
    assert VirtualMachineInstanceView(VMI) != VirtualMachineView(VMI)
    assert View(None) == View({})
