"""Scalar field types shared by the API models, with the schema hints the CRD generator reads.

Every model field is typed with plain Python types (``str``, ``int``, ``bool``, lists, dicts,
models) or with one of the ``Annotated`` aliases below. The aliases carry a :class:`SchemaHint`
that pydantic ignores and :mod:`virt_client.api.schema` turns into OpenAPI keywords
(``format``, ``pattern``, ``x-kubernetes-int-or-string`` ...).

Invariants:
- Timestamps stay strings: the exact text a client sent is what the model dumps back.
- Quantities stay ``int | str``: ``1Gi`` and ``2`` round-trip unchanged, never normalised.
- Free-form values (``FreeForm``) are plain JSON objects kept verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

# The Kubernetes resource.Quantity grammar, as published in every upstream CRD schema.
QUANTITY_PATTERN = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"


@dataclass(frozen=True)
class SchemaHint:
    """Extra OpenAPI keywords for one field; read only by the CRD generator."""

    format: str | None = None
    pattern: str | None = None
    int_or_string: bool = False
    nullable: bool = False
    preserve_unknown: bool = False
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None


Quantity = Annotated[int | str, SchemaHint(int_or_string=True, pattern=QUANTITY_PATTERN)]
"""A Kubernetes quantity such as ``1Gi``, ``500m`` or ``2``."""

IntOrString = Annotated[int | str, SchemaHint(int_or_string=True)]
"""A Kubernetes IntOrString (ports, percentages)."""

Timestamp = Annotated[str, SchemaHint(format="date-time", nullable=True)]
"""An RFC 3339 timestamp, kept as the text the client sent."""

Int32 = Annotated[int, SchemaHint(format="int32")]
Int64 = Annotated[int, SchemaHint(format="int64")]
UInt32 = Annotated[int, SchemaHint(format="int32", minimum=0)]

FreeForm = Annotated[dict[str, Any], SchemaHint(preserve_unknown=True)]
"""A JSON object kept verbatim (Kubernetes core types we do not model field by field)."""

ResourceList = dict[str, Quantity]
"""A Kubernetes ResourceList: resource name to quantity."""

StringMap = dict[str, str]
