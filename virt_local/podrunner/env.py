"""A container's environment, resolved as the kubelet does (pure).

Order: the image's PATH/HOME/HOSTNAME, the service environment (`KUBERNETES_SERVICE_HOST/PORT`),
`envFrom` sources, then `env` entries, later ones winning. `valueFrom` supports the downward API
(`fieldRef`: metadata.name/namespace/uid, labels['k'], annotations['k'], spec.nodeName,
spec.serviceAccountName, status.podIP(s) (the Pod's own loopback address), status.hostIP(s);
`resourceFieldRef`), ConfigMap and Secret keys. `$(VAR)` references in values, command and args
expand to variables defined earlier; `$$` escapes a dollar; unknown references stay as written.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from virt_client.api.quantity import Quantity, QuantityError

from ..errors import VolumeError
from ..pod_network import NODE_IP, pod_ip

Lookup = Callable[[str, str], Mapping[str, str] | None]  # (kind, name) -> data or None


@dataclass(frozen=True)
class EnvInputs:
    pod: Mapping[str, Any]
    path: str
    api_host: str
    api_port: int
    configmaps: Lookup
    secrets: Lookup


_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def expand(value: str, env: Mapping[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return _REF.sub(repl, value)


def field_value(pod: Mapping[str, Any], path: str) -> str:
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return str((md.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"), "metadata.uid": md.get("uid"),
        "spec.nodeName": spec.get("nodeName"), "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.podIP": pod_ip(pod), "status.podIPs": pod_ip(pod), "status.hostIP": NODE_IP,
        "status.hostIPs": NODE_IP,
    }
    if path in simple:
        return str(simple[path] or "")
    if path in ("metadata.labels", "metadata.annotations"):
        items = md.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise VolumeError(f"unsupported fieldRef path {path!r}", reason="CreateContainerConfigError")


def resource_value(container: Mapping[str, Any], ref: Mapping[str, Any], allocatable: Mapping[str, str]) -> str:
    kind, _, res = str(ref.get("resource", "")).partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(res)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(res)
    if value is None:
        value = allocatable.get(res, "0") if kind == "limits" else "0"
    try:
        divisor = Quantity.parse(ref.get("divisor") or "1").value
        return str(math.ceil(Quantity.parse(value).value / divisor))
    except (QuantityError, ZeroDivisionError) as e:
        raise VolumeError(f"resourceFieldRef {ref!r}: {e}", reason="CreateContainerConfigError") from e


def _source(inputs: EnvInputs, kind: str, name: str, optional: bool) -> Mapping[str, str] | None:
    data = (inputs.configmaps if kind == "configmap" else inputs.secrets)(kind, name)
    if data is None and not optional:
        raise VolumeError(f'{kind} "{name}" not found', reason="CreateContainerConfigError")
    return data


def container_env(inputs: EnvInputs, container: Mapping[str, Any],
                  allocatable: Mapping[str, str]) -> dict[str, str]:
    pod = inputs.pod
    env: dict[str, str] = {
        "PATH": inputs.path, "HOME": "/root",
        "HOSTNAME": str((pod.get("metadata") or {}).get("name") or ""),
        "KUBERNETES_SERVICE_HOST": inputs.api_host, "KUBERNETES_SERVICE_PORT": str(inputs.api_port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(inputs.api_port),
    }
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = src.get(key)
            if ref is None:
                continue
            data = _source(inputs, kind, ref.get("name", ""), bool(ref.get("optional")))
            for k, v in (data or {}).items():
                env[prefix + k] = v
    for item in container.get("env") or []:
        name = item.get("name", "")
        vf = item.get("valueFrom")
        if vf is None:
            env[name] = expand(str(item.get("value") or ""), env)
            continue
        if "fieldRef" in vf:
            env[name] = field_value(pod, vf["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in vf:
            env[name] = resource_value(container, vf["resourceFieldRef"], allocatable)
        else:
            for kind, key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                ref = vf.get(key)
                if ref is None:
                    continue
                data = _source(inputs, kind, ref.get("name", ""), bool(ref.get("optional")))
                if data is None:
                    break
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        break
                    raise VolumeError(f"couldn't find key {ref.get('key')} in {kind} "
                                      f"{(pod.get('metadata') or {}).get('namespace')}/{ref.get('name')}",
                                      reason="CreateContainerConfigError")
                env[name] = data[ref["key"]]
    return env


def secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's `data` (base64) and `stringData` as text."""
    out = {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()}
    out.update(secret.get("stringData") or {})
    return out
