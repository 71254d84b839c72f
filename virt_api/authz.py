"""May this user do this: the SubjectAccessReview virt-api sends for each subresource request.

Upstream (`pkg/virt-api/rest/authorizer.go`): kube-apiserver only authenticates and proxies;
virt-api authorizes against RBAC on the `subresources.kubevirt.io` group by building a
SubjectAccessReview from the identity headers and the URL. Pure: `resource_attributes` maps a
request to the attributes (or None for a path that is not an API endpoint), `subject_access_review`
builds the review body, `decision` reads the answer and `forbidden` words a denial.

A denial is answered as kube-apiserver answers one (its `responsewriters.Forbidden`): 403 with a
`Status` of reason `Forbidden`, message `<resource>.<group> "<name>" is forbidden: User "<user>"
cannot <verb> resource "<resource>/<subresource>" in API group "<group>" in the namespace "<ns>"`,
followed by `: <reason>` when the review gave one. (Upstream virt-api answers 401 with the reason as
plain text, which clients report as an authentication failure.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from virt_client.api.constants import SUBRESOURCE_GROUP

from .authn import UserInfo
from .errors import SubresourceError

ALLOWED_RESOURCES = ("virtualmachines", "virtualmachineinstances")
VERBS = {"GET": "get", "HEAD": "get", "PUT": "update", "POST": "create", "PATCH": "patch", "DELETE": "delete"}


def resource_attributes(method: str, path: str) -> dict[str, str] | None:
    """SAR `resourceAttributes` for a request, or None when the path is not an authorizable endpoint."""
    parts = path.strip("/").split("/")
    verb = VERBS.get(method.upper())
    if verb is None or len(parts) < 6 or parts[0] != "apis" or parts[3] != "namespaces":
        return None
    group, version, namespace = parts[1], parts[2], parts[4]
    if group != SUBRESOURCE_GROUP or not namespace:
        return None
    if len(parts) == 6 and parts[5] == "expand-vm-spec":
        return {"namespace": namespace, "verb": verb, "group": group, "version": version,
                "resource": "expand-vm-spec"}
    if len(parts) < 8 or parts[5] not in ALLOWED_RESOURCES or not parts[6]:
        return None
    subresource = "/".join(parts[7:])
    if parts[7] == "portforward":
        subresource = "portforward"
    return {"namespace": namespace, "verb": verb, "group": group, "version": version, "resource": parts[5],
            "name": parts[6], "subresource": subresource}


def subject_access_review(user: UserInfo, attributes: Mapping[str, str]) -> dict[str, Any]:
    """The SubjectAccessReview to POST for `user` doing `attributes`."""
    spec: dict[str, Any] = {"user": user.username, "groups": list(user.groups),
                            "resourceAttributes": dict(attributes)}
    if user.extra:
        spec["extra"] = {k: list(v) for k, v in user.extra.items()}
    if user.uid:
        spec["uid"] = user.uid
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def decision(review: Mapping[str, Any]) -> tuple[bool, str]:
    """(allowed, reason) from a SubjectAccessReview answer; the reason as the authorizer gave it."""
    status = review.get("status") or {}
    allowed = bool(status.get("allowed")) and not status.get("denied")
    return allowed, str(status.get("reason") or "")


def _quote(text: str) -> str:
    """Go's `%q` for the plain strings of user names and resource names."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def forbidden(user: UserInfo, attributes: Mapping[str, str], reason: str = "") -> SubresourceError:
    """The 403 `Status` kube-apiserver writes for `user` denied `attributes` (see the module docstring)."""
    group, plural, name = attributes.get("group", ""), attributes.get("resource", ""), attributes.get("name", "")
    resource = "/".join(x for x in (plural, attributes.get("subresource")) if x)
    why = (f"User {_quote(user.username)} cannot {attributes.get('verb', '')} resource {_quote(resource)} "
           f"in API group {_quote(group)}")
    namespace = attributes.get("namespace", "")
    why += f" in the namespace {_quote(namespace)}" if namespace else " at the cluster scope"
    if reason:
        why += f": {reason}"
    qualified = f"{plural}.{group}" if group else plural
    target = f"{qualified} {_quote(name)}" if name else qualified
    return SubresourceError(403, f"{target} is forbidden: {why}", name=name, kind=plural, group=group,
                            reason="Forbidden")
