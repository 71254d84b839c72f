"""The reasons virt-controller's expected failures carry (`virt_client.reconcile.ReconcileError`).

Each becomes the reason of a Warning Event on the object and of its failure condition (`Failure` on a
VM, `Synchronized=False` on a VMI, `ReplicaFailure` on a VMIRS); upstream's names where upstream has them.
"""

from __future__ import annotations

from enum import StrEnum

from virt_client.api.constants import ConditionReason


class Reason(StrEnum):
    FAILED_CREATE = "FailedCreate"
    FAILED_DELETE = "FailedDelete"
    FAILED_UPDATE = "FailedUpdate"
    INVALID_RUN_STRATEGY = "InvalidRunStrategy"
    FAILED_PVC_NOT_FOUND = ConditionReason.FAILED_PVC_NOT_FOUND.value
