"""The model base class and the Kubernetes meta types every kind shares.

``KubeModel`` fixes the wire conventions once for all API models:

- attributes are snake_case in Python and camelCase on the wire (alias generator), and either
  spelling is accepted on input (``populate_by_name``);
- fields a model does not declare are kept (``extra="allow"``) and dumped back under their
  original names, so nothing a client sent is dropped silently: the admission webhook names them;
- enum fields store their plain string value, so dumps are plain JSON.

Round trip invariant: for any manifest ``d`` valid for upstream KubeVirt,
``Model.model_validate(d).model_dump(by_alias=True, exclude_unset=True) == d``.
Use :func:`to_wire` for that dump.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from virt_client.api.fields import FreeForm, Int64, StringMap, Timestamp


class KubeModel(BaseModel):
    """Base of every API model: camelCase aliases, unknown fields kept, enum values stored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        use_enum_values=True,
    )

    # Set on models whose upstream schema keeps unknown fields (x-kubernetes-preserve-unknown-fields).
    schema_preserve_unknown: ClassVar[bool] = False

    def to_wire(self) -> dict[str, Any]:
        """The object as it travels on the wire: camelCase keys, only the fields that were set."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Self:
        """Parse a wire object (JSON or YAML decoded)."""
        return cls.model_validate(data)

    def unknown_fields(self) -> list[str]:
        """Names of the fields at this level that the model does not declare."""
        return sorted((self.model_extra or {}).keys())


def to_wire(model: KubeModel) -> dict[str, Any]:
    """Module-level alias of :meth:`KubeModel.to_wire`."""
    return model.to_wire()


class OwnerReference(KubeModel):
    """A metav1.OwnerReference."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(KubeModel):
    """metav1.ObjectMeta, permissive: the usual fields typed, anything else kept as extra."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: Int64 | None = None
    creation_timestamp: Timestamp | None = None
    deletion_timestamp: Timestamp | None = None
    deletion_grace_period_seconds: Int64 | None = None
    labels: StringMap | None = None
    annotations: StringMap | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[FreeForm] | None = None


class LabelSelectorRequirement(KubeModel):
    """One matchExpressions entry of a LabelSelector."""

    key: str
    operator: str
    values: list[str] | None = None


class LabelSelector(KubeModel):
    """metav1.LabelSelector."""

    match_labels: StringMap | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class LocalObjectReference(KubeModel):
    """corev1.LocalObjectReference: a name in the same namespace."""

    name: str | None = None


class Condition(KubeModel):
    """A KubeVirt status condition (VM, VMI, VMIRS and migration share this shape)."""

    type: str
    status: str
    last_probe_time: Timestamp | None = None
    last_transition_time: Timestamp | None = None
    reason: str | None = None
    message: str | None = None


class TypeMetaFields(KubeModel):
    """apiVersion and kind, the first two fields of every top-level object."""

    api_version: str | None = Field(default=None)
    kind: str | None = None
