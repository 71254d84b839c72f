"""Label and field selector parsing and matching, as k8s.io/apimachinery does them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virt_client.selectors import (
    LabelSelector,
    SelectorError,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
    selector_from_set,
)

LABELS = {"app": "web", "tier": "front", "kubevirt.io/nodeName": "node01", "empty": "", "n": "7"}

PARSE_CASES = [
    # (id, text, canonical string, matches LABELS)
    ("empty", "", "", True),
    ("equals", "app=web", "app=web", True),
    ("double-equals", "app==web", "app==web", True),
    ("not-equals", "app!=web", "app!=web", False),
    ("not-equals-missing-label", "zone!=a", "zone!=a", True),
    ("in", "app in (web,api)", "app in (api,web)", True),
    ("in-missing-label", "zone in (a)", "zone in (a)", False),
    ("notin", "tier notin (back)", "tier notin (back)", True),
    ("notin-missing-label", "zone notin (a)", "zone notin (a)", True),
    ("exists", "tier", "tier", True),
    ("does-not-exist", "!zone", "!zone", True),
    ("does-not-exist-present", "!app", "!app", False),
    ("sorted-by-key", "tier=front,app=web", "app=web,tier=front", True),
    ("whitespace", "  app = web ,  tier  ", "app=web,tier", True),
    ("prefixed-key", "kubevirt.io/nodeName=node01", "kubevirt.io/nodeName=node01", True),
    ("empty-value", "empty=", "empty=", True),
    ("empty-value-in-set", "empty in (,x)", "empty in (,x)", True),
    ("empty-parens", "empty in ()", "empty in ()", True),
    ("greater-than", "n>5", "n>5", True),
    ("less-than", "n<5", "n<5", False),
    ("duplicate-values", "app in (web,web)", "app in (web)", True),
    ("keyword-as-value", "app=in", "app=in", False),
]


@pytest.mark.parametrize(
    ("text", "canonical", "matches"), [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES]
)
def test_parse_label_selector(text: str, canonical: str, matches: bool) -> None:
    selector = parse_label_selector(text)
    assert str(selector) == canonical
    assert selector.matches(LABELS) is matches
    assert parse_label_selector(str(selector)) == selector


PARSE_ERROR_CASES = [
    ("missing-operator", "a b", "found 'b', expected: =, !=, ==, in, notin, >, <"),
    ("trailing-comma", "a=b,", "expected: identifier after ','"),
    ("leading-operator", "=b", "found '=', expected: !, identifier, or 'end of string'"),
    ("two-values", "a=b=c", "expected: ',' or 'end of string'"),
    ("in-without-parens", "a in b", "expected: '('"),
    ("in-missing-comma", "a in (b c)", "found 'c'"),
    ("bang-with-value", "!a=b", "unable to parse requirement"),
    ("value-too-long", "a=" + "x" * 64, "must be no more than 63 characters"),
    ("value-bad-chars", "a=b@c", "a valid label must be an empty string"),
    ("key-bad-prefix", "Foo/bar=1", "prefix part a lowercase RFC 1123 subdomain"),
    ("key-empty-prefix", "/bar=1", "prefix part must be non-empty"),
    ("key-two-slashes", "a/b/c=1", "a qualified name must consist of"),
    ("key-name-too-long", "k" * 64 + "=1", "name part must be no more than 63 characters"),
    ("key-bad-name", "-a=1", "name part must consist of alphanumeric characters"),
    ("gt-not-integer", "n>x", "the value must be an integer"),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in PARSE_ERROR_CASES], ids=[c[0] for c in PARSE_ERROR_CASES]
)
def test_parse_label_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert message in info.value.message


DICT_CASES: list[tuple[str, Any, str, bool]] = [
    ("nil-matches-nothing", None, "", False),
    ("empty-matches-everything", {}, "", True),
    ("empty-lists", {"matchLabels": {}, "matchExpressions": []}, "", True),
    ("match-labels", {"matchLabels": {"app": "web"}}, "app=web", True),
    (
        "expressions",
        {
            "matchLabels": {"tier": "front"},
            "matchExpressions": [
                {"key": "app", "operator": "In", "values": ["web", "api"]},
                {"key": "zone", "operator": "DoesNotExist"},
                {"key": "empty", "operator": "Exists"},
                {"key": "app", "operator": "NotIn", "values": ["db"]},
            ],
        },
        "app in (api,web),app notin (db),empty,tier=front,!zone",
        True,
    ),
]


@pytest.mark.parametrize(
    ("sel", "canonical", "matches"), [c[1:] for c in DICT_CASES], ids=[c[0] for c in DICT_CASES]
)
def test_label_selector_from_dict(sel: Any, canonical: str, matches: bool) -> None:
    selector = label_selector_from_dict(sel)
    assert str(selector) == canonical
    assert selector.matches(LABELS) is matches
    assert selector.empty is (sel is not None and canonical == "")


DICT_ERROR_CASES: list[tuple[str, Any, str]] = [
    (
        "bad-operator",
        {"matchExpressions": [{"key": "a", "operator": "in"}]},
        '"in" is not a valid label selector operator',
    ),
    (
        "in-without-values",
        {"matchExpressions": [{"key": "a", "operator": "In"}]},
        "values set can't be empty",
    ),
    (
        "exists-with-values",
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        "values set must be empty",
    ),
    ("bad-label-value", {"matchLabels": {"a": "b c"}}, "a valid label must be"),
    ("not-an-object", ["a"], "must be an object"),
]


@pytest.mark.parametrize(
    ("sel", "message"), [c[1:] for c in DICT_ERROR_CASES], ids=[c[0] for c in DICT_ERROR_CASES]
)
def test_label_selector_from_dict_errors(sel: Any, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        label_selector_from_dict(sel)
    assert message in info.value.message


def test_selector_matches_none_labels() -> None:
    assert parse_label_selector("!a").matches(None)
    assert not parse_label_selector("a").matches(None)
    assert LabelSelector.everything().matches(None)
    assert not LabelSelector.match_nothing().matches({})


def test_selector_from_set() -> None:
    assert str(selector_from_set({"b": "2", "a": "1"})) == "a=1,b=2"


OBJECT_FIELDS = {"metadata.name": "vm,1", "metadata.namespace": "default", "spec.nodeName": None}

FIELD_CASES = [
    ("empty", "", "", (), True),
    ("equals", "metadata.namespace=default", "metadata.namespace=default", ("metadata.namespace",), True),
    (
        "double-equals",
        "metadata.namespace==default",
        "metadata.namespace=default",
        ("metadata.namespace",),
        True,
    ),
    (
        "not-equals",
        "metadata.namespace!=default",
        "metadata.namespace!=default",
        ("metadata.namespace",),
        False,
    ),
    ("missing-is-empty", "spec.nodeName=", "spec.nodeName=", ("spec.nodeName",), True),
    ("missing-not-equals", "spec.nodeName!=n1", "spec.nodeName!=n1", ("spec.nodeName",), True),
    ("escaped-comma", "metadata.name=vm\\,1", "metadata.name=vm\\,1", ("metadata.name",), True),
    (
        "two-terms-sorted",
        "spec.nodeName=,metadata.name!=x",
        "metadata.name!=x,spec.nodeName=",
        ("metadata.name", "spec.nodeName"),
        True,
    ),
    (
        "empty-terms-skipped",
        ",metadata.namespace=default,",
        "metadata.namespace=default",
        ("metadata.namespace",),
        True,
    ),
]


@pytest.mark.parametrize(
    ("text", "canonical", "fields", "matches"), [c[1:] for c in FIELD_CASES], ids=[c[0] for c in FIELD_CASES]
)
def test_parse_field_selector(text: str, canonical: str, fields: tuple[str, ...], matches: bool) -> None:
    selector = parse_field_selector(text)
    assert str(selector) == canonical
    assert selector.fields == fields
    assert selector.matches(OBJECT_FIELDS.get) is matches
    assert selector.empty is (text == "")


FIELD_ERROR_CASES = [
    ("no-operator", "metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("unescaped-equals", "a=b=c", "unescaped character in value: ="),
    ("bad-escape", "a=b\\x", "invalid escape sequence: \\x"),
    ("trailing-backslash", "a=b\\", "invalid escape sequence: \\"),
    ("blank", " ", "can't understand ' '"),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in FIELD_ERROR_CASES], ids=[c[0] for c in FIELD_ERROR_CASES]
)
def test_parse_field_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_field_selector(text)
    assert message in info.value.message


_selector_text = st.text(alphabet=st.sampled_from(list("ab/.-_!=(),<> 01inot\\")), max_size=20)


@given(_selector_text)
def test_label_parser_raises_only_selector_error(text: str) -> None:
    try:
        selector = parse_label_selector(text)
    except SelectorError:
        return
    assert parse_label_selector(str(selector)) == selector


@given(_selector_text | st.text(max_size=20))
def test_field_parser_raises_only_selector_error(text: str) -> None:
    try:
        selector = parse_field_selector(text)
    except SelectorError:
        return
    assert parse_field_selector(str(selector)) == selector
