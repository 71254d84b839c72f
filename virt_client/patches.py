"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the entry points for strategic merge.

These are the three patch types a Kubernetes API server accepts on PATCH:
`application/merge-patch+json`, `application/json-patch+json` and
`application/strategic-merge-patch+json` (the last implemented in `strategic_merge`, with the
merge keys of the built-in kinds in `merge_keys`). virt-local's API server and the in-memory
`FakeKube` both apply patches with these functions, so the fake answers as the server does.

Invariants:
- Pure: no I/O; documents are plain JSON values (dict, list, str, int, float, bool, None).
- Inputs are never mutated; every result shares no mutable containers with the inputs.
- Failures raise `PatchError` (or `PatchConflict` for a failed `test`), with messages worded like
  the evanphx/json-patch library kube-apiserver uses, so clients see familiar text.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from virt_client.api.json_patch import failed_test_message
from virt_client.merge_keys import BUILTIN_MERGE_KEYS, PRIMITIVE_MERGE, builtin_merge_key_lookup
from virt_client.patch_errors import PatchConflict, PatchError
from virt_client.strategic_merge import apply_strategic_merge_patch

__all__ = [
    "BUILTIN_MERGE_KEYS",
    "PRIMITIVE_MERGE",
    "PatchConflict",
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "builtin_merge_key_lookup",
    "create_merge_patch",
]

_INDEX = re.compile(r"-?[0-9]+")


# ---------------------------------------------------------------------------------------------
# RFC 7386 merge patch


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply a JSON merge patch: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def create_merge_patch(old: Any, new: Any) -> Any:
    """Return the merge patch that turns `old` into `new` (`{}` when they are equal).

    Exact for any `new` whose objects hold no null members (a merge patch cannot set a null).
    """
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return copy.deepcopy(new)
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = copy.deepcopy(value)
        elif old[key] != value or type(old[key]) is not type(value):
            if isinstance(old[key], dict) and isinstance(value, dict):
                patch[key] = create_merge_patch(old[key], value)
            else:
                patch[key] = copy.deepcopy(value)
    return patch


# ---------------------------------------------------------------------------------------------
# RFC 6902 JSON patch


def _split_pointer(path: Any) -> list[str]:
    """Split a JSON pointer into unescaped reference tokens ("" is the whole document)."""
    if not isinstance(path, str):
        raise PatchError(f"path must be a string, got {type(path).__name__}")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'path "{path}" is not a JSON pointer: it must be empty or start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(token: str, length: int, path: str, *, allow_end: bool) -> int:
    """Turn a reference token into a list index; negative indexes count from the end."""
    if token == "-" and allow_end:
        return length
    if not _INDEX.fullmatch(token):
        raise PatchError(f"Unable to access invalid index: {token}: invalid index referenced ({path})")
    idx = int(token)
    limit = length + 1 if allow_end else length
    if idx < 0:
        if idx < -length:
            raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced ({path})")
        idx += length
    if idx >= limit:
        raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced ({path})")
    return idx


def _parent(doc: Any, tokens: list[str], op: str, path: str) -> Any:
    """Walk to the container holding the last token, or raise `<op> ... is missing path`."""
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
    tokens = _split_pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, op, path)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")
        return parent[tokens[-1]]
    return parent[_index(tokens[-1], len(parent), path, allow_end=False)]


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    tokens = _split_pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, op, path)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent.insert(_index(tokens[-1], len(parent), path, allow_end=True), value)
    return doc


def _replace(doc: Any, path: str, value: Any) -> Any:
    tokens = _split_pointer(path)
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


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    """Remove the value at `path`; return (new document, removed value)."""
    tokens = _split_pointer(path)
    if not tokens:
        return None, doc
    parent = _parent(doc, tokens, op, path)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchError(f"Unable to remove nonexistent key: {tokens[-1]}: missing value")
        return doc, parent.pop(tokens[-1])
    return doc, parent.pop(_index(tokens[-1], len(parent), path, allow_end=False))


def _value(operation: Mapping[str, Any], kind: str) -> Any:
    if "value" not in operation:
        raise PatchError(f'{kind} operation does not apply: "value" is missing')
    return copy.deepcopy(operation["value"])


def _test(doc: Any, path: str, expected: Any) -> None:
    tokens = _split_pointer(path)
    if tokens:
        parent = _parent(doc, tokens, "test", path)
        if isinstance(parent, dict):
            actual = parent.get(tokens[-1])
        else:
            try:
                actual = parent[_index(tokens[-1], len(parent), path, allow_end=False)]
            except PatchError:
                actual = None
    else:
        actual = doc
    if not _json_equal(actual, expected):
        raise PatchConflict(failed_test_message(path))


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: True is not 1, but 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 JSON patch (a list of operation objects) and return the new document."""
    if not isinstance(ops, list):
        raise PatchError(f"a JSON patch must be a list of operations, got {type(ops).__name__}")
    result = copy.deepcopy(doc)
    for number, operation in enumerate(ops):
        if not isinstance(operation, dict):
            raise PatchError(f"operation {number} is not an object: {operation!r}")
        kind = operation.get("op")
        if "path" not in operation:
            raise PatchError(f'operation {number} ({kind}) has no "path"')
        path = operation["path"]
        if kind == "add":
            result = _add(result, path, _value(operation, "add"))
        elif kind == "remove":
            result, _ = _remove(result, path)
        elif kind == "replace":
            result = _replace(result, path, _value(operation, "replace"))
        elif kind in ("move", "copy"):
            source = operation.get("from")
            if not isinstance(source, str):
                raise PatchError(f'{kind} operation does not apply: "from" is missing')
            if kind == "move":
                if path != source and path.startswith(source + "/"):
                    raise PatchError(
                        f"move operation does not apply: cannot move {source} into its child {path}"
                    )
                _get(result, source, "move")
                result, value = _remove(result, source, "move")
            else:
                value = copy.deepcopy(_get(result, source, "copy"))
            result = _add(result, path, value, kind)
        elif kind == "test":
            _test(result, path, operation.get("value"))
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return result
