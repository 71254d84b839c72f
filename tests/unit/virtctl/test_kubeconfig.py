"""Kubeconfig path and namespace resolution, in kubectl's order."""

from __future__ import annotations

import os
from typing import Any

import pytest

from virtctl.errors import CommandError
from virtctl.kubeconfig import namespace_of, resolve_path

CONTEXTS: list[dict[str, Any]] = [
    {"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "ns-a"}},
    {"name": "b", "context": {"cluster": "c", "user": "u"}},
]


@pytest.mark.parametrize(("flag", "env", "expected"), [
    ("/flag", {"KUBECONFIG": "/env"}, "/flag"),
    (None, {"KUBECONFIG": "/one:/two"}, "/one:/two"),
    (None, {}, os.path.expanduser("~/.kube/config")),
    (None, {"KUBECONFIG": ""}, os.path.expanduser("~/.kube/config")),
], ids=["flag-wins", "env-list", "default", "empty-env"])
def test_kubeconfig_path(flag: str | None, env: dict[str, str], expected: str) -> None:
    assert resolve_path(flag, env) == expected


@pytest.mark.parametrize(("active", "context_flag", "namespace_flag", "expected"), [
    (CONTEXTS[0], None, None, "ns-a"),
    (CONTEXTS[0], None, "explicit", "explicit"),
    (CONTEXTS[0], "b", None, "default"),
    (CONTEXTS[1], "a", None, "ns-a"),
    (None, None, None, "default"),
], ids=["context-namespace", "flag-wins", "other-context-without-namespace", "other-context", "no-context"])
def test_namespace(active: dict[str, Any] | None, context_flag: str | None, namespace_flag: str | None,
                   expected: str) -> None:
    assert namespace_of(CONTEXTS, active, context_flag, namespace_flag) == expected


def test_unknown_context() -> None:
    with pytest.raises(CommandError, match="context was not found for specified context: zz"):
        namespace_of(CONTEXTS, CONTEXTS[0], "zz", None)
