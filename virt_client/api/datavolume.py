"""CDI DataVolume (cdi.kubevirt.io/v1beta1): a PVC plus the recipe that fills it.

Mirrors CDI's ``DataVolumeSpec``/``DataVolumeStatus`` (containerized-data-importer-api
core/v1beta1 types.go). The ``pvc`` field is a raw PersistentVolumeClaimSpec and ``storage`` the
CDI StorageSpec; both are modelled with the fields the local provisioner reads, others kept.

Invariant: ``spec`` is required; at most one of ``source``/``sourceRef`` and of ``pvc``/``storage``
is meaningful, which the DataVolume controller checks, not the model.
"""

from __future__ import annotations

from pydantic import Field

from virt_client.api.constants import (
    CDI_API_VERSION,
    DataVolumeContentType,
    Kind,
    RegistryPullMethod,
)
from virt_client.api.fields import FreeForm, Int32, ResourceList, Timestamp
from virt_client.api.meta import KubeModel, LabelSelector, ObjectMeta


class DataVolumeSourceHTTP(KubeModel):
    url: str
    secret_ref: str | None = None
    cert_config_map: str | None = None
    extra_headers: list[str] | None = None
    secret_extra_headers: list[str] | None = None


class DataVolumeSourceS3(KubeModel):
    url: str
    secret_ref: str | None = None
    cert_config_map: str | None = None


class DataVolumeSourceGCS(KubeModel):
    url: str
    secret_ref: str | None = None


class PlatformOptions(KubeModel):
    architecture: str | None = None


class DataVolumeSourceRegistry(KubeModel):
    url: str | None = None
    image_stream: str | None = None
    pull_method: RegistryPullMethod | None = None
    secret_ref: str | None = None
    cert_config_map: str | None = None
    platform: PlatformOptions | None = None


class DataVolumeSourcePVC(KubeModel):
    namespace: str
    name: str


class DataVolumeBlankImage(KubeModel):
    """A new, empty image of the requested size."""


class DataVolumeSourceUpload(KubeModel):
    """The image arrives through the upload proxy."""


class DataVolumeSource(KubeModel):
    http: DataVolumeSourceHTTP | None = None
    s3: DataVolumeSourceS3 | None = None
    gcs: DataVolumeSourceGCS | None = None
    registry: DataVolumeSourceRegistry | None = None
    pvc: DataVolumeSourcePVC | None = None
    upload: DataVolumeSourceUpload | None = None
    blank: DataVolumeBlankImage | None = None
    imageio: FreeForm | None = None
    vddk: FreeForm | None = None
    snapshot: DataVolumeSourcePVC | None = None


class DataVolumeSourceRef(KubeModel):
    kind: str
    namespace: str | None = None
    name: str


class VolumeResourceRequirements(KubeModel):
    requests: ResourceList | None = None
    limits: ResourceList | None = None


class PersistentVolumeClaimSpec(KubeModel):
    """corev1.PersistentVolumeClaimSpec, also the shape of CDI's StorageSpec."""

    access_modes: list[str] | None = None
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements | None = None
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: str | None = None
    data_source: FreeForm | None = None
    data_source_ref: FreeForm | None = None
    volume_attributes_class_name: str | None = None


class DataVolumeCheckpoint(KubeModel):
    previous: str
    current: str


class DataVolumeSpec(KubeModel):
    source: DataVolumeSource | None = None
    source_ref: DataVolumeSourceRef | None = None
    pvc: PersistentVolumeClaimSpec | None = None
    storage: PersistentVolumeClaimSpec | None = None
    priority_class_name: str | None = None
    content_type: DataVolumeContentType | None = None
    checkpoints: list[DataVolumeCheckpoint] | None = None
    final_checkpoint: bool | None = None
    preallocation: bool | None = None


class DataVolumeCondition(KubeModel):
    type: str
    status: str
    last_transition_time: Timestamp | None = None
    last_heartbeat_time: Timestamp | None = None
    reason: str | None = None
    message: str | None = None


class DataVolumeStatus(KubeModel):
    claim_name: str | None = None
    phase: str | None = None
    progress: str | None = None
    restart_count: Int32 | None = None
    conditions: list[DataVolumeCondition] | None = None


class DataVolume(KubeModel):
    api_version: str | None = Field(default=None)
    kind: str | None = None
    metadata: ObjectMeta | None = None
    spec: DataVolumeSpec
    status: DataVolumeStatus | None = None

    @classmethod
    def new(cls, *, name: str, namespace: str, spec: DataVolumeSpec) -> DataVolume:
        """A fresh DataVolume with apiVersion and kind set."""
        return cls(
            api_version=CDI_API_VERSION,
            kind=Kind.DATA_VOLUME,
            metadata=ObjectMeta(name=name, namespace=namespace),
            spec=spec,
        )
