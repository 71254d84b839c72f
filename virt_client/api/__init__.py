"""Typed KubeVirt (kubevirt.io/v1) and CDI (cdi.kubevirt.io/v1beta1) API, the analogue of kubevirt.io/api.

Modules: ``constants`` (groups, kinds, phases, reasons, label/annotation/finalizer keys),
``fields`` and ``meta`` (shared scalar types, the ``KubeModel`` base, ObjectMeta), ``domain``,
``devices``, ``volumes``, ``vmi_status``, ``vmi``, ``vm``, ``migration``, ``replicaset``,
``datavolume``, ``options`` (subresource bodies), ``features`` (what we implement and
``unsupported_fields``), ``schema`` and ``crdgen`` (structural CRDs from the models) and
``compatdoc`` (docs/compatibility.md from the feature list); ``objects`` (phase, is-final,
is-deleting, keys and owner references of any object) and ``views`` (typed read-only views of
cached objects, for reading on the hot path).

Invariant: models round-trip any upstream-valid manifest exactly and keep unknown fields;
nothing here does I/O except the two ``main`` entry points that write generated files.
"""
