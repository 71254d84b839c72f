"""The ServiceAccount admission plugin for Pods (kube-apiserver's `ServiceAccount`), pure.

On Pod creation: `spec.serviceAccountName` defaults to `default` (and the deprecated
`spec.serviceAccount` follows it); the ServiceAccount must exist, else the Pod is forbidden; unless
the Pod or the ServiceAccount sets `automountServiceAccountToken: false`, the Pod gets the projected
volume `kube-api-access-<5 random chars>` (a bound token of 3607 s, `ca.crt` from the ConfigMap
`kube-root-ca.crt`, the namespace from the downward API), mounted read-only at
`/var/run/secrets/kubernetes.io/serviceaccount` in every container and init container that does not
mount something there already. Mirror Pods (annotation `kubernetes.io/config.mirror`) are left alone.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping
from typing import Any

from . import errors

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_EXPIRATION = 3607  # kube-apiserver's value: tokens of this lifetime are extended (see subresources.token)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# utilrand.String's alphabet: no vowels, no easily confused characters.
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

_random = random.Random()


def random_suffix(n: int = 5, choice: Callable[[str], str] = _random.choice) -> str:
    return "".join(choice(ALPHANUMS) for _ in range(n))


def access_volume(name: str) -> dict[str, Any]:
    return {"name": name, "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def _well_formed(spec: Mapping[str, Any]) -> bool:
    def list_of_objects(value: Any) -> bool:
        return value is None or isinstance(value, list) and all(isinstance(x, dict) for x in value)
    if not all(list_of_objects(spec.get(k)) for k in ("initContainers", "containers", "volumes")):
        return False
    containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or []]
    return all(list_of_objects(c.get("volumeMounts")) for c in containers)


def admit_pod(pod: dict[str, Any], service_account: Mapping[str, Any] | None, *,
              suffix: Callable[[], str] = random_suffix) -> dict[str, Any]:
    """The Pod as admitted; `service_account` is the one it names (None when it does not exist)."""
    md = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (md.get("annotations") or {}):
        return pod
    out = copy.deepcopy(pod)
    spec = out.setdefault("spec", {})
    if not isinstance(spec, dict):
        return pod  # validation rejects it with the right message
    sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if not isinstance(sa_name, str):
        return pod
    spec["serviceAccountName"] = sa_name
    spec["serviceAccount"] = sa_name
    if service_account is None:
        raise errors.forbidden(f'pods "{md.get("name") or md.get("generateName") or ""}" is forbidden: error '
                               f"looking up service account {md.get('namespace', '')}/{sa_name}: "
                               f'serviceaccount "{sa_name}" not found')
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = service_account.get("automountServiceAccountToken")
    if automount is False:
        return out
    if not _well_formed(spec):
        return out  # validation rejects it with the right message
    containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or []]
    wanting = [c for c in containers if not any(m.get("mountPath") == MOUNT_PATH for m in c.get("volumeMounts") or [])]
    if not wanting:
        return out
    names = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    name = VOLUME_PREFIX + suffix()
    while name in names:
        name = VOLUME_PREFIX + suffix()
    spec["volumes"] = [*(spec.get("volumes") or []), access_volume(name)]
    for c in wanting:
        c["volumeMounts"] = [*(c.get("volumeMounts") or []), {"name": name, "readOnly": True, "mountPath": MOUNT_PATH}]
    return out
