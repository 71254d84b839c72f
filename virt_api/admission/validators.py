"""Validating webhooks (§1.8): VMI create/update, VM, VMIRS, migration create/update, status.

Pure functions `(request, config[, lookups]) -> list[Cause]`; an empty list admits the request.
The migration validator receives the VMI and the migrations of that VMI, which the route reads
first, so the rule "one active migration per VMI" and "the VMI must be LiveMigratable" stay pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from virt_client.api.constants import RunStrategy, VirtualMachineInstancePhase
from virt_client.api.views import (
    VirtualMachineInstanceMigrationView,
    VirtualMachineInstanceTemplateView,
    VirtualMachineInstanceView,
    find_condition,
)
from virt_client.selectors import SelectorError, label_selector_from_dict

from ..wire import JsonObject, JsonValue
from .config import AdmissionConfig
from .review import FORBIDDEN, INVALID, NOT_SUPPORTED, REQUIRED, AdmissionRequest, Cause
from .vmi_spec import validate_vmi_spec

RESERVED_LABEL_PREFIX = "kubevirt.io/"
WAIT_AS_RECEIVER_GATE = "DecentralizedLiveMigration"


def _meta(obj: JsonValue) -> JsonObject:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _map(value: JsonValue) -> JsonObject:
    """`value` when it is a JSON object, else {} (a mistyped field is another validator's to report)."""
    return value if isinstance(value, Mapping) else {}


def validate_vmi_create(req: AdmissionRequest, config: AdmissionConfig) -> list[Cause]:
    return validate_vmi_spec(req.obj.get("spec"), "spec", config.permit_bridge_interface_on_pod_network)


def validate_vmi_update(req: AdmissionRequest, config: AdmissionConfig) -> list[Cause]:
    """Only KubeVirt's service accounts change a VMI's spec or its reserved labels."""
    if req.old is None or config.is_kubevirt(req.username):
        return []
    causes: list[Cause] = []
    if req.obj.get("spec") != req.old.get("spec"):
        causes.append(Cause("spec", "update of VMI object is restricted", FORBIDDEN))
    new_labels = _map(_meta(req.obj).get("labels"))
    old_labels = _map(_meta(req.old).get("labels"))
    for key in sorted(set(new_labels) | set(old_labels)):
        if key.startswith(RESERVED_LABEL_PREFIX) and new_labels.get(key) != old_labels.get(key):
            causes.append(Cause(f"metadata.labels.{key}", f"modification of the label {key} is restricted",
                                FORBIDDEN))
    return causes


def validate_vm(req: AdmissionRequest, config: AdmissionConfig) -> list[Cause]:
    spec = req.obj.get("spec")
    if not isinstance(spec, Mapping):
        return [Cause("spec", "spec is required", REQUIRED)]
    causes: list[Cause] = []
    template = spec.get("template")
    if not isinstance(template, Mapping):
        causes.append(Cause("spec.template", "missing virtual machine template.", REQUIRED))
    running, strategy = spec.get("running"), spec.get("runStrategy")
    if running is not None and strategy is not None:
        causes.append(Cause("spec.running", "Running and RunStrategy are mutually exclusive. Note that Running is "
                            "deprecated, please use RunStrategy instead"))
    if running is not None and not isinstance(running, bool):
        causes.append(Cause("spec.running", f"spec.running must be a boolean, got {running!r}"))
    if strategy is not None:
        if strategy not in {s.value for s in RunStrategy}:
            causes.append(Cause("spec.runStrategy", f"Invalid RunStrategy ({strategy})", NOT_SUPPORTED))
        elif strategy == RunStrategy.WAIT_AS_RECEIVER and WAIT_AS_RECEIVER_GATE not in config.feature_gates:
            causes.append(Cause("spec.runStrategy", f"'{WAIT_AS_RECEIVER_GATE}' feature gate is not enabled",
                                NOT_SUPPORTED))
    for key in ("instancetype", "preference"):
        if spec.get(key) is not None:
            causes.append(Cause(f"spec.{key}", f"spec.{key} is not supported by this KubeVirt implementation",
                                NOT_SUPPORTED))
    if spec.get("updateVolumesStrategy") not in (None, "Replacement"):
        causes.append(Cause("spec.updateVolumesStrategy",
                            f"spec.updateVolumesStrategy={spec['updateVolumesStrategy']} is not supported by this "
                            f"KubeVirt implementation", NOT_SUPPORTED))
    templates = spec.get("dataVolumeTemplates")
    for idx, dvt in enumerate(templates if isinstance(templates, Sequence) and not isinstance(templates, str) else []):
        if not isinstance(dvt, Mapping) or not _meta(dvt).get("name"):
            causes.append(Cause(f"spec.dataVolumeTemplates[{idx}].metadata.name",
                                f"spec.dataVolumeTemplates[{idx}].metadata.name is required", REQUIRED))
    if isinstance(template, Mapping):
        causes += validate_vmi_spec(template.get("spec"), "spec.template.spec",
                                    config.permit_bridge_interface_on_pod_network)
    return causes


def validate_vmirs(req: AdmissionRequest, config: AdmissionConfig) -> list[Cause]:
    spec = req.obj.get("spec")
    if not isinstance(spec, Mapping):
        return [Cause("spec", "spec is required", REQUIRED)]
    causes: list[Cause] = []
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
        causes.append(Cause("spec.replicas", "spec.replicas must be a non-negative integer"))
    selector = spec.get("selector")
    template = spec.get("template")
    if not isinstance(selector, Mapping) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(Cause("spec.selector", "spec.selector is required and must not be empty", REQUIRED))
    if not isinstance(template, Mapping):
        causes.append(Cause("spec.template", "missing virtual machine template.", REQUIRED))
        return causes
    labels = VirtualMachineInstanceTemplateView(template).metadata.labels
    if isinstance(selector, Mapping):
        try:
            if not label_selector_from_dict(selector).matches(labels):
                causes.append(Cause("spec.selector", "selector does not match labels."))
        except SelectorError as e:
            causes.append(Cause("spec.selector", f"spec.selector is invalid: {e.message}"))
    return causes + validate_vmi_spec(template.get("spec"), "spec.template.spec",
                                      config.permit_bridge_interface_on_pod_network)


def validate_migration_create(req: AdmissionRequest, config: AdmissionConfig, vmi: Mapping[str, object] | None,
                              migrations: Sequence[Mapping[str, object]]) -> list[Cause]:
    spec = req.obj.get("spec")
    vmi_name = spec.get("vmiName") if isinstance(spec, Mapping) else None
    if not vmi_name:
        return [Cause("spec.vmiName", "spec.vmiName is required", REQUIRED)]
    if spec.get("priority") is not None and not config.is_kubevirt(req.username):  # type: ignore[union-attr]
        return [Cause("spec.priority", "spec.priority can only be set by KubeVirt", FORBIDDEN)]
    if vmi is None:
        return [Cause("spec.vmiName", f'the VMI "{vmi_name}" does not exist')]
    vmi_view = VirtualMachineInstanceView(vmi)
    if vmi_view.phase != VirtualMachineInstancePhase.RUNNING or vmi_view.is_deleting:
        return [Cause("spec.vmiName", f"Cannot migrate VMI {vmi_name}: it is not running")]
    cond = find_condition(vmi_view.status.conditions, "LiveMigratable")
    if cond is not None and cond.status == "False":
        return [Cause("spec.vmiName", f"Cannot migrate VMI, Reason: {cond.reason}, Message: {cond.message}")]
    own = _meta(req.obj).get("name")
    for other in map(VirtualMachineInstanceMigrationView, migrations):
        if other.name == own or other.is_final or other.is_deleting:
            continue
        return [Cause("spec.vmiName", f"in-flight migration detected. Active migration job "
                                      f"({other.name}) is currently already in progress for VMI "
                                      f"{vmi_name}.")]
    return []


def validate_migration_update(req: AdmissionRequest, config: AdmissionConfig) -> list[Cause]:
    if req.old is not None and req.obj.get("spec") != req.old.get("spec"):
        return [Cause("spec", "update of Migration object's spec is restricted", FORBIDDEN)]
    return []


def validate_status(req: AdmissionRequest, config: AdmissionConfig) -> list[Cause]:
    """Status updates of VMs: state change requests must be well formed."""
    status = req.obj.get("status")
    if not isinstance(status, Mapping) or req.resource != "virtualmachines":
        return []
    causes: list[Cause] = []
    requests = status.get("stateChangeRequests")
    for idx, scr in enumerate(requests if isinstance(requests, Sequence) and not isinstance(requests, str) else []):
        action = scr.get("action") if isinstance(scr, Mapping) else None
        if action not in ("Start", "Stop"):
            causes.append(Cause(f"status.stateChangeRequests[{idx}].action",
                                f"status.stateChangeRequests[{idx}].action must be Start or Stop, got {action!r}",
                                INVALID))
    return causes
