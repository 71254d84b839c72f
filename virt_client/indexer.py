"""The informer cache: read-only objects, keyed by "namespace/name", with secondary indexes.

Immutability rule: the cache keeps each object as its compact JSON bytes (immutable by
construction, and about a fifth of the memory of nested dicts) and hands out `FrozenDict` views,
which decode on first access and refuse mutation. To change an object, `thaw()` it (a fresh,
mutable deep copy), change the copy and write it through the client, never the cached view.

Indexes map an index value to keys: `by_namespace`, `by_label("kubevirt.io/nodeName")`, or any
function of the object returning strings. Values are computed once when an object is stored and
remembered, so removing an object never re-decodes it.

Invariants: `keys()`, index sets and stored bytes always describe the same objects; a key is in
an index value's set exactly when its stored object produced that value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

import orjson

from virt_client.api.objects import metadata as meta
from virt_client.api.objects import object_key as object_key
from virt_client.api.objects import split_key as split_key

IndexFunc = Callable[[Mapping[str, Any]], Sequence[str]]


class FrozenList(Sequence[Any]):
    """A read-only view of a JSON array; nested containers are wrapped on access."""

    __slots__ = ("_items",)

    def __init__(self, items: list[Any]) -> None:
        self._items = items

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> FrozenList: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return FrozenList(self._items[index])
        return _wrap(self._items[index])

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return (_wrap(v) for v in self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenList):
            return self._items == other._items
        return isinstance(other, list | tuple) and self._items == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FrozenList({self._items!r})"


class FrozenDict(Mapping[str, Any]):
    """A read-only view of a JSON object, optionally decoded lazily from its bytes."""

    __slots__ = ("_data", "_raw")

    def __init__(self, data: dict[str, Any] | None = None, raw: bytes | None = None) -> None:
        if data is None and raw is None:
            raise ValueError("FrozenDict needs data or raw bytes")
        self._data = data
        self._raw = raw

    @property
    def _d(self) -> dict[str, Any]:
        data = self._data
        if data is None:
            data = self._data = orjson.loads(self._raw)  # type: ignore[arg-type]
        return data

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._d[key])

    def get(self, key: str, default: Any = None) -> Any:
        # Mapping.get goes through __getitem__ and a KeyError for every absent key; this is the hot path.
        data = self._d
        return _wrap(data[key]) if key in data else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenDict):
            if self._raw is not None and other._raw is not None and self._raw == other._raw:
                return True
            return self._d == other._d
        return isinstance(other, dict) and self._d == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FrozenDict({self._d!r})"

    def to_json(self) -> bytes:
        """The object as JSON bytes (the stored bytes when there are some)."""
        return self._raw if self._raw is not None else orjson.dumps(self._d)


def _wrap(value: Any) -> Any:
    t = type(value)
    if t is dict:
        return FrozenDict(value)
    if t is list:
        return FrozenList(value)
    return value


def freeze(obj: Mapping[str, Any]) -> FrozenDict:
    """A read-only view over a private copy of `obj`."""
    if isinstance(obj, FrozenDict):
        return obj
    return FrozenDict(raw=_compact(orjson.dumps(obj, default=json_default)))


def thaw(obj: Any) -> Any:
    """A mutable deep copy of a frozen view (or of any JSON value)."""
    if isinstance(obj, FrozenDict):
        return orjson.loads(obj.to_json())
    return orjson.loads(orjson.dumps(obj, default=json_default))


def json_default(obj: Any) -> Any:
    """orjson `default=` hook that serializes frozen views."""
    if isinstance(obj, FrozenDict):
        return obj._d
    if isinstance(obj, FrozenList):
        return obj._items
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def _compact(raw: bytes) -> bytes:
    # orjson over-allocates its output buffer; copying trims it to its length.
    return bytes(memoryview(raw))


def by_namespace(obj: Mapping[str, Any]) -> Sequence[str]:
    ns = meta(obj).get("namespace")
    return (ns,) if ns else ()


def by_label(label: str) -> IndexFunc:
    """An index function on the value of one label."""

    def index(obj: Mapping[str, Any]) -> Sequence[str]:
        value = (meta(obj).get("labels") or {}).get(label)
        return (value,) if value is not None else ()

    return index


NAMESPACE_INDEX = "namespace"


class Store:
    """Objects by key, plus indexes; mutated only by its informer."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._indexers = dict(indexers or {})
        self._items: dict[str, bytes] = {}
        self._rv: dict[str, str] = {}
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}
        self._values: dict[str, dict[str, Sequence[str]]] = {}

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add indexes; existing objects are indexed at once."""
        for name, func in indexers.items():
            if name in self._indexers:
                raise ValueError(f"index {name!r} exists")
            self._indexers[name] = func
            self._indices[name] = {}
            for key, raw in self._items.items():
                self._index_one(key, name, func(orjson.loads(raw)))

    # -- reads --------------------------------------------------------------------------------

    def get(self, key: str) -> FrozenDict | None:
        raw = self._items.get(key)
        return None if raw is None else FrozenDict(raw=raw)

    def resource_version(self, key: str) -> str | None:
        return self._rv.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[str]:
        return list(self._items)

    def objects(self) -> list[FrozenDict]:
        return [FrozenDict(raw=raw) for raw in self._items.values()]

    def index_keys(self, index: str, value: str) -> list[str]:
        try:
            return sorted(self._indices[index].get(value, ()))
        except KeyError:
            raise KeyError(f"no index named {index!r}") from None

    def by_index(self, index: str, value: str) -> list[FrozenDict]:
        """Objects whose index function produced `value`."""
        return [FrozenDict(raw=self._items[k]) for k in self.index_keys(index, value)]

    # -- writes (informer only) ---------------------------------------------------------------

    def put(self, key: str, obj: Mapping[str, Any], raw: bytes | None = None) -> None:
        """Store `obj` (decoded) whose JSON is `raw` (computed when not given)."""
        self._remove_from_indices(key)
        self._items[key] = _compact(raw) if raw is not None else _compact(orjson.dumps(obj, default=json_default))
        self._rv[key] = str(meta(obj).get("resourceVersion") or "")
        if self._indexers:
            values = self._values[key] = {}
            for name, func in self._indexers.items():
                vals = values[name] = tuple(func(obj))
                self._index_one(key, name, vals)

    def delete(self, key: str) -> None:
        self._remove_from_indices(key)
        self._items.pop(key, None)
        self._rv.pop(key, None)

    def _index_one(self, key: str, name: str, values: Sequence[str]) -> None:
        index = self._indices[name]
        for v in values:
            index.setdefault(v, set()).add(key)

    def _remove_from_indices(self, key: str) -> None:
        values = self._values.pop(key, None)
        if not values:
            return
        for name, vals in values.items():
            index = self._indices[name]
            for v in vals:
                keys = index.get(v)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[v]
