"""The cache indexes the controllers share: by controlling owner's uid and by the created-by label.

Owner lookups themselves (`controller_ref`, `controller_key`, `is_controlled_by`, `owner_reference`)
live in `virt_client.api.objects`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from virt_client.api.constants import CREATED_BY_LABEL
from virt_client.api.objects import controller_uid, labels

OWNER_UID_INDEX = "controller-uid"
CREATED_BY_INDEX = "created-by"


def by_controller_uid(obj: Mapping[str, Any]) -> Sequence[str]:
    uid = controller_uid(obj)
    return (uid,) if uid else ()


def by_created_by(obj: Mapping[str, Any]) -> Sequence[str]:
    value = labels(obj).get(CREATED_BY_LABEL)
    return (str(value),) if value else ()
