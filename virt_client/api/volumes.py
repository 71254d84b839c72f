"""VMI volumes, networks and their sources.

Mirrors upstream ``Volume``/``VolumeSource`` and ``Network``/``NetworkSource``
(kubevirt.io/api/core/v1 schema.go). Every upstream source kind is declared, typed where we
implement it and loosely where we do not, so an unsupported source reaches the webhook intact.

Invariant: a Volume/Network carries at most one source; checked by the webhook, not here.
"""

from __future__ import annotations

from pydantic import Field

from virt_client.api.constants import HostDiskType, PullPolicy
from virt_client.api.fields import FreeForm, Quantity
from virt_client.api.meta import KubeModel, LocalObjectReference


class ContainerDiskSource(KubeModel):
    image: str
    image_pull_secret: str | None = None
    path: str | None = None
    image_pull_policy: PullPolicy | None = None


class PersistentVolumeClaimVolumeSource(KubeModel):
    claim_name: str
    read_only: bool | None = None
    hotpluggable: bool | None = None


class CorePersistentVolumeClaimVolumeSource(KubeModel):
    """corev1.PersistentVolumeClaimVolumeSource (no hotplug flag), used by ``ephemeral``."""

    claim_name: str
    read_only: bool | None = None


class DataVolumeVolumeSource(KubeModel):
    """Upstream ``DataVolumeSource`` of a VMI volume (not CDI's DataVolume source)."""

    name: str
    hotpluggable: bool | None = None


class HostDisk(KubeModel):
    path: str
    type: HostDiskType
    capacity: Quantity | None = None
    shared: bool | None = None


class EmptyDiskSource(KubeModel):
    capacity: Quantity


class EphemeralVolumeSource(KubeModel):
    persistent_volume_claim: CorePersistentVolumeClaimVolumeSource | None = None


class CloudInitNoCloudSource(KubeModel):
    secret_ref: LocalObjectReference | None = None
    user_data_base64: str | None = None
    user_data: str | None = None
    network_data_secret_ref: LocalObjectReference | None = None
    network_data_base64: str | None = None
    network_data: str | None = None


class CloudInitConfigDriveSource(CloudInitNoCloudSource):
    """Same fields as NoCloud; a different on-disk format."""


class ConfigMapVolumeSource(KubeModel):
    name: str | None = None
    optional: bool | None = None
    volume_label: str | None = None


class SecretVolumeSource(KubeModel):
    secret_name: str | None = None
    optional: bool | None = None
    volume_label: str | None = None


class ServiceAccountVolumeSource(KubeModel):
    service_account_name: str | None = None


class DownwardAPIVolumeSource(KubeModel):
    fields: list[FreeForm] | None = None
    volume_label: str | None = None


class SysprepSource(KubeModel):
    secret: LocalObjectReference | None = None
    config_map: LocalObjectReference | None = None


class Volume(KubeModel):
    name: str
    host_disk: HostDisk | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    cloud_init_no_cloud: CloudInitNoCloudSource | None = None
    cloud_init_config_drive: CloudInitConfigDriveSource | None = None
    sysprep: SysprepSource | None = None
    container_disk: ContainerDiskSource | None = None
    ephemeral: EphemeralVolumeSource | None = None
    empty_disk: EmptyDiskSource | None = None
    data_volume: DataVolumeVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = Field(default=None, alias="downwardAPI")
    service_account: ServiceAccountVolumeSource | None = None
    downward_metrics: FreeForm | None = None
    memory_dump: FreeForm | None = None
    container_path: FreeForm | None = None


class HotplugVolumeSource(KubeModel):
    """The volume sources ``addvolume`` accepts."""

    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    data_volume: DataVolumeVolumeSource | None = None


class PodNetwork(KubeModel):
    vm_network_cidr: str | None = Field(default=None, alias="vmNetworkCIDR")
    vm_ipv6_network_cidr: str | None = Field(default=None, alias="vmIPv6NetworkCIDR")


class MultusNetwork(KubeModel):
    network_name: str
    default: bool | None = None


class Network(KubeModel):
    name: str
    pod: PodNetwork | None = None
    multus: MultusNetwork | None = None
    resource_claim: FreeForm | None = None
