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
from virt_client.api.objects import owner_reference
from virt_client.api.views import (
    ContainerDiskSourceView,
    FirmwareView,
    PersistentVolumeClaimSourceView,
    View,
    VirtualMachineInstanceSpecView,
    VirtualMachineInstanceView,
    VolumeView,
)
from virt_client.api.views.fields import OptSub, Sub
from virt_client.indexer import thaw
from virt_controller.pod_resources import compute_resources
from virt_controller.settings import LauncherConfig


class _EphemeralView(View):
    __slots__ = ()
    persistent_volume_claim = OptSub("persistentVolumeClaim", PersistentVolumeClaimSourceView)


class _LauncherVolumeView(VolumeView):
    """A VMI volume with the sources only the Pod rendering reads."""

    __slots__ = ()
    ephemeral = OptSub("ephemeral", _EphemeralView)


class _KernelBootView(View):
    __slots__ = ()
    container = OptSub("container", ContainerDiskSourceView)


class _LauncherFirmwareView(FirmwareView):
    __slots__ = ()
    kernel_boot = Sub("kernelBoot", _KernelBootView)


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


def sanitize_hostname(vmi: VirtualMachineInstanceView) -> str:
    """`spec.hostname`, else the VMI name made a valid DNS label (upstream's rule)."""
    if vmi.spec.hostname:
        return vmi.spec.hostname
    return re.sub(r"[^a-z0-9-]", "-", vmi.name.lower())[:63].strip("-") or "vmi"


def grace_period(vmi: VirtualMachineInstanceView) -> int:
    """The VMI's `terminationGracePeriodSeconds` (default 30)."""
    value = vmi.spec.termination_grace_period_seconds
    return DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS if value is None else value


def default_pull_policy(image: str) -> str:
    """Kubernetes' default: Always for `:latest` or untagged images, else IfNotPresent."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _volumes(spec: VirtualMachineInstanceSpecView) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pod volumes and compute mounts: the run dir, container disks, kernel boot, PVCs."""
    volumes: list[dict[str, Any]] = [
        {"name": RUN_VOLUME, "hostPath": {"path": RUN_DIR, "type": "DirectoryOrCreate"}}]
    mounts: list[dict[str, Any]] = [{"name": RUN_VOLUME, "mountPath": RUN_DIR}]

    def image_volume(name: str, source: ContainerDiskSourceView) -> None:
        image = source.image
        volumes.append({"name": name, "image": {"reference": image,
                                                "pullPolicy": source.image_pull_policy or default_pull_policy(image)}})
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

    for vol in spec.volumes:
        vol = _LauncherVolumeView(vol.raw)
        if cd := vol.container_disk:
            image_volume(vol.name, cd)
        elif pvc := vol.persistent_volume_claim:
            pvc_volume(vol.name, pvc.claim_name, pvc.read_only)
        elif dv := vol.data_volume:
            pvc_volume(vol.name, dv.name, False)
        elif (eph := vol.ephemeral) and (epvc := eph.persistent_volume_claim):
            pvc_volume(vol.name, epvc.claim_name, True)
    kernel = _LauncherFirmwareView(spec.domain.firmware.raw).kernel_boot.container
    if kernel and kernel.image:
        image_volume(KERNEL_BOOT_VOLUME, kernel)
    return volumes, mounts


def render_launcher_pod(vmi: VirtualMachineInstanceView, config: LauncherConfig, suffix: str) -> dict[str, Any]:
    """The launcher Pod for `vmi` (metadata.uid set)."""
    spec = vmi.spec
    name = vmi.name
    uid = vmi.uid
    grace = grace_period(vmi)

    labels = {k: v for k, v in vmi.labels.items() if k != NODE_NAME_LABEL}
    labels.update({APP_LABEL: APP_LABEL_VIRT_LAUNCHER, CREATED_BY_LABEL: uid,
                   VIRTUAL_MACHINE_NAME_LABEL: sanitize_hostname(vmi), VMI_ID_LABEL: name})
    annotations = {k: v for k, v in vmi.annotations.items()
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
        "resources": compute_resources(spec.domain, config.hypervisor),
        "volumeMounts": mounts,
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "hostname": sanitize_hostname(vmi),
        "terminationGracePeriodSeconds": grace + POD_GRACE_PADDING,
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "nodeSelector": {SCHEDULABLE_NODE_LABEL: "true", **spec.node_selector},
        "containers": [container],
        "volumes": volumes,
    }
    for src, dst in _COPIED_SPEC_FIELDS:
        if spec.raw.get(src) is not None:
            pod_spec[dst] = thaw(spec.raw[src])
    if account := spec.raw.get("serviceAccountName"):
        pod_spec["serviceAccountName"] = account

    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": launcher_pod_name(name, suffix),
            "namespace": vmi.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(vmi.raw, api_version=API_VERSION,
                                                kind=str(Kind.VIRTUAL_MACHINE_INSTANCE))],
        },
        "spec": pod_spec,
    }
