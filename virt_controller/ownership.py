"""The cache indexes the controllers share: by controlling owner's uid, by the created-by label, and
launcher Pods by the key of the VMI that owns them.

Owner lookups themselves (`controller_ref`, `controller_key`, `is_controlled_by`, `owner_reference`)
live in `virt_client.api.objects`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from virt_client.api.constants import CREATED_BY_LABEL, Kind
from virt_client.api.objects import controller_key, controller_uid, labels

OWNER_UID_INDEX = "controller-uid"
CREATED_BY_INDEX = "created-by"
#: launcher Pods by "namespace/name" of their VMI: the Pods of every VMI that had that name, so a
#: new VMI can see the launchers of an earlier one that are still running
VMI_KEY_INDEX = "vmi-key"


def by_controller_uid(obj: Mapping[str, Any]) -> Sequence[str]:
    uid = controller_uid(obj)
    return (uid,) if uid else ()


def by_created_by(obj: Mapping[str, Any]) -> Sequence[str]:
    value = labels(obj).get(CREATED_BY_LABEL)
    return (str(value),) if value else ()


def by_vmi_key(pod: Mapping[str, Any]) -> Sequence[str]:
    key = controller_key(pod, Kind.VIRTUAL_MACHINE_INSTANCE)
    return (key,) if key else ()
