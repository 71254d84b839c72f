"""Views of what every object shares: ObjectMeta, ownerReferences, conditions, and `ObjectView`.

`ObjectView` is the base of the per-kind views: `metadata` typed, plus the shortcuts components use
on every object (`name`, `namespace`, `uid`, `key`, `labels`, `annotations`, `is_deleting`,
`controller_ref`). The shortcuts answer exactly as `virt_client.api.objects` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from virt_client.api.views.fields import (
    Bool,
    Int,
    Items,
    OptInt,
    OptStr,
    Str,
    StrList,
    StrMap,
    Sub,
    View,
)


class OwnerReferenceView(View):
    __slots__ = ()
    api_version = Str("apiVersion")
    kind = Str("kind")
    name = Str("name")
    uid = Str("uid")
    controller = Bool("controller")
    block_owner_deletion = Bool("blockOwnerDeletion")


class ObjectMetaView(View):
    __slots__ = ()
    name = Str("name")
    generate_name = Str("generateName")
    namespace = Str("namespace")
    uid = Str("uid")
    resource_version = Str("resourceVersion")
    generation = Int("generation")
    creation_timestamp = OptStr("creationTimestamp")
    deletion_timestamp = OptStr("deletionTimestamp")
    deletion_grace_period_seconds = OptInt("deletionGracePeriodSeconds")
    labels = StrMap("labels")
    annotations = StrMap("annotations")
    finalizers = StrList("finalizers")
    owner_references = Items("ownerReferences", OwnerReferenceView)


class ConditionView(View):
    """One status condition (VM, VMI, VMIM, VMIRS, Pod, Node, PVC and DataVolume share the shape)."""

    __slots__ = ()
    type = Str("type")
    status = Str("status")
    reason = Str("reason")
    message = Str("message")
    last_probe_time = OptStr("lastProbeTime")
    last_transition_time = OptStr("lastTransitionTime")
    last_heartbeat_time = OptStr("lastHeartbeatTime")

    @property
    def is_true(self) -> bool:
        return self.status == "True"


class LabelSelectorView(View):
    __slots__ = ()
    match_labels = StrMap("matchLabels")
    match_expressions = Items("matchExpressions", View)


class ObjectView(View):
    """A top-level object: `metadata` typed, and the shortcuts every component uses."""

    __slots__ = ()
    api_version = Str("apiVersion")
    kind = Str("kind")
    metadata = Sub("metadata", ObjectMetaView)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def uid(self) -> str:
        return self.metadata.uid

    @property
    def key(self) -> str:
        """client-go's MetaNamespaceKeyFunc: "namespace/name", or "name" when cluster-scoped."""
        md = self.metadata
        return f"{md.namespace}/{md.name}" if md.namespace else md.name

    @property
    def labels(self) -> Mapping[str, str]:
        return self.metadata.labels

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.metadata.annotations

    @property
    def finalizers(self) -> Sequence[str]:
        return self.metadata.finalizers

    @property
    def is_deleting(self) -> bool:
        """`metadata.deletionTimestamp` is set."""
        return bool(self.metadata.deletion_timestamp)

    @property
    def controller_ref(self) -> OwnerReferenceView | None:
        """The ownerReference with `controller: true`, if any."""
        for ref in self.metadata.owner_references:
            if ref.controller:
                return ref
        return None


def find_condition(conditions: Sequence[ConditionView], ctype: str) -> ConditionView | None:
    """The condition of type `ctype`, if present (reading only; writes go through the conditions module)."""
    for cond in conditions:
        if cond.type == ctype:
            return cond
    return None



