"""The three PATCH bodies an API server applies, as pure functions: JSON patch (RFC 6902), merge
patch (RFC 7386) and strategic merge for the built-in fields the components patch.

Used by the in-memory `FakeKube`; the messages are worded as kube-apiserver's (evanphx/json-patch),
so code that reads an error's message sees the same text from the fake and from a real server.

Invariants: inputs are never mutated; results share no containers with them; a malformed or
inapplicable patch raises `PatchError`, a failed `test` operation `PatchTestFailed` (a subclass).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from virt_client.api.json_patch import failed_test_message

_INDEX = re.compile(r"-?[0-9]+")

# Lists of built-in kinds merged by key in a strategic merge patch (patchMergeKey in the Go types).
MERGE_KEYS: Mapping[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "env": "name",
    "ports": "containerPort",
    "conditions": "type",
    "ownerReferences": "uid",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "tolerations": "key",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "addresses": "type",
}
# Lists of scalars merged as sets (patchStrategy "merge" without a key).
SET_LISTS = frozenset({"finalizers"})


class PatchError(Exception):
    """The patch is malformed or does not apply; `message` says why (a 422 Invalid)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PatchTestFailed(PatchError):
    """A JSON-patch `test` operation found another value: the object changed meanwhile."""


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(dict(doc)) if isinstance(doc, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def apply_strategic_merge_patch(doc: Any, patch: Any) -> Any:
    """Strategic merge: maps merge as in a merge patch; lists in `MERGE_KEYS` merge by key (an
    element `{"$patch": "delete", key: ...}` removes one), lists in `SET_LISTS` as sets, and
    `$patch: replace` replaces a map; every other list is replaced."""
    if not isinstance(patch, Mapping):
        raise PatchError(f"a strategic merge patch must be a JSON object, got {type(patch).__name__}")
    return _merge_map(doc if isinstance(doc, Mapping) else {}, patch)


def _merge_map(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    if directive is not None:
        raise PatchError(f"unknown patch type: {directive} in map")
    result = copy.deepcopy(dict(doc))
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            result[key] = _merge_map(current if isinstance(current, Mapping) else {}, value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(current, list):
            result[key] = _merge_keyed(current, value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in SET_LISTS and isinstance(current, list):
            result[key] = current + [copy.deepcopy(v) for v in value if v not in current]
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_keyed(current: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    result = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, Mapping) or merge_key not in item:
            raise PatchError(f"map: {item!r} does not contain declared merge key: {merge_key}")
        at = next((i for i, e in enumerate(result) if isinstance(e, Mapping) and e.get(merge_key) == item[merge_key]),
                  None)
        if item.get("$patch") == "delete":
            if at is not None:
                del result[at]
        elif at is None:
            result.append(copy.deepcopy(dict(item)))
        else:
            result[at] = _merge_map(result[at], item)
    return result


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy and test, applied in order to a copy of `doc`."""
    if not isinstance(ops, list):
        raise PatchError(f"a JSON patch must be a list of operations, got {type(ops).__name__}")
    result = copy.deepcopy(doc)
    for number, op in enumerate(ops):
        if not isinstance(op, Mapping):
            raise PatchError(f"operation {number} is not an object: {op!r}")
        kind, path = op.get("op"), op.get("path")
        if not isinstance(path, str):
            raise PatchError(f'operation {number} ({kind}) has no "path"')
        if kind == "add":
            result = _add(result, path, _value(op, "add"), "add")
        elif kind == "remove":
            result, _ = _remove(result, path)
        elif kind == "replace":
            result = _replace(result, path, _value(op, "replace"))
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(f'{kind} operation does not apply: "from" is missing')
            value = copy.deepcopy(_get(result, source, kind))
            if kind == "move":
                result, _ = _remove(result, source)
            result = _add(result, path, value, kind)
        elif kind == "test":
            try:
                actual = _get(result, path, "test")
            except PatchError:
                actual = None
            if not json_equal(actual, op.get("value")):
                raise PatchTestFailed(failed_test_message(path))
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return result


def _value(op: Mapping[str, Any], kind: str) -> Any:
    if "value" not in op:
        raise PatchError(f'{kind} operation does not apply: "value" is missing')
    return copy.deepcopy(op["value"])


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'path "{path}" is not a JSON pointer: it must be empty or start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(token: str, length: int, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return length
    if not _INDEX.fullmatch(token) or not -length <= int(token) < length + allow_end:
        raise PatchError(f"Unable to access invalid index: {token}: invalid index referenced ({path})")
    return int(token) + length if int(token) < 0 else int(token)


def _parent(doc: Any, tokens: list[str], op: str, path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _INDEX.fullmatch(token) and -len(node) <= int(token) < len(node):
            node = node[int(token)]
        else:
            raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}"')
    if not isinstance(node, dict | list):
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}"')
    return node


def _get(doc: Any, path: str, op: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, op, path)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")
        return parent[tokens[-1]]
    return parent[_index(tokens[-1], len(parent), path, allow_end=False)]


def _add(doc: Any, path: str, value: Any, op: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, op, path)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent.insert(_index(tokens[-1], len(parent), path, allow_end=True), value)
    return doc


def _replace(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, "replace", path)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path}")
        parent[tokens[-1]] = value
    else:
        parent[_index(tokens[-1], len(parent), path, allow_end=False)] = value
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        return None, doc
    parent = _parent(doc, tokens, "remove", path)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchError(f"Unable to remove nonexistent key: {tokens[-1]}: missing value")
        return doc, parent.pop(tokens[-1])
    return doc, parent.pop(_index(tokens[-1], len(parent), path, allow_end=False))


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: True is not 1, but 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)
