"""The building blocks of the typed views: a `View` base and typed field descriptors.

A view holds one reference, `raw`: the mapping it reads (a cached `FrozenDict`, or a plain dict).
Each field is a descriptor that reads one key of `raw` on access and converts it to the declared
type: an absent or null key reads as the field's empty value ("" / None / 0 / False / {} / ()),
a nested object as another view over the nested mapping. Nothing is copied up front and nothing
is cached on the view, so a view costs one small object and always agrees with `raw`.

Invariants: descriptors only read; a view never writes to `raw`; a value of the wrong JSON type
reads as the empty value instead of raising (cached objects passed API validation already, and a
reader must not crash on a field another version added).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, Self, TypeVar, overload

EMPTY: Mapping[str, Any] = MappingProxyType({})

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

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: View, owner: type[Any]) -> T: ...
    def __get__(self, obj: View | None, owner: type[Any]) -> Self | T:
        if obj is None:
            return self
        return self.read(obj.raw.get(self.key))

    def __set__(self, obj: View, value: T) -> None:
        raise AttributeError(f"{type(obj).__name__}.{self.key} is read-only: patch the object instead")

    def read(self, value: Any) -> T:
        raise NotImplementedError


class Str(_Field[str]):
    """A string; "" when absent."""

    __slots__ = ()

    def read(self, value: Any) -> str:
        return value if isinstance(value, str) else ""


class OptStr(_Field[str | None]):
    """A string, or None when absent."""

    __slots__ = ()

    def read(self, value: Any) -> str | None:
        return value if isinstance(value, str) else None


class Int(_Field[int]):
    """An integer; `default` when absent."""

    __slots__ = ("default",)

    def __init__(self, key: str, default: int = 0) -> None:
        super().__init__(key)
        self.default = default

    def read(self, value: Any) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else self.default


class OptInt(_Field[int | None]):
    """An integer, or None when absent."""

    __slots__ = ()

    def read(self, value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None


class Bool(_Field[bool]):
    """A boolean; False when absent."""

    __slots__ = ()

    def read(self, value: Any) -> bool:
        return value is True


class OptBool(_Field[bool | None]):
    """A boolean, or None when absent (where absent and false mean different things)."""

    __slots__ = ()

    def read(self, value: Any) -> bool | None:
        return value if isinstance(value, bool) else None


class StrMap(_Field[Mapping[str, str]]):
    """A string map (labels, nodeSelector, resource lists); {} when absent. Not copied."""

    __slots__ = ()

    def read(self, value: Any) -> Mapping[str, str]:
        return value if isinstance(value, Mapping) else EMPTY


ResourceList = Mapping[str, str | int | float]


class Quantities(_Field[ResourceList]):
    """A resource list (`requests`, `capacity`): name → quantity as written; {} when absent."""

    __slots__ = ()

    def read(self, value: Any) -> ResourceList:
        return value if isinstance(value, Mapping) else EMPTY


class StrList(_Field[Sequence[str]]):
    """A list of strings; () when absent. Not copied."""

    __slots__ = ()

    def read(self, value: Any) -> Sequence[str]:
        return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


class Raw(_Field[Mapping[str, Any]]):
    """A nested object this version does not type (read it as a mapping); {} when absent."""

    __slots__ = ()

    def read(self, value: Any) -> Mapping[str, Any]:
        return value if isinstance(value, Mapping) else EMPTY


class Enum(_Field[E]):
    """A closed value set: the member, `default` when absent, `unknown` for a value not in the set."""

    __slots__ = ("enum", "default", "unknown")

    def __init__(self, key: str, enum: type[E], default: E, unknown: E | None = None) -> None:
        super().__init__(key)
        self.enum = enum
        self.default = default
        self.unknown = default if unknown is None else unknown

    def read(self, value: Any) -> E:
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

    def read(self, value: Any) -> V:
        return self.view(value if isinstance(value, Mapping) else None)


class OptSub(_Field[V | None]):
    """A nested object as a view, or None when absent (where absent is a state of its own)."""

    __slots__ = ("view",)

    def __init__(self, key: str, view: type[V]) -> None:
        super().__init__(key)
        self.view = view

    def read(self, value: Any) -> V | None:
        return self.view(value) if isinstance(value, Mapping) else None


class Items(_Field[tuple[V, ...]]):
    """A list of objects as a tuple of views (the views are new, the objects are not copied)."""

    __slots__ = ("view",)

    def __init__(self, key: str, view: type[V]) -> None:
        super().__init__(key)
        self.view = view

    def read(self, value: Any) -> tuple[V, ...]:
        if not isinstance(value, Sequence) or isinstance(value, str):
            return ()
        view = self.view
        return tuple(view(item) for item in value if isinstance(item, Mapping))
