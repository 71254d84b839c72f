"""Tests for the JSONPath dialect and the printer-column cells built from it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virt_local.apiserver.jsonpath import JsonPathError, compile_path, format_printer_value
from virt_local.apiserver.printer_cells import go_float

VMI: dict[str, Any] = {
    "metadata": {
        "name": "vmi1",
        "labels": {"kubevirt.io/nodeName": "node01", "a.b/c": "dotted"},
        "creationTimestamp": "2024-05-01T10:00:00Z",
    },
    "spec": {"domain": {"devices": {"disks": [{"name": "root"}, {"name": "data"}, {"name": "cloud"}]}}},
    "status": {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "priority": 1},
            {"type": "Paused", "status": "False", "priority": 5},
            {"type": "Migratable", "status": "True"},
        ],
        "interfaces": [{"ipAddress": "10.0.0.5", "name": "default"}],
        "nothing": None,
    },
}

FIND_CASES: list[tuple[str, str, list[Any]]] = [
    ("field", ".status.phase", ["Running"]),
    ("no-leading-dot", "status.phase", ["Running"]),
    ("dollar-root", "$.metadata.name", ["vmi1"]),
    ("braces", "{.metadata.name}", ["vmi1"]),
    ("missing", ".status.nope", []),
    ("missing-parent", ".nope.deeper", []),
    ("null-value", ".status.nothing", [None]),
    ("bracket-single-quote", ".metadata.labels['kubevirt.io/nodeName']", ["node01"]),
    ("bracket-double-quote", '.metadata.labels["a.b/c"]', ["dotted"]),
    ("escaped-dot", ".metadata.labels.kubevirt\\.io/nodeName", ["node01"]),
    ("index", ".spec.domain.devices.disks[0].name", ["root"]),
    ("negative-index", ".spec.domain.devices.disks[-1].name", ["cloud"]),
    ("index-out-of-range", ".spec.domain.devices.disks[7].name", []),
    ("star", ".spec.domain.devices.disks[*].name", ["root", "data", "cloud"]),
    ("dot-star", ".metadata.labels.*", ["node01", "dotted"]),
    ("slice", ".spec.domain.devices.disks[0:2].name", ["root", "data"]),
    ("slice-open", ".spec.domain.devices.disks[1:].name", ["data", "cloud"]),
    ("slice-step", ".spec.domain.devices.disks[::2].name", ["root", "cloud"]),
    ("union-index", ".spec.domain.devices.disks[0,2].name", ["root", "cloud"]),
    ("union-keys", ".metadata['name','creationTimestamp']", ["vmi1", "2024-05-01T10:00:00Z"]),
    ("recursive", "..ipAddress", ["10.0.0.5"]),
    ("recursive-name", "$..disks[*].name", ["root", "data", "cloud"]),
    ("filter-eq", ".status.conditions[?(@.type=='Ready')].status", ["True"]),
    ("filter-double-quote", '.status.conditions[?(@.type == "Paused")].status', ["False"]),
    ("filter-ne", ".status.conditions[?(@.status!='True')].type", ["Paused"]),
    ("filter-lt-number", ".status.conditions[?(@.priority < 3)].type", ["Ready"]),
    ("filter-ge-number", ".status.conditions[?(@.priority>=1)].type", ["Ready", "Paused"]),
    ("filter-exists", ".status.conditions[?(@.priority)].type", ["Ready", "Paused"]),
    ("filter-type-mismatch", ".status.conditions[?(@.priority=='1')].type", []),
    ("filter-no-match", ".status.conditions[?(@.type=='Gone')].status", []),
]


@pytest.mark.parametrize(("expr", "want"), [c[1:] for c in FIND_CASES], ids=[c[0] for c in FIND_CASES])
def test_find(expr: str, want: list[Any]) -> None:
    before = copy.deepcopy(VMI)
    assert compile_path(expr).find(VMI) == want
    assert VMI == before


ERROR_CASES = [
    ("empty", "", "the expression is empty"),
    ("unclosed-bracket", ".a[0", "expected ']'"),
    ("bad-index", ".a[x]", "expected an index"),
    ("unterminated-quote", ".a['b]", "unterminated quoted string"),
    ("empty-field", ".a..", "expected a field name"),
    ("zero-step", ".a[::0]", "step must be > 0"),
    ("unclosed-filter", ".a[?(@.b=='c']", "expected ')'"),
    ("bad-literal", ".a[?(@.b==c)]", "expected '@'"),
]


@pytest.mark.parametrize(("expr", "message"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_compile_errors(expr: str, message: str) -> None:
    with pytest.raises(JsonPathError) as info:
        compile_path(expr)
    assert message in info.value.message


CELL_CASES: list[tuple[str, list[Any], str, Any]] = [
    ("no-result", [], "string", None),
    ("string", ["Running"], "string", "Running"),
    ("first-result-only", ["a", "b"], "string", "a"),
    ("string-of-int", [3], "string", "3"),
    ("string-of-float", [1.5], "string", "1.5"),
    ("string-of-big-float", [1e6], "string", "1e+06"),
    ("string-of-bool", [True], "string", "true"),
    ("string-of-null", [None], "string", "<no value>"),
    ("string-of-object", [{"b": 1, "a": "<x>"}], "string", '{"a":"\\u003cx\\u003e","b":1}'),
    ("string-of-list", [[1, "x", 2.0]], "string", '[1,"x",2]'),
    ("integer", [3], "integer", 3),
    ("integer-from-float", [3.9], "integer", 3),
    ("integer-from-string", ["3"], "integer", None),
    ("integer-from-bool", [True], "integer", None),
    ("number", [3], "number", 3.0),
    ("number-float", [2.5], "number", 2.5),
    ("boolean", [False], "boolean", False),
    ("boolean-from-string", ["true"], "boolean", None),
    ("date", ["2024-05-01T10:00:00Z"], "date", "2024-05-01T10:00:00Z"),
    ("date-offset-to-utc", ["2024-05-01T12:00:00.5+02:00"], "date", "2024-05-01T10:00:00Z"),
    ("date-invalid", ["yesterday"], "date", "<invalid>"),
    ("date-empty", [""], "date", None),
    ("date-not-string", [5], "date", None),
    ("null-non-string", [None], "integer", None),
    ("unknown-type", ["x"], "object", None),
]


@pytest.mark.parametrize(
    ("values", "column_type", "want"), [c[1:] for c in CELL_CASES], ids=[c[0] for c in CELL_CASES]
)
def test_format_printer_value(values: list[Any], column_type: str, want: Any) -> None:
    cell = format_printer_value(values, column_type)
    assert cell == want
    assert type(cell) is type(want)


FLOAT_CASES = [
    ("integral", 100.0, "100"),
    ("fraction", 0.1, "0.1"),
    ("negative", -2.5, "-2.5"),
    ("million", 1e6, "1e+06"),
    ("below-million", 999999.5, "999999.5"),
    ("long", 123456789.0, "1.23456789e+08"),
    ("small", 0.0001, "0.0001"),
    ("smaller", 0.00001, "1e-05"),
]


@pytest.mark.parametrize(("value", "want"), [c[1:] for c in FLOAT_CASES], ids=[c[0] for c in FLOAT_CASES])
def test_go_float(value: float, want: str) -> None:
    assert go_float(value) == want


@given(st.text(alphabet=st.sampled_from(list("$.[]*?@()'\"=!<>:,-0123abc\\ {}")), max_size=24))
def test_compile_raises_only_jsonpath_error(expr: str) -> None:
    try:
        path = compile_path(expr)
    except JsonPathError:
        return
    path.find(VMI)


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=10,
    ),
    st.sampled_from(["string", "integer", "number", "boolean", "date", "other"]),
)
def test_format_printer_value_never_raises(value: Any, column_type: str) -> None:
    format_printer_value([value], column_type)
