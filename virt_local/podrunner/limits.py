"""The memory limits of a Pod's cgroups (pure), as the kubelet sets them: each container's
`resources.limits.memory`, and for the Pod the sum of its containers' limits when every container
has one (`spec.overhead.memory` added), else none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from virt_client.api.quantity import Quantity, QuantityError


def container_memory_limit(container: Mapping[str, Any]) -> int | None:
    value = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if value is None:
        return None
    try:
        return Quantity.parse(value).to_bytes()
    except QuantityError:
        return None


def pod_memory_limit(pod: Mapping[str, Any]) -> int | None:
    spec = pod.get("spec") or {}
    total = 0
    for c in spec.get("containers") or []:
        limit = container_memory_limit(c)
        if limit is None:
            return None
        total += limit
    if not total:
        return None
    overhead = (spec.get("overhead") or {}).get("memory")
    if overhead is not None:
        try:
            total += Quantity.parse(overhead).to_bytes()
        except QuantityError:
            pass
    return total
