"""Request bodies of the subresource API (start, stop, restart, migrate, pause, volumes ...).

Mirrors the option types in upstream kubevirt.io/api/core/v1 types.go. Each body may carry
``apiVersion``/``kind`` (TypeMeta inline) and ``dryRun`` (Kubernetes convention, ``["All"]``).
An empty request body is equivalent to the default-constructed option object.

Invariant: ``AddVolumeOptions.name`` is also the name of its disk; :meth:`AddVolumeOptions.disk_named`
returns the disk with that name forced, as upstream does.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from virt_client.api.devices import Disk
from virt_client.api.fields import Int64, StringMap
from virt_client.api.meta import KubeModel
from virt_client.api.volumes import HotplugVolumeSource


class SubresourceOptions(KubeModel):
    api_version: str | None = Field(default=None)
    kind: str | None = None
    dry_run: list[str] | None = None

    def is_dry_run(self) -> bool:
        return bool(self.dry_run)


class StartOptions(SubresourceOptions):
    paused: bool | None = None


class StopOptions(SubresourceOptions):
    grace_period: Int64 | None = None


class RestartOptions(SubresourceOptions):
    grace_period_seconds: Int64 | None = None


class MigrateOptions(SubresourceOptions):
    added_node_selector: StringMap | None = None


class PauseOptions(SubresourceOptions):
    pass


class UnpauseOptions(SubresourceOptions):
    pass


class AddVolumeOptions(SubresourceOptions):
    name: str
    disk: Disk
    volume_source: HotplugVolumeSource

    @model_validator(mode="before")
    @classmethod
    def _disk_name_defaults_to_volume_name(cls, data: Any) -> Any:
        # virtctl may send a disk without a name; upstream fills it from the volume name.
        if isinstance(data, dict) and isinstance(data.get("disk"), dict) and "name" not in data["disk"]:
            if isinstance(data.get("name"), str):
                return {**data, "disk": {**data["disk"], "name": data["name"]}}
        return data

    def disk_named(self) -> Disk:
        """The disk with its name forced to the volume name."""
        return self.disk.model_copy(update={"name": self.name})


class RemoveVolumeOptions(SubresourceOptions):
    name: str


class FreezeUnfreezeTimeout(SubresourceOptions):
    unfreeze_timeout: str | None = None


class EvacuateCancelOptions(SubresourceOptions):
    evacuation_node_name: str | None = None
