"""The RBAC authorizer: decides requests from Role/ClusterRole(Binding) objects as Kubernetes does.

`RbacSnapshot` is built from plain Kubernetes JSON objects and answers `authorize(user, attrs)`
the way k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac does, preceded by the privileged-group
authorizer kube-apiserver runs first (members of `system:masters` may do anything):
ClusterRoleBindings grant everywhere, RoleBindings grant in their own namespace; subjects are
users, groups and service accounts; rules match verbs, API groups, resources (with
`resource/subresource` and `*/subresource` forms), resource names and non-resource URLs (with a
trailing `*`), `*` being a wildcard. ClusterRoles with an `aggregationRule` get the union of the
rules of the ClusterRoles their selectors pick, as the aggregation controller would write them.

Invariants: pure; a snapshot never changes after construction; denial is the default; a binding
to a missing role grants nothing and is reported in the denial reason (`RBAC: ... not found`).
`forbidden_message` reproduces kube-apiserver's 403 text exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from virt_client.api.status import failure_status
from virt_client.selectors import LabelSelector, SelectorError, label_selector_from_dict
from virt_local.apiserver.rbac_bootstrap import bootstrap_policy

__all__ = [
    "Decision",
    "RbacSnapshot",
    "RequestAttributes",
    "UserInfo",
    "bootstrap_policy",
    "forbidden_message",
    "forbidden_status",
    "service_account_user",
]

MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
SA_PREFIX = "system:serviceaccount:"

Rule = Mapping[str, Any]


@dataclass(frozen=True)
class UserInfo:
    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestAttributes:
    """What a request wants to do; `resource_request` is False for paths like /healthz."""

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    resource_request: bool = True
    path: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def service_account_user(namespace: str, name: str, uid: str = "") -> UserInfo:
    """The identity a service account token authenticates as."""
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED_GROUP)
    return UserInfo(f"{SA_PREFIX}{namespace}:{name}", groups, uid)


def _q(text: str) -> str:
    """Quote like Go's %q for the printable text found in names."""
    return json.dumps(text, ensure_ascii=False)


def forbidden_message(user: UserInfo, attrs: RequestAttributes, reason: str = "") -> str:
    """The `message` of kube-apiserver's 403 Status for this request."""
    if not attrs.resource_request:
        detail = f"User {_q(user.username)} cannot {attrs.verb} path {_q(attrs.path)}"
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        scope = f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
        detail = (
            f"User {_q(user.username)} cannot {attrs.verb} resource {_q(resource)} "
            f"in API group {_q(attrs.api_group)} {scope}"
        )
    if reason:
        detail = f"{detail}: {reason}"
    if not attrs.resource_request or not (attrs.resource or attrs.api_group):
        return f"forbidden: {detail}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f"{qualified} {_q(attrs.name)} is forbidden: {detail}"
    return f"{qualified} is forbidden: {detail}"


def forbidden_status(user: UserInfo, attrs: RequestAttributes, reason: str = "") -> dict[str, Any]:
    """The whole 403 `Status` object kube-apiserver sends for a denied request."""
    details: dict[str, Any] = {}
    if attrs.resource_request:
        details = {
            k: v for k, v in (("name", attrs.name), ("group", attrs.api_group), ("kind", attrs.resource)) if v
        }
    return failure_status(403, forbidden_message(user, attrs, reason), "Forbidden", details)


# ------------------------------------------------------------------------------ rule matching


def _has(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def rule_allows(attrs: RequestAttributes, rule: Rule) -> bool:
    """Whether one PolicyRule grants the request (rbac.RuleAllows)."""
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        urls = rule.get("nonResourceURLs") or []
        return any(
            u == "*" or u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1])) for u in urls
        )
    if not _has(rule.get("apiGroups"), attrs.api_group):
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = rule.get("resources") or []
    if not any(
        r == "*" or r == combined or (attrs.subresource and r == "*/" + attrs.subresource) for r in resources
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _subject_matches(subject: Mapping[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(user.username == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user.username == f"{SA_PREFIX}{namespace}:{name}"
    return False


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return f"ServiceAccount {_q(subject.get('name', '') + '/' + namespace)}"
    return f"{subject.get('kind')} {_q(subject.get('name', ''))}"


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace", ""))


class RbacSnapshot:
    """An immutable view of the RBAC objects at one moment, able to authorize requests."""

    def __init__(
        self,
        *,
        roles: Iterable[Mapping[str, Any]] = (),
        cluster_roles: Iterable[Mapping[str, Any]] = (),
        role_bindings: Iterable[Mapping[str, Any]] = (),
        cluster_role_bindings: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._roles = {(_namespace(r), _name(r)): list(r.get("rules") or []) for r in roles}
        stored = {_name(r): r for r in cluster_roles}
        self._cluster_roles = {name: self._effective_rules(stored, name, frozenset()) for name in stored}
        self._cluster_role_bindings = sorted(cluster_role_bindings, key=_name)
        self._role_bindings: dict[str, list[Mapping[str, Any]]] = {}
        for binding in sorted(role_bindings, key=_name):
            self._role_bindings.setdefault(_namespace(binding), []).append(binding)

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]]) -> RbacSnapshot:
        """Build from a mixed list of RBAC objects, sorted by their `kind`."""
        by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for obj in objects:
            by_kind.setdefault(str(obj.get("kind", "")), []).append(obj)
        return cls(
            roles=by_kind.get("Role", []),
            cluster_roles=by_kind.get("ClusterRole", []),
            role_bindings=by_kind.get("RoleBinding", []),
            cluster_role_bindings=by_kind.get("ClusterRoleBinding", []),
        )

    @staticmethod
    def _effective_rules(
        stored: Mapping[str, Mapping[str, Any]], name: str, visiting: frozenset[str]
    ) -> list[Rule]:
        role = stored[name]
        aggregation = role.get("aggregationRule")
        if not isinstance(aggregation, Mapping):
            return list(role.get("rules") or [])
        rules: list[Rule] = []
        for raw in aggregation.get("clusterRoleSelectors") or []:
            try:
                selector: LabelSelector = label_selector_from_dict(raw)
            except SelectorError:
                continue
            for other in sorted(stored):
                labels = (stored[other].get("metadata") or {}).get("labels")
                if other == name or other in visiting or not selector.matches(labels):
                    continue
                for rule in RbacSnapshot._effective_rules(stored, other, visiting | {name}):
                    if rule not in rules:
                        rules.append(rule)
        return rules

    def aggregated_rules(self, cluster_role: str) -> list[dict[str, Any]] | None:
        """The rules a ClusterRole grants after aggregation, or None if there is no such role."""
        rules = self._cluster_roles.get(cluster_role)
        return None if rules is None else [dict(rule) for rule in rules]

    def _role_rules(self, ref: Mapping[str, Any], namespace: str) -> tuple[list[Rule], str]:
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        if kind == "ClusterRole":
            if name in self._cluster_roles:
                return self._cluster_roles[name], ""
            return [], f"clusterrole.rbac.authorization.k8s.io {_q(name)} not found"
        if kind == "Role" and namespace:
            if (namespace, name) in self._roles:
                return self._roles[(namespace, name)], ""
            return [], f"role.rbac.authorization.k8s.io {_q(name)} not found"
        return [], f"unsupported role reference kind: {_q(str(kind))}"

    def _grants(self, user: UserInfo, namespace: str) -> Iterable[tuple[str, list[Rule], str]]:
        """Yield (source description, rules, error) for each binding that applies to the user."""
        bindings = [("ClusterRoleBinding", "", b) for b in self._cluster_role_bindings]
        if namespace:
            bindings += [("RoleBinding", namespace, b) for b in self._role_bindings.get(namespace, [])]
        for kind, binding_ns, binding in bindings:
            subject = next(
                (s for s in binding.get("subjects") or [] if _subject_matches(s, user, binding_ns)), None
            )
            if subject is None:
                continue
            ref = binding.get("roleRef") or {}
            rules, error = self._role_rules(ref, binding_ns)
            label = _name(binding) + (f"/{binding_ns}" if binding_ns else "")
            source = (
                f"{kind} {_q(label)} of {ref.get('kind')} {_q(str(ref.get('name', '')))} "
                f"to {_describe_subject(subject, binding_ns)}"
            )
            yield source, rules, error

    def authorize(self, user: UserInfo, attrs: RequestAttributes) -> Decision:
        """Allow or deny; the reason names the granting binding, or what went wrong on denial."""
        if MASTERS_GROUP in user.groups:
            return Decision(True, "")
        errors: list[str] = []
        for source, rules, error in self._grants(user, attrs.namespace):
            if error:
                errors.append(error)
            if any(rule_allows(attrs, rule) for rule in rules):
                return Decision(True, f"RBAC: allowed by {source}")
        if not errors:
            return Decision(False, "")
        return Decision(False, "RBAC: " + (errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"))

    def rules_for(self, user: UserInfo, namespace: str) -> list[dict[str, Any]]:
        """Every rule granting the user something in `namespace` (for SelfSubjectRulesReview)."""
        if MASTERS_GROUP in user.groups:
            return [
                {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                {"verbs": ["*"], "nonResourceURLs": ["*"]},
            ]
        out: list[dict[str, Any]] = []
        for _, rules, _ in self._grants(user, namespace):
            out.extend(dict(rule) for rule in rules if dict(rule) not in out)
        return out
