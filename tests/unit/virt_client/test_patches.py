"""JSON merge, JSON and strategic merge patches: results and the errors an API server answers."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virt_client.patches import (
    BUILTIN_MERGE_KEYS,
    PatchConflict,
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    builtin_merge_key_lookup,
    create_merge_patch,
)

# ------------------------------------------------------------------------------------------- merge

MERGE_CASES = [
    ("add-field", {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ("null-deletes", {"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ("null-on-missing", {"a": 1}, {"x": None}, {"a": 1}),
    ("nested", {"a": {"b": 1, "c": 2}}, {"a": {"c": None, "d": 3}}, {"a": {"b": 1, "d": 3}}),
    ("list-replaces", {"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ("scalar-patch-replaces", {"a": 1}, "x", "x"),
    ("object-over-scalar", {"a": 1}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ("doc-not-object", [1], {"a": 1}, {"a": 1}),
    ("empty-patch", {"a": 1}, {}, {"a": 1}),
]


@pytest.mark.parametrize(
    ("doc", "patch", "want"), [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES]
)
def test_apply_merge_patch(doc: Any, patch: Any, want: Any) -> None:
    before = copy.deepcopy(doc)
    assert apply_merge_patch(doc, patch) == want
    assert doc == before


CREATE_CASES = [
    ("equal", {"a": 1}, {"a": 1}, {}),
    ("removed", {"a": 1, "b": 2}, {"a": 1}, {"b": None}),
    ("changed-nested", {"a": {"b": 1, "c": 1}}, {"a": {"b": 2, "c": 1}}, {"a": {"b": 2}}),
    ("list", {"a": [1]}, {"a": [1, 2]}, {"a": [1, 2]}),
    ("bool-vs-int", {"a": 1}, {"a": True}, {"a": True}),
    ("not-objects", 1, [2], [2]),
]


@pytest.mark.parametrize(
    ("old", "new", "want"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_create_merge_patch(old: Any, new: Any, want: Any) -> None:
    assert create_merge_patch(old, new) == want


_scalars = st.one_of(st.booleans(), st.integers(), st.text(max_size=5))
_no_null_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
_json = st.recursive(
    st.one_of(st.none(), _scalars),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(_no_null_json, _no_null_json)
def test_create_merge_patch_round_trips(old: Any, new: Any) -> None:
    assert apply_merge_patch(old, create_merge_patch(old, new)) == new


# -------------------------------------------------------------------------------------- JSON patch

DOC: dict[str, Any] = {
    "spec": {"running": False, "list": [1, 2, 3]},
    "metadata": {"labels": {"a/b": "x", "m~n": "y"}},
}

JSON_CASES: list[tuple[str, list[dict[str, Any]], Any]] = [
    ("add-field", [{"op": "add", "path": "/spec/new", "value": 1}], {**DOC["spec"], "new": 1}),
    (
        "add-replaces-member",
        [{"op": "add", "path": "/spec/running", "value": True}],
        {**DOC["spec"], "running": True},
    ),
    (
        "append-dash",
        [{"op": "add", "path": "/spec/list/-", "value": 4}],
        {**DOC["spec"], "list": [1, 2, 3, 4]},
    ),
    (
        "insert-index",
        [{"op": "add", "path": "/spec/list/0", "value": 0}],
        {**DOC["spec"], "list": [0, 1, 2, 3]},
    ),
    (
        "insert-at-end",
        [{"op": "add", "path": "/spec/list/3", "value": 9}],
        {**DOC["spec"], "list": [1, 2, 3, 9]},
    ),
    ("remove-index", [{"op": "remove", "path": "/spec/list/1"}], {**DOC["spec"], "list": [1, 3]}),
    ("remove-negative", [{"op": "remove", "path": "/spec/list/-1"}], {**DOC["spec"], "list": [1, 2]}),
    (
        "replace",
        [{"op": "replace", "path": "/spec/running", "value": True}],
        {**DOC["spec"], "running": True},
    ),
    (
        "replace-negative",
        [{"op": "replace", "path": "/spec/list/-1", "value": 7}],
        {**DOC["spec"], "list": [1, 2, 7]},
    ),
    ("move", [{"op": "move", "from": "/spec/running", "path": "/spec/r"}], {"list": [1, 2, 3], "r": False}),
    ("copy", [{"op": "copy", "from": "/spec/list/0", "path": "/spec/first"}], {**DOC["spec"], "first": 1}),
    ("test-ok", [{"op": "test", "path": "/spec/running", "value": False}], DOC["spec"]),
    ("test-missing-null", [{"op": "test", "path": "/spec/none", "value": None}], DOC["spec"]),
]


@pytest.mark.parametrize(("ops", "want_spec"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES])
def test_apply_json_patch(ops: list[dict[str, Any]], want_spec: Any) -> None:
    before = copy.deepcopy(DOC)
    result = apply_json_patch(DOC, ops)
    assert result["spec"] == want_spec
    assert DOC == before


POINTER_CASES = [
    ("slash-escape", "/metadata/labels/a~1b", "x"),
    ("tilde-escape", "/metadata/labels/m~0n", "y"),
]


@pytest.mark.parametrize(("path", "want"), [c[1:] for c in POINTER_CASES], ids=[c[0] for c in POINTER_CASES])
def test_json_pointer_escaping(path: str, want: str) -> None:
    result = apply_json_patch(DOC, [{"op": "copy", "from": path, "path": "/copied"}])
    assert result["copied"] == want


def test_whole_document_replace() -> None:
    assert apply_json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]


JSON_ERROR_CASES: list[tuple[str, Any, str]] = [
    ("not-a-list", {"op": "add"}, "must be a list"),
    ("op-not-object", ["add"], "operation 0 is not an object"),
    ("unknown-op", [{"op": "frob", "path": "/a"}], "Unexpected kind: frob"),
    ("no-path", [{"op": "add", "value": 1}], 'has no "path"'),
    ("bad-pointer", [{"op": "add", "path": "a", "value": 1}], "is not a JSON pointer"),
    (
        "missing-parent",
        [{"op": "add", "path": "/nope/x", "value": 1}],
        'add operation does not apply: doc is missing path: "/nope/x"',
    ),
    ("remove-missing", [{"op": "remove", "path": "/spec/nope"}], "Unable to remove nonexistent key: nope"),
    (
        "replace-missing",
        [{"op": "replace", "path": "/spec/nope", "value": 1}],
        "replace operation does not apply: doc is missing key: /spec/nope",
    ),
    ("index-out-of-range", [{"op": "add", "path": "/spec/list/5", "value": 1}], "invalid index referenced"),
    ("index-not-number", [{"op": "remove", "path": "/spec/list/x"}], "invalid index referenced"),
    ("add-without-value", [{"op": "add", "path": "/spec/x"}], '"value" is missing'),
    ("move-into-child", [{"op": "move", "from": "/spec", "path": "/spec/x"}], "into its child"),
    ("copy-without-from", [{"op": "copy", "path": "/spec/x"}], '"from" is missing'),
]


@pytest.mark.parametrize(
    ("ops", "message"), [c[1:] for c in JSON_ERROR_CASES], ids=[c[0] for c in JSON_ERROR_CASES]
)
def test_apply_json_patch_errors(ops: Any, message: str) -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, ops)
    assert message in info.value.message


def test_failed_test_is_conflict() -> None:
    with pytest.raises(PatchConflict) as info:
        apply_json_patch(DOC, [{"op": "test", "path": "/spec/running", "value": True}])
    assert info.value.message == "testing value /spec/running failed: test failed"


def test_test_distinguishes_bool_from_int() -> None:
    with pytest.raises(PatchConflict):
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": True}])


@pytest.mark.parametrize(
    ("doc", "value"),
    [({"a": 1}, 1.0), ({"a": {"b": [1]}}, {"b": [1.0]}), ({"a": None}, None)],
    ids=["int-equals-float", "nested", "null"],
)
def test_test_compares_as_json(doc: dict[str, Any], value: Any) -> None:
    assert apply_json_patch(doc, [{"op": "test", "path": "/a", "value": value}]) == doc


def test_test_of_a_missing_path_with_a_value_is_conflict() -> None:
    with pytest.raises(PatchConflict, match="testing value /spec/nope failed"):
        apply_json_patch(DOC, [{"op": "test", "path": "/spec/nope", "value": 1}])


def test_failed_patch_leaves_input_alone() -> None:
    doc = {"a": [1]}
    with pytest.raises(PatchError):
        apply_json_patch(doc, [{"op": "add", "path": "/a/-", "value": 2}, {"op": "remove", "path": "/b"}])
    assert doc == {"a": [1]}


_ops = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
            "path": st.sampled_from(["", "/a", "/a/0", "/a/-", "/b/c", "/b", "/x~1y", "nope"]),
            "from": st.sampled_from(["/a", "/b/c", "/a/0"]),
            "value": _json,
        }
    ),
    max_size=4,
)


@given(_json, _ops)
def test_json_patch_never_mutates_and_only_raises_patch_error(doc: Any, ops: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(doc)
    try:
        apply_json_patch(doc, ops)
    except PatchError:
        pass
    assert doc == before


# -------------------------------------------------------------------------------- strategic merge

POD: dict[str, Any] = {
    "metadata": {"name": "p", "finalizers": ["a"], "labels": {"x": "1"}},
    "spec": {
        "containers": [
            {
                "name": "main",
                "image": "i:1",
                "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 80}],
            },
            {"name": "side", "image": "s:1"},
        ],
        "tolerations": [{"key": "k"}],
        "volumes": [{"name": "v1", "emptyDir": {}}],
    },
}
_pod = builtin_merge_key_lookup("Pod")

SMP_CASES: list[tuple[str, dict[str, Any], Any, Any]] = [
    ("map-merge", {"metadata": {"labels": {"y": "2"}}}, ("metadata", "labels"), {"x": "1", "y": "2"}),
    ("null-deletes", {"metadata": {"labels": {"x": None}}}, ("metadata", "labels"), {}),
    (
        "merge-by-name",
        {"spec": {"containers": [{"name": "main", "image": "i:2"}]}},
        ("spec", "containers"),
        [{**POD["spec"]["containers"][0], "image": "i:2"}, POD["spec"]["containers"][1]],
    ),
    (
        "append-new-item",
        {"spec": {"containers": [{"name": "new", "image": "n"}]}},
        ("spec", "containers"),
        [*POD["spec"]["containers"], {"name": "new", "image": "n"}],
    ),
    (
        "delete-item",
        {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}},
        ("spec", "containers"),
        [POD["spec"]["containers"][0]],
    ),
    (
        "replace-list-directive",
        {"spec": {"containers": [{"name": "only"}, {"$patch": "replace"}]}},
        ("spec", "containers"),
        [{"name": "only"}],
    ),
    (
        "nested-env-merge",
        {
            "spec": {
                "containers": [
                    {"name": "main", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": None}]}
                ]
            }
        },
        ("spec", "containers", 0, "env"),
        [{"name": "A"}, {"name": "B", "value": "2"}],
    ),
    (
        "ports-by-containerPort",
        {"spec": {"containers": [{"name": "main", "ports": [{"containerPort": 80, "name": "http"}]}]}},
        ("spec", "containers", 0, "ports"),
        [{"containerPort": 80, "name": "http"}],
    ),
    ("no-key-replaces", {"spec": {"tolerations": [{"key": "z"}]}}, ("spec", "tolerations"), [{"key": "z"}]),
    ("finalizers-union", {"metadata": {"finalizers": ["b", "a"]}}, ("metadata", "finalizers"), ["a", "b"]),
    (
        "delete-from-primitive-list",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
        ("metadata", "finalizers"),
        [],
    ),
    (
        "set-element-order",
        {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "main"}]}},
        ("spec", "containers"),
        [POD["spec"]["containers"][1], POD["spec"]["containers"][0]],
    ),
    (
        "set-element-order-keeps-server-only",
        {"spec": {"$setElementOrder/volumes": [{"name": "v2"}], "volumes": [{"name": "v2"}]}},
        ("spec", "volumes"),
        [{"name": "v1", "emptyDir": {}}, {"name": "v2"}],
    ),
    (
        "map-replace-directive",
        {"metadata": {"labels": {"$patch": "replace", "z": "9"}}},
        ("metadata", "labels"),
        {"z": "9"},
    ),
    ("map-delete-directive", {"metadata": {"labels": {"$patch": "delete"}}}, ("metadata", "labels"), {}),
    (
        "retain-keys",
        {
            "spec": {
                "volumes": [{"name": "v1", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]
            }
        },
        ("spec", "volumes"),
        [{"name": "v1", "hostPath": {"path": "/x"}}],
    ),
    (
        "new-subtree-cleaned",
        {"spec": {"new": {"a": None, "b": {"$patch": "merge", "c": 1}}}},
        ("spec", "new"),
        {"b": {"c": 1}},
    ),
    ("dollar-field-kept", {"spec": {"$ref": "x"}}, ("spec", "$ref"), "x"),
]


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@pytest.mark.parametrize(("patch", "path", "want"), [c[1:] for c in SMP_CASES], ids=[c[0] for c in SMP_CASES])
def test_apply_strategic_merge_patch(patch: dict[str, Any], path: tuple[Any, ...], want: Any) -> None:
    before = copy.deepcopy(POD)
    patch_before = copy.deepcopy(patch)
    result = apply_strategic_merge_patch(POD, patch, _pod)
    assert _at(result, path) == want
    assert POD == before
    assert patch == patch_before


SMP_ERROR_CASES: list[tuple[str, Any, str]] = [
    ("not-object", [1], "must be a JSON object"),
    (
        "missing-merge-key",
        {"spec": {"containers": [{"image": "x"}]}},
        "does not contain declared merge key: name",
    ),
    ("unknown-map-directive", {"spec": {"$patch": "frob"}}, "unknown patch type: frob"),
    (
        "retain-keys-missing-field",
        {"spec": {"$retainKeys": ["a"], "b": 1}},
        "not present in the $retainKeys list",
    ),
]


@pytest.mark.parametrize(
    ("patch", "message"), [c[1:] for c in SMP_ERROR_CASES], ids=[c[0] for c in SMP_ERROR_CASES]
)
def test_strategic_merge_patch_errors(patch: Any, message: str) -> None:
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch(POD, patch, _pod)
    assert message in info.value.message


KEY_CASES = [
    ("deployment-containers", "Deployment", ("spec", "template", "spec", "containers"), "name"),
    ("deployment-env", "Deployment", ("spec", "template", "spec", "initContainers", "env"), "name"),
    ("cronjob-volumes", "CronJob", ("spec", "jobTemplate", "spec", "template", "spec", "volumes"), "name"),
    ("pod-volume-mounts", "Pod", ("spec", "containers", "volumeMounts"), "mountPath"),
    ("service-ports", "Service", ("spec", "ports"), "port"),
    ("owner-references", "ConfigMap", ("metadata", "ownerReferences"), "uid"),
    ("node-addresses", "Node", ("status", "addresses"), "type"),
    ("node-taints-replace", "Node", ("spec", "taints"), None),
    ("tolerations-replace", "Pod", ("spec", "tolerations"), None),
    ("conditions", "Deployment", ("status", "conditions"), "type"),
    ("unknown-kind", "VirtualMachine", ("spec", "template", "spec", "volumes"), None),
]


@pytest.mark.parametrize(("kind", "path", "want"), [c[1:] for c in KEY_CASES], ids=[c[0] for c in KEY_CASES])
def test_builtin_merge_key_lookup(kind: str, path: tuple[str, ...], want: str | None) -> None:
    assert builtin_merge_key_lookup(kind)(path) == want
    if want is not None:
        assert BUILTIN_MERGE_KEYS[path] == want


@given(_json, _json)
def test_strategic_merge_only_raises_patch_error(doc: Any, patch: Any) -> None:
    before = copy.deepcopy(doc)
    try:
        apply_strategic_merge_patch(doc, patch, _pod)
    except PatchError:
        pass
    assert doc == before
