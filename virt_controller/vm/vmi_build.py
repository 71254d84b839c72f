"""Build the VirtualMachineInstance of a VirtualMachine from its template (upstream `SetupVMIFromVM`).

Pure. The VMI gets the VM's name and namespace, the template's labels and annotations, a
controller ownerReference to the VM, the annotation `kubevirt.io/vm-generation`, and — when the
template gives none — the stable firmware UUID upstream derives from the VM name (a SHA-1, name
based UUID in upstream's fixed namespace), so a restarted VM keeps its SMBIOS UUID.
"""

from __future__ import annotations

import uuid
from typing import Any

from virt_client.api.constants import (
    API_VERSION,
    FIRMWARE_UUID_NAMESPACE,
    VM_GENERATION_ANNOTATION,
    Kind,
    StartStrategy,
)
from virt_client.api.objects import owner_reference
from virt_client.api.views import VirtualMachineView
from virt_client.indexer import thaw

_FIRMWARE_UUID_NAMESPACE = uuid.UUID(FIRMWARE_UUID_NAMESPACE)


def firmware_uuid(vm_name: str) -> str:
    """Upstream's `CalculateLegacyUUID`: uuid5(namespace, name)."""
    return str(uuid.uuid5(_FIRMWARE_UUID_NAMESPACE, vm_name))


def build_vmi(vm: VirtualMachineView, *, start_paused: bool = False) -> dict[str, Any]:
    """The VMI to create for `vm` (a new object; the VM is not changed)."""
    template = vm.spec.template
    spec: dict[str, Any] = thaw(template.spec.raw)
    annotations = dict(template.metadata.annotations)
    annotations[VM_GENERATION_ANNOTATION] = str(vm.metadata.generation or 1)
    metadata: dict[str, Any] = {"name": vm.name, "namespace": vm.namespace,
                                "ownerReferences": [owner_reference(vm.raw)], "annotations": annotations}
    if template.metadata.labels:
        metadata["labels"] = dict(template.metadata.labels)
    domain = spec["domain"] = spec.get("domain") or {}
    firmware = domain["firmware"] = domain.get("firmware") or {}
    if not firmware.get("uuid"):
        firmware["uuid"] = firmware_uuid(vm.name)
    if start_paused:
        spec["startStrategy"] = StartStrategy.PAUSED.value
    return {"apiVersion": API_VERSION, "kind": Kind.VIRTUAL_MACHINE_INSTANCE.value, "metadata": metadata,
            "spec": spec}
