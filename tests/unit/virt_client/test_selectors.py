"""Label and field selector strings as predicates."""

from __future__ import annotations

import pytest

from virt_client.selectors import field_matcher, label_matcher, object_matcher

LABELS = {"app": "web", "tier": "front", "kubevirt.io/created-by": "uid-1"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (db, web)", True),
        ("app notin (web)", False),
        ("missing notin (web)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("app=web,tier=back", False),
        ("kubevirt.io/created-by=uid-1,app in (web)", True),
    ],
    ids=["empty", "equals", "double-equals", "equals-other", "not-equals", "missing-not-equals", "in", "notin",
         "missing-notin", "exists", "not-exists", "missing-not-exists", "all-required", "prefixed-key"],
)
def test_label_selector(selector: str, matches: bool) -> None:
    assert label_matcher(selector)(LABELS) is matches


@pytest.mark.parametrize("selector", ["app in (web", "=web", "a b c"], ids=["unclosed", "no-key", "spaces"])
def test_malformed_label_selector(selector: str) -> None:
    with pytest.raises(ValueError, match="unable to parse"):
        label_matcher(selector)


POD = {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}},
       "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("metadata.name=p", True),
        ("spec.nodeName=n2", False),
        ("spec.nodeName!=n2,status.phase=Running", True),
        ("spec.schedulerName=", True),
        ("metadata.namespace==ns", True),
    ],
    ids=["name", "other-node", "not-and-phase", "missing-is-empty", "double-equals"],
)
def test_field_selector(selector: str, matches: bool) -> None:
    assert field_matcher(selector)(POD) is matches


def test_object_matcher_needs_both() -> None:
    assert object_matcher("app=web", "spec.nodeName=n1")(POD)
    assert not object_matcher("app=db", "spec.nodeName=n1")(POD)
    assert not object_matcher("app=web", "spec.nodeName=n2")(POD)
