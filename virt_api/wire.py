"""The JSON shapes virt-api writes: documents (discovery, RBAC, manifests, Status details) and JSON patches.

`JsonValue` is any JSON value built from covariant containers, so a `dict[str, str]` or a
`list[dict[str, str]]` is one without a copy; `JsonObject` is a JSON object. `PatchOperation` is
one RFC 6902 operation as the subresources and the admission webhooks send them.

Invariant: these are the types of data virt-api builds; objects it reads from the API are read
through `virt_client.api.views` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, NotRequired, TypedDict

JsonValue = None | bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"]
JsonObject = Mapping[str, JsonValue]


class PatchOperation(TypedDict):
    """One JSON-patch operation; `value` is absent for `remove`."""

    op: Literal["add", "remove", "replace", "test"]
    path: str
    value: NotRequired[JsonValue]


JsonPatch = list[PatchOperation]


def op_test(path: str, value: JsonValue) -> PatchOperation:
    """`test` that `path` still holds `value` (the optimistic lock of every write virt-api sends)."""
    return {"op": "test", "path": path, "value": value}


def op_set(op: Literal["add", "replace"], path: str, value: JsonValue) -> PatchOperation:
    return {"op": op, "path": path, "value": value}


def op_remove(path: str) -> PatchOperation:
    return {"op": "remove", "path": path}
