"""Build the VirtualMachineInstance of a VirtualMachine from its template (upstream `SetupVMIFromVM`).

Pure. The VMI gets the VM's name and namespace, the template's labels and annotations, a
controller ownerReference to the VM, the annotation `kubevirt.io/vm-generation`, and — when the
template gives none — the stable firmware UUID upstream derives from the VM name (a SHA-1, name
based UUID in upstream's fixed namespace), so a restarted VM keeps its SMBIOS UUID.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from virt_client.api.constants import (
    API_VERSION,
    FIRMWARE_UUID_NAMESPACE,
    VM_GENERATION_ANNOTATION,
    Kind,
    StartStrategy,
)
from virt_client.api.objects import owner_reference

_FIRMWARE_UUID_NAMESPACE = uuid.UUID(FIRMWARE_UUID_NAMESPACE)


def firmware_uuid(vm_name: str) -> str:
    """Upstream's `CalculateLegacyUUID`: uuid5(namespace, name)."""
    return str(uuid.uuid5(_FIRMWARE_UUID_NAMESPACE, vm_name))


def build_vmi(vm: Mapping[str, Any], *, start_paused: bool = False) -> dict[str, Any]:
    """The VMI to create for `vm` (a wire dict with metadata.uid)."""
    md = vm.get("metadata") or {}
    template = copy.deepcopy(dict((vm.get("spec") or {}).get("template") or {}))
    tmeta: dict[str, Any] = dict(template.get("metadata") or {})
    spec: dict[str, Any] = dict(template.get("spec") or {})
    annotations = dict(tmeta.get("annotations") or {})
    annotations[VM_GENERATION_ANNOTATION] = str(md.get("generation") or 1)
    metadata: dict[str, Any] = {"name": md.get("name"), "namespace": md.get("namespace"),
                                "ownerReferences": [owner_reference(vm)], "annotations": annotations}
    if tmeta.get("labels"):
        metadata["labels"] = dict(tmeta["labels"])
    domain = dict(spec.get("domain") or {})
    firmware = dict(domain.get("firmware") or {})
    if not firmware.get("uuid"):
        firmware["uuid"] = firmware_uuid(str(md.get("name")))
    domain["firmware"] = firmware
    spec["domain"] = domain
    if start_paused:
        spec["startStrategy"] = StartStrategy.PAUSED.value
    return {"apiVersion": API_VERSION, "kind": Kind.VIRTUAL_MACHINE_INSTANCE.value, "metadata": metadata,
            "spec": spec}
