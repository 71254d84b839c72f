"""The virt-launcher Pod of a VirtualMachineInstance, as a pure function of the VMI.

`render_launcher_pod(vmi, config, suffix)` follows the contract in docs/architecture.md and
upstream's template service (reference §3.3): name `virt-launcher-<vmi>-<suffix>`, the VMI's labels
plus the launcher labels, the VMI's annotations minus kubectl's and the api-version bookkeeping,
a controller ownerReference to the VMI, node selector `kubevirt.io/schedulable=true` merged with
the VMI's, scheduling fields copied from the VMI, one `compute` container running `virt-launcher`
and the volumes the launcher reads disks from.

Invariants: no I/O, no clock, no randomness (the caller passes the name suffix); the same VMI
and configuration always give the same Pod, so golden files pin it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from virt_client.api.constants import (
    API_VERSION,
    APP_LABEL,
    APP_LABEL_VIRT_LAUNCHER,
    CREATED_BY_LABEL,
    DEFAULT_CONTAINER_ANNOTATION,
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    DOMAIN_ANNOTATION,
    LATEST_OBSERVED_API_VERSION_ANNOTATION,
    LAUNCHER_COMPUTE_CONTAINER,
    MIGRATION_TRANSPORT_UNIX_ANNOTATION,
    NODE_NAME_LABEL,
    SCHEDULABLE_NODE_LABEL,
    STORAGE_OBSERVED_API_VERSION_ANNOTATION,
    VIRTUAL_MACHINE_NAME_LABEL,
    VMI_ID_LABEL,
    Kind,
)
from virt_controller.pod_resources import compute_resources
from virt_controller.settings import LauncherConfig

RUN_DIR = "/var/run/kubevirt"
SOCKETS_DIR = f"{RUN_DIR}/sockets"
NOTIFY_SOCKET = f"{RUN_DIR}/handler/notify.sock"
CONTAINER_DISKS_DIR = f"{RUN_DIR}/container-disks"
PVC_DIR = "/var/run/kubevirt-private/vmi-disks"
CAPABILITIES_CACHE_DIR = f"{RUN_DIR}/capabilities-cache"
RUN_VOLUME = "kubevirt-run"
KERNEL_BOOT_VOLUME = "kernel-boot"
POD_GRACE_PADDING = 30  # the handler finishes ACPI shutdown within the VMI's grace; the Pod waits longer
POD_NAME_PREFIX = "virt-launcher-"

_DROPPED_ANNOTATIONS = {LATEST_OBSERVED_API_VERSION_ANNOTATION, STORAGE_OBSERVED_API_VERSION_ANNOTATION}
_COPIED_SPEC_FIELDS = (
    ("affinity", "affinity"),
    ("tolerations", "tolerations"),
    ("schedulerName", "schedulerName"),
    ("priorityClassName", "priorityClassName"),
    ("topologySpreadConstraints", "topologySpreadConstraints"),
    ("dnsPolicy", "dnsPolicy"),
    ("dnsConfig", "dnsConfig"),
    ("subdomain", "subdomain"),
)


def launcher_pod_name(vmi_name: str, suffix: str) -> str:
    return f"{POD_NAME_PREFIX}{vmi_name}-{suffix}"


def sanitize_hostname(vmi: Mapping[str, Any]) -> str:
    """`spec.hostname`, else the VMI name made a valid DNS label (upstream's rule)."""
    spec = vmi.get("spec") or {}
    if spec.get("hostname"):
        return str(spec["hostname"])
    name = str((vmi.get("metadata") or {}).get("name", ""))
    return re.sub(r"[^a-z0-9-]", "-", name.lower())[:63].strip("-") or "vmi"


def grace_period(vmi: Mapping[str, Any]) -> int:
    """The VMI's `terminationGracePeriodSeconds` (default 30)."""
    value = (vmi.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS if value is None else int(value)


def default_pull_policy(image: str) -> str:
    """Kubernetes' default: Always for `:latest` or untagged images, else IfNotPresent."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _volumes(spec: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pod volumes and compute mounts: the run dir, container disks, kernel boot, PVCs."""
    volumes: list[dict[str, Any]] = [
        {"name": RUN_VOLUME, "hostPath": {"path": RUN_DIR, "type": "DirectoryOrCreate"}}]
    mounts: list[dict[str, Any]] = [{"name": RUN_VOLUME, "mountPath": RUN_DIR}]

    def image_volume(name: str, image: str, policy: str | None) -> None:
        volumes.append({"name": name, "image": {"reference": image,
                                                "pullPolicy": policy or default_pull_policy(image)}})
        mounts.append({"name": name, "mountPath": f"{CONTAINER_DISKS_DIR}/{name}", "readOnly": True})

    def pvc_volume(name: str, claim: str, read_only: bool) -> None:
        source: dict[str, Any] = {"claimName": claim}
        if read_only:
            source["readOnly"] = True
        volumes.append({"name": name, "persistentVolumeClaim": source})
        mount: dict[str, Any] = {"name": name, "mountPath": f"{PVC_DIR}/{name}"}
        if read_only:
            mount["readOnly"] = True
        mounts.append(mount)

    for vol in spec.get("volumes") or ():
        name = str(vol.get("name"))
        if cd := vol.get("containerDisk"):
            image_volume(name, str(cd.get("image")), cd.get("imagePullPolicy"))
        elif pvc := vol.get("persistentVolumeClaim"):
            pvc_volume(name, str(pvc.get("claimName")), bool(pvc.get("readOnly")))
        elif dv := vol.get("dataVolume"):
            pvc_volume(name, str(dv.get("name")), False)
        elif (eph := vol.get("ephemeral")) and (epvc := eph.get("persistentVolumeClaim")):
            pvc_volume(name, str(epvc.get("claimName")), True)
    kernel = (((spec.get("domain") or {}).get("firmware") or {}).get("kernelBoot") or {}).get("container")
    if kernel and kernel.get("image"):
        image_volume(KERNEL_BOOT_VOLUME, str(kernel["image"]), kernel.get("imagePullPolicy"))
    return volumes, mounts


def render_launcher_pod(vmi: Mapping[str, Any], config: LauncherConfig, suffix: str) -> dict[str, Any]:
    """The launcher Pod for `vmi` (a wire dict with metadata.uid set)."""
    md = vmi.get("metadata") or {}
    spec = vmi.get("spec") or {}
    name = str(md.get("name"))
    uid = str(md.get("uid"))
    grace = grace_period(vmi)

    labels = {k: v for k, v in (md.get("labels") or {}).items() if k != NODE_NAME_LABEL}
    labels.update({APP_LABEL: APP_LABEL_VIRT_LAUNCHER, CREATED_BY_LABEL: uid,
                   VIRTUAL_MACHINE_NAME_LABEL: sanitize_hostname(vmi), VMI_ID_LABEL: name})
    annotations = {k: v for k, v in (md.get("annotations") or {}).items()
                   if not k.startswith("kubectl.kubernetes.io/") and k not in _DROPPED_ANNOTATIONS}
    annotations.update({DOMAIN_ANNOTATION: name, DEFAULT_CONTAINER_ANNOTATION: LAUNCHER_COMPUTE_CONTAINER,
                        MIGRATION_TRANSPORT_UNIX_ANNOTATION: "true"})

    volumes, mounts = _volumes(spec)
    container: dict[str, Any] = {
        "name": LAUNCHER_COMPUTE_CONTAINER,
        "image": config.image,
        "imagePullPolicy": default_pull_policy(config.image),
        "command": ["virt-launcher"],
        "args": ["--dir", f"{SOCKETS_DIR}/{uid}", "--hypervisor", str(config.hypervisor),
                 "--notify-socket", NOTIFY_SOCKET, "--grace-period", str(grace),
                 # where this Pod mounts images and PVCs; the launcher's own defaults are under --dir
                 "--container-disk-dir", CONTAINER_DISKS_DIR, "--pvc-dir", PVC_DIR,
                 "--capabilities-cache", CAPABILITIES_CACHE_DIR],
        "resources": compute_resources(spec.get("domain") or {}, config.hypervisor),
        "volumeMounts": mounts,
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "hostname": sanitize_hostname(vmi),
        "terminationGracePeriodSeconds": grace + POD_GRACE_PADDING,
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "nodeSelector": {SCHEDULABLE_NODE_LABEL: "true", **(spec.get("nodeSelector") or {})},
        "containers": [container],
        "volumes": volumes,
    }
    for src, dst in _COPIED_SPEC_FIELDS:
        if spec.get(src) is not None:
            pod_spec[dst] = spec[src]
    if spec.get("serviceAccountName"):
        pod_spec["serviceAccountName"] = spec["serviceAccountName"]

    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": launcher_pod_name(name, suffix),
            "namespace": md.get("namespace"),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": API_VERSION, "kind": str(Kind.VIRTUAL_MACHINE_INSTANCE),
                                 "name": name, "uid": uid, "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": pod_spec,
    }
