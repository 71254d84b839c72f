"""JSON, merge and strategic-merge patches: results and the errors a server would answer."""

from __future__ import annotations

from typing import Any

import pytest

from virt_client.patches import (
    PatchError,
    PatchTestFailed,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    json_equal,
)

DOC: dict[str, Any] = {"a": {"b": 1}, "l": [1, 2, 3]}


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "add", "path": "/a/c", "value": 2}], {"a": {"b": 1, "c": 2}, "l": [1, 2, 3]}),
        ([{"op": "add", "path": "/l/-", "value": 4}], {"a": {"b": 1}, "l": [1, 2, 3, 4]}),
        ([{"op": "add", "path": "/l/0", "value": 0}], {"a": {"b": 1}, "l": [0, 1, 2, 3]}),
        ([{"op": "remove", "path": "/l/1"}], {"a": {"b": 1}, "l": [1, 3]}),
        ([{"op": "replace", "path": "/a/b", "value": 5}], {"a": {"b": 5}, "l": [1, 2, 3]}),
        ([{"op": "move", "from": "/a/b", "path": "/x"}], {"a": {}, "l": [1, 2, 3], "x": 1}),
        ([{"op": "copy", "from": "/l", "path": "/m"}], {"a": {"b": 1}, "l": [1, 2, 3], "m": [1, 2, 3]}),
        ([{"op": "test", "path": "/a/b", "value": 1.0}, {"op": "remove", "path": "/a"}], {"l": [1, 2, 3]}),
        ([{"op": "add", "path": "/a~1b", "value": 1}], {"a": {"b": 1}, "l": [1, 2, 3], "a/b": 1}),
    ],
    ids=["add-key", "append", "insert", "remove-index", "replace", "move", "copy", "test-then-remove",
         "escaped-key"],
)
def test_json_patch(ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert apply_json_patch(DOC, ops) == expected
    assert DOC == {"a": {"b": 1}, "l": [1, 2, 3]}, "the input is not changed"


@pytest.mark.parametrize(
    ("ops", "error", "message"),
    [
        ([{"op": "test", "path": "/a/b", "value": 2}], PatchTestFailed, "testing value /a/b failed: test failed"),
        ([{"op": "test", "path": "/a/b", "value": True}], PatchTestFailed, "test failed"),
        ([{"op": "test", "path": "/nope", "value": 1}], PatchTestFailed, "test failed"),
        ([{"op": "replace", "path": "/a/z", "value": 1}], PatchError, "doc is missing key: /a/z"),
        ([{"op": "remove", "path": "/z"}], PatchError, "Unable to remove nonexistent key: z"),
        ([{"op": "add", "path": "/x/y", "value": 1}], PatchError, 'doc is missing path: "/x/y"'),
        ([{"op": "add", "path": "/l/9", "value": 1}], PatchError, "invalid index referenced"),
        ([{"op": "frob", "path": "/a"}], PatchError, "Unexpected kind: frob"),
        ({"op": "add"}, PatchError, "must be a list"),
    ],
    ids=["test-differs", "test-bool-is-not-int", "test-missing", "replace-missing", "remove-missing",
         "add-under-missing", "index-out-of-range", "unknown-op", "not-a-list"],
)
def test_json_patch_errors(ops: Any, error: type[PatchError], message: str) -> None:
    with pytest.raises(error) as failed:
        apply_json_patch(DOC, ops)
    assert message in failed.value.message
    assert type(failed.value) is error


def test_merge_patch() -> None:
    assert apply_merge_patch({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": None, "d": 3}, "l": [2]}) == {
        "a": {"c": 2, "d": 3}, "l": [2]}


POD: dict[str, Any] = {
    "metadata": {"finalizers": ["a"], "labels": {"x": "1"}},
    "spec": {"containers": [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "i2"}]},
    "status": {"conditions": [{"type": "Ready", "status": "False"}]},
}


@pytest.mark.parametrize(
    ("patch", "path", "expected"),
    [
        ({"metadata": {"labels": {"y": "2"}}}, ("metadata", "labels"), {"x": "1", "y": "2"}),
        ({"metadata": {"labels": {"x": None}}}, ("metadata", "labels"), {}),
        ({"metadata": {"finalizers": ["b", "a"]}}, ("metadata", "finalizers"), ["a", "b"]),
        ({"spec": {"containers": [{"name": "c2", "image": "new"}]}}, ("spec", "containers"),
         [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "new"}]),
        ({"spec": {"containers": [{"name": "c3", "image": "i3"}]}}, ("spec", "containers"),
         [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "i2"}, {"name": "c3", "image": "i3"}]),
        ({"spec": {"containers": [{"name": "c1", "$patch": "delete"}]}}, ("spec", "containers"),
         [{"name": "c2", "image": "i2"}]),
        ({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, ("status", "conditions"),
         [{"type": "Ready", "status": "True"}]),
        ({"metadata": {"labels": {"$patch": "replace", "z": "9"}}}, ("metadata", "labels"), {"z": "9"}),
    ],
    ids=["map-merge", "map-null-deletes", "finalizers-union", "containers-by-name", "containers-append",
         "containers-delete-directive", "conditions-by-type", "map-replace-directive"],
)
def test_strategic_merge(patch: dict[str, Any], path: tuple[str, str], expected: Any) -> None:
    out = apply_strategic_merge_patch(POD, patch)
    assert out[path[0]][path[1]] == expected


def test_strategic_merge_needs_the_merge_key() -> None:
    with pytest.raises(PatchError, match="merge key: name"):
        apply_strategic_merge_patch(POD, {"spec": {"containers": [{"image": "x"}]}})


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [(1, 1.0, True), (True, 1, False), ({"a": [1]}, {"a": [1]}, True), ("1", 1, False), (None, None, True)],
    ids=["int-float", "bool-int", "nested", "str-int", "null"],
)
def test_json_equal(a: Any, b: Any, equal: bool) -> None:
    assert json_equal(a, b) is equal
