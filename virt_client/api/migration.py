"""VirtualMachineInstanceMigration: a request to move one running VMI to another node.

Mirrors upstream ``VirtualMachineInstanceMigrationSpec``/``...Status``. The status carries a copy
of the VMI's migration state so ``kubectl get vmim -o yaml`` shows progress.

Invariant: ``spec.vmiName`` is optional in the schema, as upstream; the create webhook rejects
an empty one with a clear message.
"""

from __future__ import annotations

from pydantic import Field

from virt_client.api.constants import API_VERSION, Kind
from virt_client.api.fields import FreeForm, StringMap
from virt_client.api.meta import Condition, KubeModel, ObjectMeta
from virt_client.api.vmi_status import PhaseTransitionTimestamp, VirtualMachineInstanceMigrationState


class VirtualMachineInstanceMigrationSpec(KubeModel):
    vmi_name: str | None = None
    added_node_selector: StringMap | None = None
    send_to: FreeForm | None = None
    receive: FreeForm | None = None
    priority: str | None = None


class VirtualMachineInstanceMigrationStatus(KubeModel):
    phase: str | None = None
    conditions: list[Condition] | None = None
    phase_transition_timestamps: list[PhaseTransitionTimestamp] | None = None
    migration_state: VirtualMachineInstanceMigrationState | None = None
    synchronization_addresses: list[str] | None = None


class VirtualMachineInstanceMigration(KubeModel):
    api_version: str | None = Field(default=None)
    kind: str | None = None
    metadata: ObjectMeta | None = None
    spec: VirtualMachineInstanceMigrationSpec
    status: VirtualMachineInstanceMigrationStatus | None = None

    @classmethod
    def new(cls, *, namespace: str, vmi_name: str, generate_name: str) -> VirtualMachineInstanceMigration:
        """A fresh migration of ``vmi_name`` with a generated name."""
        return cls(
            api_version=API_VERSION,
            kind=Kind.VIRTUAL_MACHINE_INSTANCE_MIGRATION,
            metadata=ObjectMeta(generate_name=generate_name, namespace=namespace),
            spec=VirtualMachineInstanceMigrationSpec(vmi_name=vmi_name),
        )
