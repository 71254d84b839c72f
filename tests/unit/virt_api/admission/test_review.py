"""Table tests of the pure mutators and validators, and every example through the webhook chain."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from virt_api.admission import mutators, validators
from virt_api.admission.config import AdmissionConfig
from virt_api.admission.review import AdmissionRequest, denied, mutated, patch_between

ROOT = Path(__file__).resolve().parents[4]
CONFIG = AdmissionConfig(kubevirt_users=frozenset({"system:serviceaccount:kubevirt:kubevirt-handler"}))
HANDLER = "system:serviceaccount:kubevirt:kubevirt-handler"
NOW = "2026-01-01T00:00:00Z"


def req(obj: dict[str, Any], op: str = "CREATE", old: dict[str, Any] | None = None, user: str = "alice",
        resource: str = "") -> AdmissionRequest:
    return AdmissionRequest(uid="u1", operation=op, username=user, obj=obj, old=old, resource=resource)


def vmi_spec(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
                                       "resources": {"requests": {"memory": "64Mi"}}},
                            "volumes": [{"name": "root", "containerDisk": {"image": "img:1"}}]}
    spec.update(extra)
    return spec


def vmi(**extra: Any) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "v", "namespace": "d"}, "spec": vmi_spec(**extra)}


def vm(spec: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {"kind": "VirtualMachine", "metadata": {"name": "v"},
            "spec": {"template": {"spec": spec if spec is not None else vmi_spec()}, **fields}}


def with_path(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur = out
    keys = path.split(".")
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
    cur[keys[-1]] = value
    return out


# --- mutators ------------------------------------------------------------------------------

def test_vmi_defaults_on_create() -> None:
    out = mutators.mutate_vmi(req(vmi()), CONFIG, NOW)
    domain = out["spec"]["domain"]
    assert domain["machine"] == {"type": "q35"}
    assert domain["cpu"] == {"sockets": 1, "cores": 1, "threads": 1, "model": "host-model"}
    assert domain["memory"] == {"guest": "64Mi"}
    assert out["spec"]["volumes"][0]["containerDisk"]["imagePullPolicy"] == "IfNotPresent"
    assert out["spec"]["networks"] == [{"name": "default", "pod": {}}]
    assert domain["devices"]["interfaces"] == [{"name": "default", "masquerade": {}}]
    assert out["status"]["phase"] == "Pending"
    assert out["status"]["phaseTransitionTimestamps"] == [{"phase": "Pending", "phaseTransitionTimestamp": NOW}]
    assert "kubevirt.io/foregroundDeleteVirtualMachine" in out["metadata"]["finalizers"]
    assert out["spec"]["terminationGracePeriodSeconds"] == 30


@pytest.mark.parametrize(("spec", "path", "want"), [
    (vmi_spec(domain={"resources": {"limits": {"cpu": "3", "memory": "1Gi"}}}), "domain.cpu.sockets", 3),
    (vmi_spec(domain={"resources": {"limits": {"cpu": "3", "memory": "1Gi"}}}), "domain.resources.requests.cpu", "3"),
    (vmi_spec(domain={"resources": {"limits": {"memory": "1Gi"}}}), "domain.memory.guest", "1Gi"),
    (vmi_spec(domain={"cpu": {"cores": 2}, "resources": {"requests": {"memory": "1Gi"}}}), "domain.cpu.sockets", 1),
    (vmi_spec(volumes=[{"name": "a", "containerDisk": {"image": "x"}}]), "volumes.0.containerDisk.imagePullPolicy",
     "Always"),
    (vmi_spec(volumes=[{"name": "extra", "emptyDisk": {"capacity": "1Gi"}}]), "domain.devices.disks.1",
     {"name": "extra", "disk": {"bus": "sata"}}),
    (vmi_spec(domain={"devices": {"disks": [{"name": "c", "cdrom": {}}]}, "memory": {"guest": "1Gi"}},
              volumes=[{"name": "c", "containerDisk": {"image": "x:1"}}]), "domain.devices.disks.0.cdrom",
     {"bus": "sata", "readonly": True, "tray": "closed"}),
    (vmi_spec(networks=[{"name": "n", "pod": {}}]), "domain.devices.interfaces", None),
    (with_path(vmi_spec(), "domain.devices.autoattachPodInterface", False), "networks", None),
], ids=["sockets-from-cpu-limit", "cpu-request-from-limit", "guest-from-memory-limit", "topology-kept",
        "latest-pulls-always", "disk-for-volume", "cdrom-defaults", "no-default-interface-with-networks",
        "no-pod-interface-when-autoattach-off"])
def test_vmi_default_rules(spec: dict[str, Any], path: str, want: Any) -> None:
    out = mutators.mutate_vmi(req({"metadata": {"name": "v"}, "spec": spec}), CONFIG, NOW)["spec"]
    cur: Any = out
    for key in path.split("."):
        cur = cur[int(key)] if isinstance(cur, list) else cur.get(key)
    assert cur == want


def test_vmi_update_reverts_status_from_users_but_not_from_kubevirt() -> None:
    old = {**vmi(), "status": {"phase": "Running"}}
    new = {**vmi(), "status": {"phase": "Failed"}}
    assert mutators.mutate_vmi(req(new, "UPDATE", old), CONFIG, NOW)["status"] == {"phase": "Running"}
    assert mutators.mutate_vmi(req(new, "UPDATE", old, user=HANDLER), CONFIG, NOW)["status"] == {"phase": "Failed"}


def test_migration_mutator_adds_label_and_finalizer() -> None:
    out = mutators.mutate_migration(req({"metadata": {"name": "m"}, "spec": {"vmiName": "v1"}}))
    assert out["metadata"]["labels"] == {"kubevirt.io/vmi-name": "v1"}
    assert out["metadata"]["finalizers"] == ["kubevirt.io/migrationJobFinalize"]


def test_vm_mutator_defaults_template_machine() -> None:
    out = mutators.mutate_vm(req(vm()), CONFIG)
    assert out["spec"]["template"]["spec"]["domain"]["machine"] == {"type": "q35"}


def test_mutated_answer_is_a_json_patch_of_sections() -> None:
    old = vmi()
    new = mutators.mutate_vmi(req(old), CONFIG, NOW)
    ops = patch_between(old, new)
    assert {op["path"] for op in ops} == {"/metadata", "/spec", "/status"}
    assert mutated("u1", old, new)["response"]["patchType"] == "JSONPatch"


# --- validators ----------------------------------------------------------------------------

VM_CASES = [
    (vm(), []),
    ({"spec": {}}, ["spec.template"]),
    (vm(runStrategy="Always", running=True), ["spec.running"]),
    (vm(runStrategy="Sometimes"), ["spec.runStrategy"]),
    (vm(runStrategy="WaitAsReceiver"), ["spec.runStrategy"]),
    (vm(instancetype={"name": "u1.small"}), ["spec.instancetype"]),
    (vm(with_path(vmi_spec(), "domain.devices.gpus", [{"name": "g"}])), ["spec.template.spec.domain.devices.gpus"]),
    (vm(with_path(vmi_spec(), "domain.devices.disks", [{"name": "nope", "disk": {}}])),
     ["spec.template.spec.domain.devices.disks[0].name"]),
    (vm(with_path(vmi_spec(), "domain.resources", {})), ["spec.template.spec.domain.resources.requests.memory"]),
    (vm(with_path(vmi_spec(), "domain.resources.requests.memory", "lots")),
     ["spec.template.spec.domain.resources.requests.memory"]),
    (vm(with_path(vmi_spec(), "domain.devices.disks", [{"name": "root", "disk": {"bus": "usb"}}])),
     ["spec.template.spec.domain.devices.disks[0].disk.bus"]),
    (vm(with_path(vmi_spec(), "domain.cpu", {"sockets": 0})), ["spec.template.spec.domain.cpu.sockets"]),
    (vm(with_path(vmi_spec(), "terminationGracePeriodSeconds", "soon")),
     ["spec.template.spec.terminationGracePeriodSeconds"]),
    (vm(with_path(with_path(vmi_spec(), "domain.devices.interfaces", [{"name": "default", "masquerade": {}}]),
                  "networks", [{"name": "default", "pod": {}}])), []),
    (vm(with_path(vmi_spec(), "domain.devices.autoattachPodInterface", False)), []),
    (vm(with_path(with_path(vmi_spec(), "domain.devices.interfaces", [{"name": "default", "bridge": {}}]),
                  "networks", [{"name": "default", "pod": {}}])),
     ["spec.template.spec.domain.devices.interfaces[0].bridge", "spec.template.spec.domain.devices.interfaces[0].name"]),
]


@pytest.mark.parametrize(("obj", "fields"), VM_CASES, ids=[
    "valid", "no-template", "running-and-strategy", "bad-strategy", "receiver-gate", "instancetype",
    "unsupported-gpu", "disk-without-volume", "no-memory", "bad-quantity", "unsupported-bus", "zero-sockets",
    "wrong-type", "masquerade", "no-pod-interface", "bridge-on-pod-network"])
def test_vm_validator(obj: dict[str, Any], fields: list[str]) -> None:
    causes = validators.validate_vm(req(obj), CONFIG)
    assert [c.field for c in causes] == fields
    for cause in causes:
        # spec rules name the full path in the message (upstream's kubevirt-config messages do not)
        if cause.field.startswith("spec.template.spec") and "kubevirt-config" not in cause.message:
            assert cause.field in cause.message


def test_bridge_on_pod_network_is_refused_with_upstreams_message() -> None:
    spec = with_path(with_path(vmi_spec(), "domain.devices.interfaces", [{"name": "default", "bridge": {}}]),
                     "networks", [{"name": "default", "pod": {}}])
    messages = [c.message for c in validators.validate_vmi_create(req({"metadata": {"name": "v"}, "spec": spec}),
                                                                  CONFIG)]
    assert "Bridge on pod network configuration is not enabled under kubevirt-config" in messages


def test_unsupported_field_is_refused_not_dropped() -> None:
    spec = with_path(vmi_spec(), "domain.devices.tpm", {})
    causes = validators.validate_vmi_create(req({"spec": spec}), CONFIG)
    assert [c.field for c in causes] == ["spec.domain.devices.tpm"]
    assert "not supported" in causes[0].message
    assert denied("u1", causes)["response"]["status"]["code"] == 422


@pytest.mark.parametrize(("old", "new", "user", "fields"), [
    (vmi(), with_path(vmi(), "spec.hostname", "x"), "alice", ["spec"]),
    (vmi(), with_path(vmi(), "spec.hostname", "x"), HANDLER, []),
    (vmi(), with_path(vmi(), "metadata.labels", {"kubevirt.io/nodeName": "n2"}), "alice",
     ["metadata.labels.kubevirt.io/nodeName"]),
    (vmi(), with_path(vmi(), "metadata.labels", {"app": "x"}), "alice", []),
], ids=["spec-by-user", "spec-by-handler", "reserved-label", "own-label"])
def test_vmi_update_validator(old: dict[str, Any], new: dict[str, Any], user: str, fields: list[str]) -> None:
    assert [c.field for c in validators.validate_vmi_update(req(new, "UPDATE", old, user=user), CONFIG)] == fields


def _vmirs(selector: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {"spec": {"replicas": 1, "selector": selector,
                     "template": {"metadata": {"labels": labels}, "spec": vmi_spec()}}}


@pytest.mark.parametrize(("obj", "fields"), [
    (_vmirs({"matchLabels": {"a": "b"}}, {"a": "b"}), []),
    (_vmirs({"matchLabels": {"a": "b"}}, {"a": "c"}), ["spec.selector"]),
    (_vmirs({}, {"a": "b"}), ["spec.selector"]),
    (_vmirs({"matchExpressions": [{"key": "a", "operator": "In", "values": ["b", "c"]}]}, {"a": "c"}), []),
    (_vmirs({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["c"]}]}, {"a": "c"}),
     ["spec.selector"]),
    (_vmirs({"matchExpressions": [{"key": "a", "operator": "Near", "values": ["c"]}]}, {"a": "c"}),
     ["spec.selector"]),
], ids=["valid", "selector-mismatch", "empty-selector", "expression-in", "expression-notin", "unknown-operator"])
def test_vmirs_validator(obj: dict[str, Any], fields: list[str]) -> None:
    assert [c.field for c in validators.validate_vmirs(req(obj), CONFIG)] == fields


RUNNING_VMI = {"metadata": {"name": "v"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(("vmim", "target", "others", "needle"), [
    ({"spec": {"vmiName": "v"}, "metadata": {"name": "m"}}, RUNNING_VMI, [], None),
    ({"spec": {}}, None, [], "spec.vmiName is required"),
    ({"spec": {"vmiName": "v"}}, None, [], 'the VMI "v" does not exist'),
    ({"spec": {"vmiName": "v"}}, {"status": {"phase": "Running", "conditions": [
        {"type": "LiveMigratable", "status": "False", "reason": "DisksNotLiveMigratable", "message": "m"}]}}, [],
     "Cannot migrate VMI, Reason: DisksNotLiveMigratable"),
    ({"spec": {"vmiName": "v"}, "metadata": {"name": "m2"}}, RUNNING_VMI,
     [{"metadata": {"name": "m1"}, "status": {"phase": "Running"}}], "in-flight migration detected"),
    ({"spec": {"vmiName": "v"}, "metadata": {"name": "m2"}}, RUNNING_VMI,
     [{"metadata": {"name": "m1"}, "status": {"phase": "Succeeded"}}], None),
], ids=["valid", "no-name", "missing-vmi", "not-migratable", "one-active", "finished-other"])
def test_migration_create_validator(vmim: dict[str, Any], target: dict[str, Any] | None,
                                    others: list[dict[str, Any]], needle: str | None) -> None:
    causes = validators.validate_migration_create(req(vmim), CONFIG, target, others)
    if needle is None:
        assert causes == []
    else:
        assert len(causes) == 1 and needle in causes[0].message


def test_status_validator_checks_state_change_requests() -> None:
    bad = {"status": {"stateChangeRequests": [{"action": "Explode"}]}}
    assert [c.field for c in validators.validate_status(req(bad, "UPDATE", resource="virtualmachines"), CONFIG)] == [
        "status.stateChangeRequests[0].action"]


# --- the examples -------------------------------------------------------------------------

EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_passes_mutators_and_validators(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kind = doc["kind"]
        if kind == "VirtualMachineInstance":
            out = mutators.mutate_vmi(req(doc), CONFIG, NOW)
            assert validators.validate_vmi_create(req(out), CONFIG) == []
        elif kind == "VirtualMachine":
            out = mutators.mutate_vm(req(doc), CONFIG)
            assert validators.validate_vm(req(out), CONFIG) == []
            # The VMI the controller builds from it is admitted too.
            built = {"metadata": {"name": doc["metadata"]["name"]}, "spec": out["spec"]["template"]["spec"]}
            assert validators.validate_vmi_create(req(mutators.mutate_vmi(req(built), CONFIG, NOW)), CONFIG) == []
        elif kind == "VirtualMachineInstanceReplicaSet":
            assert validators.validate_vmirs(req(doc), CONFIG) == []
        elif kind == "VirtualMachineInstanceMigration":
            out = mutators.mutate_migration(req(doc))
            assert validators.validate_migration_create(req(out), CONFIG, RUNNING_VMI, []) == []
