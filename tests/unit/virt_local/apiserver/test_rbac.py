"""Tests for the RBAC authorizer, the 403 message and the bootstrap policy."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virt_local.apiserver.rbac import (
    RbacSnapshot,
    RequestAttributes,
    UserInfo,
    bootstrap_policy,
    forbidden_message,
    forbidden_status,
    service_account_user,
)

RBAC = "rbac.authorization.k8s.io"


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return meta


OBJECTS: list[dict[str, Any]] = [
    *bootstrap_policy(),
    {
        "kind": "ClusterRole",
        "metadata": _meta("kubevirt.io:view", labels={f"{RBAC}/aggregate-to-view": "true"}),
        "rules": [{"apiGroups": ["kubevirt.io"], "resources": ["virtualmachines"], "verbs": ["get", "list"]}],
    },
    {
        "kind": "ClusterRole",
        "metadata": _meta("node-reader"),
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"], "resourceNames": ["node01"]}],
    },
    {
        "kind": "ClusterRole",
        "metadata": _meta("log-reader"),
        "rules": [
            {"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]},
            {
                "apiGroups": ["subresources.kubevirt.io"],
                "resources": ["virtualmachineinstances/console"],
                "verbs": ["get"],
            },
        ],
    },
    {
        "kind": "ClusterRole",
        "metadata": _meta("metrics"),
        "rules": [{"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]}],
    },
    {
        "kind": "Role",
        "metadata": _meta("cm-writer", "team"),
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}],
    },
    {
        "kind": "ClusterRoleBinding",
        "metadata": _meta("alice-nodes"),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "node-reader"},
        "subjects": [{"kind": "User", "name": "alice"}],
    },
    {
        "kind": "ClusterRoleBinding",
        "metadata": _meta("ops-metrics"),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "metrics"},
        "subjects": [{"kind": "Group", "name": "ops"}],
    },
    {
        "kind": "RoleBinding",
        "metadata": _meta("bob-view", "team"),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "bob"}],
    },
    {
        "kind": "RoleBinding",
        "metadata": _meta("bob-cm", "team"),
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "cm-writer"},
        "subjects": [{"kind": "User", "name": "bob"}],
    },
    {
        "kind": "RoleBinding",
        "metadata": _meta("sa-logs", "team"),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "log-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "builder"}],
    },
    {
        "kind": "RoleBinding",
        "metadata": _meta("carol-edit", "team"),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "User", "name": "carol"}],
    },
    {
        "kind": "RoleBinding",
        "metadata": _meta("dave-missing", "team"),
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "gone"},
        "subjects": [{"kind": "User", "name": "dave"}],
    },
]

SNAPSHOT = RbacSnapshot.from_objects(OBJECTS)

AUTHED = ("system:authenticated",)
ALICE = UserInfo("alice", AUTHED)
BOB = UserInfo("bob", AUTHED)
CAROL = UserInfo("carol", AUTHED)
DAVE = UserInfo("dave", AUTHED)
ADMIN = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
ANON = UserInfo("system:anonymous", ("system:unauthenticated",))
BUILDER = service_account_user("team", "builder")
OTHER_BUILDER = service_account_user("other", "builder")
OPS = UserInfo("eve", ("ops", "system:authenticated"))


def _res(
    verb: str, resource: str, namespace: str = "", name: str = "", group: str = "", sub: str = ""
) -> RequestAttributes:
    return RequestAttributes(verb, group, resource, sub, name, namespace, True, "")


def _path(verb: str, path: str) -> RequestAttributes:
    return RequestAttributes(verb, resource_request=False, path=path)


AUTHZ_CASES = [
    ("masters-anything", ADMIN, _res("delete", "nodes", name="n"), True),
    ("masters-any-path", ADMIN, _path("post", "/whatever"), True),
    ("resource-name-match", ALICE, _res("get", "nodes", name="node01"), True),
    ("resource-name-mismatch", ALICE, _res("get", "nodes", name="node02"), False),
    ("resource-name-list", ALICE, _res("list", "nodes"), False),
    ("rolebinding-in-namespace", BOB, _res("list", "pods", "team"), True),
    ("rolebinding-other-namespace", BOB, _res("list", "pods", "prod"), False),
    ("rolebinding-not-cluster-wide", BOB, _res("list", "pods"), False),
    ("view-cannot-write", BOB, _res("delete", "pods", "team", "p"), False),
    ("view-no-secrets", BOB, _res("get", "secrets", "team", "s"), False),
    ("view-subresource", BOB, _res("get", "pods", "team", "p", sub="log"), True),
    ("view-subresource-exec-denied", BOB, _res("create", "pods", "team", "p", sub="exec"), False),
    ("aggregated-kubevirt-view", BOB, _res("get", "virtualmachines", "team", "vm", "kubevirt.io"), True),
    ("aggregated-wrong-group", BOB, _res("get", "virtualmachines", "team", "vm", "other.io"), False),
    ("role-wildcard-verb", BOB, _res("deletecollection", "configmaps", "team"), True),
    ("edit-includes-view", CAROL, _res("watch", "deployments", "team", group="apps"), True),
    (
        "edit-includes-kubevirt-view",
        CAROL,
        _res("list", "virtualmachines", "team", group="kubevirt.io"),
        True,
    ),
    ("edit-write", CAROL, _res("create", "secrets", "team"), True),
    ("edit-no-roles", CAROL, _res("create", "roles", "team", group=RBAC), False),
    ("sa-subject-binding-namespace", BUILDER, _res("get", "pods", "team", "p", sub="log"), True),
    ("sa-star-subresource", BUILDER, _res("get", "pods", "team", "p", sub="log"), True),
    ("sa-star-subresource-not-parent", BUILDER, _res("get", "pods", "team", "p"), False),
    ("sa-other-namespace", OTHER_BUILDER, _res("get", "pods", "team", "p", sub="log"), False),
    (
        "sa-exact-subresource",
        BUILDER,
        _res("get", "virtualmachineinstances", "team", "v", "subresources.kubevirt.io", "console"),
        True,
    ),
    ("group-non-resource-url", OPS, _path("get", "/metrics"), True),
    ("non-resource-prefix", OPS, _path("get", "/debug/pprof/heap"), True),
    ("non-resource-wrong-verb", OPS, _path("post", "/metrics"), False),
    ("discovery-authenticated", ALICE, _path("get", "/apis/kubevirt.io/v1"), True),
    ("discovery-anonymous-denied", ANON, _path("get", "/apis"), False),
    ("healthz-anonymous", ANON, _path("get", "/healthz"), True),
    ("version-anonymous", ANON, _path("get", "/version"), True),
    ("self-review", ALICE, _res("create", "selfsubjectaccessreviews", group="authorization.k8s.io"), True),
    ("missing-role", DAVE, _res("get", "pods", "team"), False),
]


@pytest.mark.parametrize(
    ("user", "attrs", "allowed"), [c[1:] for c in AUTHZ_CASES], ids=[c[0] for c in AUTHZ_CASES]
)
def test_authorize(user: UserInfo, attrs: RequestAttributes, allowed: bool) -> None:
    assert SNAPSHOT.authorize(user, attrs).allowed is allowed


REASON_CASES = [
    (
        "cluster-role-binding",
        ALICE,
        _res("get", "nodes", name="node01"),
        'RBAC: allowed by ClusterRoleBinding "alice-nodes" of ClusterRole "node-reader" to User "alice"',
    ),
    (
        "role-binding-service-account",
        BUILDER,
        _res("get", "pods", "team", "p", sub="log"),
        'RBAC: allowed by RoleBinding "sa-logs/team" of ClusterRole "log-reader" to ServiceAccount "builder/team"',
    ),
    ("plain-deny", ALICE, _res("get", "pods", "team"), ""),
    (
        "missing-role",
        DAVE,
        _res("get", "pods", "team"),
        'RBAC: role.rbac.authorization.k8s.io "gone" not found',
    ),
]


@pytest.mark.parametrize(
    ("user", "attrs", "reason"), [c[1:] for c in REASON_CASES], ids=[c[0] for c in REASON_CASES]
)
def test_decision_reason(user: UserInfo, attrs: RequestAttributes, reason: str) -> None:
    assert SNAPSHOT.authorize(user, attrs).reason == reason


def test_missing_cluster_roles_are_listed() -> None:
    snapshot = RbacSnapshot(
        cluster_role_bindings=[
            {
                "metadata": {"name": b},
                "roleRef": {"kind": "ClusterRole", "name": b},
                "subjects": [{"kind": "User", "name": "x"}],
            }
            for b in ("a", "b")
        ]
    )
    decision = snapshot.authorize(UserInfo("x"), _res("get", "pods"))
    assert decision == type(decision)(
        False,
        'RBAC: [clusterrole.rbac.authorization.k8s.io "a" not found, clusterrole.rbac.authorization.k8s.io "b" not found]',
    )


MESSAGE_CASES = [
    (
        "namespaced-core",
        _res("get", "pods", "default", "web"),
        'pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "default"',
    ),
    (
        "namespaced-group-list",
        _res("list", "virtualmachines", "default", group="kubevirt.io"),
        'virtualmachines.kubevirt.io is forbidden: User "alice" cannot list resource "virtualmachines" '
        'in API group "kubevirt.io" in the namespace "default"',
    ),
    (
        "cluster-scope",
        _res("list", "nodes"),
        'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope',
    ),
    (
        "subresource",
        _res("get", "pods", "default", "web", sub="log"),
        'pods "web" is forbidden: User "alice" cannot get resource "pods/log" in API group "" in the namespace "default"',
    ),
    ("non-resource", _path("get", "/foo"), 'forbidden: User "alice" cannot get path "/foo"'),
]


@pytest.mark.parametrize(("attrs", "want"), [c[1:] for c in MESSAGE_CASES], ids=[c[0] for c in MESSAGE_CASES])
def test_forbidden_message(attrs: RequestAttributes, want: str) -> None:
    assert forbidden_message(ALICE, attrs) == want


def test_forbidden_message_with_reason_and_status() -> None:
    attrs = _res("get", "pods", "team", "p")
    reason = 'RBAC: role.rbac.authorization.k8s.io "gone" not found'
    assert forbidden_message(DAVE, attrs, reason).endswith(f'in the namespace "team": {reason}')
    status = forbidden_status(DAVE, attrs, reason)
    assert (status["code"], status["reason"], status["details"]) == (
        403,
        "Forbidden",
        {"name": "p", "kind": "pods"},
    )


AGGREGATION_CASES = [
    ("view-has-kubevirt", "view", {"apiGroups": ["kubevirt.io"], "resources": ["virtualmachines"], "verbs": ["get", "list"]}, True),
    ("admin-has-roles", "admin", {"verbs": ["create", "delete", "deletecollection", "patch", "update", "get", "list", "watch"], "apiGroups": [RBAC], "resources": ["rolebindings", "roles"]}, True),
    ("view-lacks-roles", "view", {"verbs": ["create", "delete", "deletecollection", "patch", "update", "get", "list", "watch"], "apiGroups": [RBAC], "resources": ["rolebindings", "roles"]}, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("role", "rule", "present"), [c[1:] for c in AGGREGATION_CASES], ids=[c[0] for c in AGGREGATION_CASES]
)
def test_aggregated_rules(role: str, rule: dict[str, Any], present: bool) -> None:
    rules = SNAPSHOT.aggregated_rules(role)
    assert rules is not None
    assert (rule in rules) is present


def test_aggregation_cycle_terminates() -> None:
    label = {"x": "y"}
    selector = {"clusterRoleSelectors": [{"matchLabels": label}]}
    snapshot = RbacSnapshot(
        cluster_roles=[
            {"metadata": {"name": "a", "labels": label}, "aggregationRule": selector},
            {"metadata": {"name": "b", "labels": label}, "aggregationRule": selector},
            {
                "metadata": {"name": "c", "labels": label},
                "rules": [{"verbs": ["get"], "nonResourceURLs": ["/c"]}],
            },
        ]
    )
    assert snapshot.aggregated_rules("a") == [{"verbs": ["get"], "nonResourceURLs": ["/c"]}]
    assert snapshot.aggregated_rules("missing") is None


def test_service_account_user() -> None:
    user = service_account_user("ns", "sa")
    assert user.username == "system:serviceaccount:ns:sa"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")


def test_rules_for() -> None:
    log_rule = {"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}
    assert log_rule in SNAPSHOT.rules_for(BUILDER, "team")
    assert log_rule not in SNAPSHOT.rules_for(BUILDER, "prod")


_words = st.sampled_from(["", "*", "get", "pods", "log", "team", "apps", "kubevirt.io", "/healthz", "alice"])


@given(_words, _words, _words, _words, _words, _words, st.booleans(), _words)
def test_authorize_is_total_and_masters_always_win(
    verb: str, group: str, resource: str, sub: str, name: str, namespace: str, is_resource: bool, path: str
) -> None:
    attrs = RequestAttributes(verb, group, resource, sub, name, namespace, is_resource, path)
    assert SNAPSHOT.authorize(ADMIN, attrs).allowed
    decision = SNAPSHOT.authorize(UserInfo(name, (group,)), attrs)
    assert isinstance(decision.reason, str)
    assert forbidden_message(ALICE, attrs)


def test_bootstrap_policy_shape() -> None:
    objects = bootstrap_policy()
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for want in ("cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
                 "system:public-info-viewer", "system:auth-delegator"):  # fmt: skip
        assert ("ClusterRole", want) in names
    assert all(o["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults" for o in objects)
    assert bootstrap_policy() == objects and bootstrap_policy() is not objects
    delegator = UserInfo("system:serviceaccount:kube-system:proxy")
    snapshot = RbacSnapshot.from_objects(
        [*objects, {"kind": "ClusterRoleBinding", "metadata": {"name": "d"},
                    "roleRef": {"kind": "ClusterRole", "name": "system:auth-delegator"},
                    "subjects": [{"kind": "ServiceAccount", "name": "proxy", "namespace": "kube-system"}]}]
    )  # fmt: skip
    assert snapshot.authorize(
        delegator, _res("create", "tokenreviews", group="authentication.k8s.io")
    ).allowed
    assert snapshot.authorize(
        delegator, _res("create", "subjectaccessreviews", group="authorization.k8s.io")
    ).allowed
