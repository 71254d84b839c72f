"""The building blocks of the typed views: a `View` base and typed field descriptors.

A view holds one reference, `raw`: the mapping it reads (a cached `FrozenDict`, or a plain dict).
Each field is a descriptor that reads one key of `raw` on access and converts it to the declared
type: an absent or null key reads as the field's empty value ("" / None / 0 / False / {} / ()),
a nested object as another view over the nested mapping. Nothing is copied up front and nothing
is cached on the view, so a view costs one small object and always agrees with `raw`.

Speed: reading a field is one call. The typed `__get__` signatures are declared once on `_Field`
for the type checker; each descriptor's runtime `__get__` is written out flat (no helper calls on
the common path), and the table tests in `tests/unit/virt_client/api/test_api_views.py` pin what
each returns.

Invariants: descriptors only read; a view never writes to `raw`; a value of the wrong JSON type
reads as the empty value instead of raising (cached objects passed API validation already, and a
reader must not crash on a field another version added).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from virt_client.indexer import FrozenDict, FrozenList

EMPTY: Mapping[str, Any] = MappingProxyType({})

# isinstance() against the collections.abc classes is slow; the types the cache and JSON decoding
# produce are checked by identity first.
_MAPPINGS: frozenset[type] = frozenset({FrozenDict, dict, MappingProxyType})
_SEQUENCES: frozenset[type] = frozenset({FrozenList, list, tuple})


def _sequence(value: Any) -> Sequence[Any] | None:
    if value is None:
        return None
    if type(value) in _SEQUENCES or (isinstance(value, Sequence) and not isinstance(value, str | bytes)):
        return value  # type: ignore[no-any-return]
    return None

T = TypeVar("T")
V = TypeVar("V", bound="View")
E = TypeVar("E", bound=StrEnum)


class View:
    """A read-only typed accessor over one JSON object; `raw` is the object itself, for patches."""

    __slots__ = ("raw",)

    raw: Mapping[str, Any]

    def __init__(self, raw: Mapping[str, Any] | None) -> None:
        self.raw = raw if raw is not None else EMPTY

    def __bool__(self) -> bool:
        """False when the object is absent or empty, as `(x.get(...) or {})` was."""
        return bool(self.raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, View) and type(other) is type(self) and self.raw == other.raw

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.raw)!r})"


class _Field(Generic[T]):
    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    if TYPE_CHECKING:
        @overload
        def __get__(self, obj: None, owner: type[Any]) -> Self: ...
        @overload
        def __get__(self, obj: View, owner: type[Any]) -> T: ...
        def __get__(self, obj: View | None, owner: type[Any]) -> Self | T: ...

    def __set__(self, obj: View, value: T) -> None:
        raise AttributeError(f"{type(obj).__name__}.{self.key} is read-only: patch the object instead")


class Str(_Field[str]):
    """A string; "" when absent."""

    __slots__ = ()

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            return value if isinstance(value, str) else ""


class OptStr(_Field[str | None]):
    """A string, or None when absent."""

    __slots__ = ()

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            return value if isinstance(value, str) else None


class Int(_Field[int]):
    """An integer; `default` when absent."""

    __slots__ = ("default",)

    def __init__(self, key: str, default: int = 0) -> None:
        super().__init__(key)
        self.default = default

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            return value if isinstance(value, int) and not isinstance(value, bool) else self.default


class OptInt(_Field[int | None]):
    """An integer, or None when absent."""

    __slots__ = ()

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None


class Bool(_Field[bool]):
    """A boolean; False when absent."""

    __slots__ = ()

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            return obj.raw.get(self.key) is True


class OptBool(_Field[bool | None]):
    """A boolean, or None when absent (where absent and false mean different things)."""

    __slots__ = ()

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            return value if isinstance(value, bool) else None


ResourceList = Mapping[str, str | int | float]


class _MappingField(_Field[T]):
    """A mapping read as is; {} when absent. Not copied."""

    __slots__ = ()

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            if value is None:
                return EMPTY
            return value if type(value) in _MAPPINGS or isinstance(value, Mapping) else EMPTY


class StrMap(_MappingField[Mapping[str, str]]):
    """A string map (labels, nodeSelector); {} when absent. Not copied."""

    __slots__ = ()


class Quantities(_MappingField[ResourceList]):
    """A resource list (`requests`, `capacity`): name → quantity as written; {} when absent."""

    __slots__ = ()


class Raw(_MappingField[Mapping[str, Any]]):
    """A nested object this version does not type (read it as a mapping); {} when absent."""

    __slots__ = ()


class StrList(_Field[Sequence[str]]):
    """A list of strings; () when absent. Not copied."""

    __slots__ = ()

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            if value is None:
                return ()
            return value if type(value) in _SEQUENCES or _sequence(value) is not None else ()


class Enum(_Field[E]):
    """A closed value set: the member, `default` when absent, `unknown` for a value not in the set."""

    __slots__ = ("enum", "default", "unknown")

    def __init__(self, key: str, enum: type[E], default: E, unknown: E | None = None) -> None:
        super().__init__(key)
        self.enum = enum
        self.default = default
        self.unknown = default if unknown is None else unknown

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            if not value or not isinstance(value, str):
                return self.default
            try:
                return self.enum(value)
            except ValueError:
                return self.unknown


class Sub(_Field[V]):
    """A nested object as a view; an empty view (falsy) when absent."""

    __slots__ = ("view",)

    def __init__(self, key: str, view: type[V]) -> None:
        super().__init__(key)
        self.view = view

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            if value is not None and type(value) not in _MAPPINGS and not isinstance(value, Mapping):
                value = None
            return self.view(value)


class OptSub(_Field[V | None]):
    """A nested object as a view, or None when absent (where absent is a state of its own)."""

    __slots__ = ("view",)

    def __init__(self, key: str, view: type[V]) -> None:
        super().__init__(key)
        self.view = view

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            value = obj.raw.get(self.key)
            if value is None or (type(value) not in _MAPPINGS and not isinstance(value, Mapping)):
                return None
            return self.view(value)


class Items(_Field[tuple[V, ...]]):
    """A list of objects as a tuple of views (the views are new, the objects are not copied)."""

    __slots__ = ("view",)

    def __init__(self, key: str, view: type[V]) -> None:
        super().__init__(key)
        self.view = view

    if not TYPE_CHECKING:
        def __get__(self, obj, owner):
            if obj is None:
                return self
            items = obj.raw.get(self.key)
            if not items or (type(items) not in _SEQUENCES and _sequence(items) is None):
                return ()
            view = self.view
            return tuple([view(m) for m in items if type(m) in _MAPPINGS or isinstance(m, Mapping)])
