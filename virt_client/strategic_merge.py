"""Kubernetes strategic merge patch, as far as `kubectl apply` and `kubectl patch` need it.

A strategic merge patch is a JSON object merged into the stored object like an RFC 7386 merge
patch, except that lists which have a merge key (given by `merge_key_for(path)`, where path is
the tuple of field names from the root with list items left out) are merged item by item, and a
few `$`-directives steer the merge.

Covered:
- maps merge recursively; `null` deletes a field; a non-map value replaces the old one;
- lists with a merge key merge by that key; lists without one are replaced whole;
- lists of scalars whose lookup answers `PRIMITIVE_MERGE` merge as an ordered set;
- `$patch: replace | delete | merge` in a map, and in a list item (`replace` replaces the
  whole list, `delete` removes the item with that key);
- `$retainKeys` (drop every field of the stored map not listed);
- `$setElementOrder/<field>` (items named by the order take those places; items only on the
  server keep their positions);
- `$deleteFromPrimitiveList/<field>`.
Not covered: `retainKeys` patch strategy declared in schemas (only the explicit directive), and
merging parallel lists of different strategies (`MergeParallelList` quirks beyond the above).

Invariants: pure; inputs are never mutated; no directive key survives in the result; errors
raise `PatchError` with a message saying what is wrong.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from virt_client.merge_keys import PRIMITIVE_MERGE
from virt_client.patch_errors import PatchError

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"

Lookup = Callable[[tuple[str, ...]], str | None]


def _is_directive(key: str) -> bool:
    return key in (_PATCH, _RETAIN_KEYS) or key.startswith((_SET_ORDER, _DELETE_PRIMITIVE))


def apply_strategic_merge_patch(doc: Any, patch: Any, merge_key_for: Lookup) -> Any:
    """Apply a strategic merge patch (a JSON object) to `doc` and return the new document."""
    if not isinstance(patch, dict):
        raise PatchError(f"a strategic merge patch must be a JSON object, got {type(patch).__name__}")
    original = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    return _merge_map(original, copy.deepcopy(patch), (), merge_key_for)


def _merge_value(original: Any, patch: Any, path: tuple[str, ...], lookup: Lookup) -> Any:
    """Merge one patch value into one original value (both owned by the caller)."""
    if isinstance(patch, dict):
        return _merge_map(original if isinstance(original, dict) else {}, patch, path, lookup)
    if isinstance(patch, list):
        return _merge_list(original if isinstance(original, list) else [], patch, path, lookup)
    return patch


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...], lookup: Lookup
) -> dict[str, Any]:
    directive = patch.get(_PATCH)
    if directive == "replace":
        return _merge_map({}, {k: v for k, v in patch.items() if k != _PATCH}, path, lookup)
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch type: {directive} in map: {_where(path)}")
    if _RETAIN_KEYS in patch:
        original = _retain_keys(original, patch, path)
    for key, values in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            if not isinstance(values, list):
                raise PatchError(f"{key} in {_where(path)} must be a list")
            if isinstance(original.get(field), list):
                original[field] = [item for item in original[field] if item not in values]
    for key, value in patch.items():
        if _is_directive(key):
            continue
        if value is None:
            original.pop(key, None)
        else:
            original[key] = _merge_value(original.get(key), value, path + (key,), lookup)
    for key, order in patch.items():
        if key.startswith(_SET_ORDER):
            field = key[len(_SET_ORDER) :]
            if not isinstance(order, list):
                raise PatchError(f"{key} in {_where(path)} must be a list")
            if isinstance(original.get(field), list):
                original[field] = _set_order(original[field], order, lookup(path + (field,)))
    return original


def _retain_keys(original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    retain = patch[_RETAIN_KEYS]
    if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
        raise PatchError(f"$retainKeys in {_where(path)} must be a list of field names")
    for key, value in patch.items():
        if not _is_directive(key) and value is not None and key not in retain:
            raise PatchError(f"field {key} in {_where(path)} is not present in the $retainKeys list")
    return {k: v for k, v in original.items() if k in retain}


def _merge_list(original: list[Any], patch: list[Any], path: tuple[str, ...], lookup: Lookup) -> list[Any]:
    key = lookup(path)
    if any(isinstance(item, dict) and item.get(_PATCH) == "replace" for item in patch):
        kept = [item for item in patch if not (isinstance(item, dict) and item.get(_PATCH) == "replace")]
        return [_merge_value(None, item, path, lookup) for item in kept]
    if key is None:
        return [_merge_value(None, item, path, lookup) for item in patch]
    if key == PRIMITIVE_MERGE or not any(isinstance(item, dict) for item in patch):
        merged = list(original)
        for item in patch:
            if item not in merged:
                merged.append(item)
        return merged
    merged = list(original)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"list {_where(path)} mixes objects and scalars: {item!r}")
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        directive = item.get(_PATCH)
        matches = [i for i, old in enumerate(merged) if isinstance(old, dict) and old.get(key) == item[key]]
        if directive == "delete":
            merged = [old for i, old in enumerate(merged) if i not in matches]
        elif directive not in (None, "merge"):
            raise PatchError(f"unknown patch type: {directive} in list item of {_where(path)}")
        elif matches:
            merged[matches[0]] = _merge_map(merged[matches[0]], item, path, lookup)
        else:
            merged.append(_merge_map({}, item, path, lookup))
    return merged


def _set_order(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """Reorder the items named in `order` among the places they occupy; others stay put."""
    if key is None:
        return items

    def ident(item: Any) -> Any:
        return item.get(key) if key != PRIMITIVE_MERGE and isinstance(item, dict) else item

    wanted = [ident(entry) for entry in order]
    places = [i for i, item in enumerate(items) if ident(item) in wanted]
    named = sorted((items[i] for i in places), key=lambda item: wanted.index(ident(item)))
    result = list(items)
    for place, item in zip(places, named, strict=True):
        result[place] = item
    return result


def _where(path: tuple[str, ...]) -> str:
    return "." + ".".join(path) if path else "the object"
