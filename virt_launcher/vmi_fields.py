"""Reading a VMI (a plain camelCase dict, as stored in Kubernetes) field by field, strictly.

Invariant: every object the converter reads is checked against the list of keys it understands, so a
field we do not implement is refused with its full path (`spec.domain.devices.gpus`) instead of being
silently dropped. A key set to `false`, `null` or `[]` asks for nothing and is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from virt_client.api.quantity import Quantity, QuantityError
from virt_launcher.errors import InvalidVMI, UnsupportedField


def check_fields(obj: dict[str, Any], path: str, supported: Iterable[str], ignored: Iterable[str] = ()) -> None:
    """Refuse any key of obj that is neither supported nor deliberately ignored (handled elsewhere)."""
    known = set(supported) | set(ignored)
    for key, value in obj.items():
        if key in known or value is False or value is None or value == []:
            continue
        raise UnsupportedField(f"{path}.{key}")


def child(obj: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """obj[key] as an object ({} when absent)."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidVMI(f"{path}.{key}", f"must be an object, got {type(value).__name__}")
    return value


def items(obj: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    """obj[key] as a list of objects ([] when absent)."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidVMI(f"{path}.{key}", "must be a list of objects")
    return value


def string(obj: dict[str, Any], key: str, path: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidVMI(f"{path}.{key}", f"must be a string, got {type(value).__name__}")
    return value


def integer(obj: dict[str, Any], key: str, path: str, default: int, minimum: int = 0) -> int:
    value = obj.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidVMI(f"{path}.{key}", f"must be an integer >= {minimum}, got {value!r}")
    return value


def boolean(obj: dict[str, Any], key: str, path: str, default: bool) -> bool:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidVMI(f"{path}.{key}", f"must be true or false, got {value!r}")
    return value


def quantity_bytes(value: Any, field: str) -> int:
    """A Kubernetes resource quantity ("1Gi", "512M", 1073741824) in bytes, rounded up."""
    try:
        result = Quantity.parse(value).to_bytes()
    except QuantityError as e:
        raise InvalidVMI(field, f"{value!r} is not a resource quantity (e.g. 256Mi, 1Gi): {e}") from None
    if result <= 0:
        raise InvalidVMI(field, f"{value!r} must be positive")
    return result
