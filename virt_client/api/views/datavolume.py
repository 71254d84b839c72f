"""View of a CDI DataVolume."""

from __future__ import annotations

from virt_client.api.constants import DataVolumePhase
from virt_client.api.views.fields import Enum, Int, Items, OptStr, Raw, Str, Sub, View
from virt_client.api.views.meta import ConditionView, ObjectView


class DataVolumeSpecView(View):
    __slots__ = ()
    source = Raw("source")
    source_ref = Raw("sourceRef")
    pvc = Raw("pvc")
    storage = Raw("storage")
    content_type = OptStr("contentType")
    preallocation = OptStr("preallocation")

    @property
    def source_kind(self) -> str:
        """Which source the DataVolume imports from: "http", "registry", "blank", "pvc", ... ("" when none)."""
        return next(iter(self.source), "")


class DataVolumeStatusView(View):
    __slots__ = ()
    phase = Enum("phase", DataVolumePhase, DataVolumePhase.UNSET, DataVolumePhase.UNKNOWN)
    progress = Str("progress")
    restart_count = Int("restartCount")
    claim_name = OptStr("claimName")
    conditions = Items("conditions", ConditionView)


class DataVolumeView(ObjectView):
    """A DataVolume, typed for reading."""

    __slots__ = ()
    spec = Sub("spec", DataVolumeSpecView)
    status = Sub("status", DataVolumeStatusView)

    @property
    def phase(self) -> DataVolumePhase:
        return self.status.phase

    @property
    def claim_name(self) -> str:
        """The PVC holding the data: `status.claimName`, else the DataVolume's own name."""
        return self.status.claim_name or self.name
