"""The authoritative object store: in memory for reads, SQLite for durability, one global revision.

Objects are held as their serialized JSON bytes (what list, get and watch send) plus the few parsed
fields that selection and garbage collection need, which keeps memory low with many objects. A write
assigns the next revision, updates memory at once (so later writes see it), and is acknowledged
and published to watchers only after its SQLite transaction committed, in revision order.
"""

from __future__ import annotations

import asyncio
import builtins
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .storage import Storage, Write

TypeKey = tuple[str, str]  # (group, plural)
FieldGetter = Callable[[dict[str, Any]], dict[str, str]]


class Entry:
    __slots__ = ("rv", "raw", "labels", "fields", "uid", "owners", "namespace", "name")

    def __init__(self, rv: int, raw: bytes, namespace: str, name: str, labels: dict[str, str],
                 fields: dict[str, str], uid: str, owners: tuple[str, ...]) -> None:
        self.rv = rv
        self.raw = raw
        self.namespace = namespace
        self.name = name
        self.labels = labels
        self.fields = fields
        self.uid = uid
        self.owners = owners

    def obj(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.raw)
        return value


@dataclass
class Event:
    rv: int
    tk: TypeKey
    type: str  # ADDED | MODIFIED | DELETED
    entry: Entry
    prev: Entry | None


@dataclass
class Watcher:
    tk: TypeKey
    namespace: str | None
    match: Callable[[Entry], bool]
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    closed: bool = False


class TooOld(Exception):
    pass


def storage_key(tk: TypeKey, namespace: str, name: str) -> str:
    return f"{tk[0]}|{tk[1]}|{namespace}|{name}"


def _split_key(key: str) -> tuple[TypeKey, str, str]:
    g, p, ns, n = key.split("|", 3)
    return (g, p), ns, n


class Store:
    def __init__(self, storage: Storage, *, history: int = 10000, max_queue: int = 20000) -> None:
        self.storage = storage
        self.revision = storage.revision()
        self.objects: dict[TypeKey, dict[tuple[str, str], Entry]] = {}
        self.by_uid: dict[str, tuple[TypeKey, str, str]] = {}
        self.dependents: dict[str, set[tuple[TypeKey, str, str]]] = {}
        self.history: deque[Event] = deque()
        self.history_max = history
        self.history_start = self.revision  # every event with rv > history_start is in history
        self.watchers: dict[TypeKey, list[Watcher]] = {}
        self.max_queue = max_queue
        self.field_getters: dict[TypeKey, FieldGetter] = {}
        self.listeners: list[Callable[[Event], None]] = []
        self._batch: tuple[builtins.list[Write], builtins.list[Event], asyncio.Future[None]] | None = None

    # ---- loading -------------------------------------------------------------------------
    def load(self) -> int:
        n = 0
        for key, rv, raw in self.storage.load():
            tk, ns, name = _split_key(key)
            obj = orjson.loads(raw)
            self._index(tk, self._entry(tk, rv, raw, obj))
            n += 1
        return n

    def _entry(self, tk: TypeKey, rv: int, raw: bytes, obj: Mapping[str, Any]) -> Entry:
        md = obj.get("metadata") or {}
        getter = self.field_getters.get(tk)
        owners = tuple(str(o.get("uid", "")) for o in md.get("ownerReferences") or () if isinstance(o, dict))
        return Entry(rv, raw, md.get("namespace", "") or "", md.get("name", ""), dict(md.get("labels") or {}),
                     getter(dict(obj)) if getter else {}, md.get("uid", ""), owners)

    def _index(self, tk: TypeKey, e: Entry) -> None:
        self.objects.setdefault(tk, {})[(e.namespace, e.name)] = e
        if e.uid:
            self.by_uid[e.uid] = (tk, e.namespace, e.name)
        for o in e.owners:
            self.dependents.setdefault(o, set()).add((tk, e.namespace, e.name))

    def _unindex(self, tk: TypeKey, e: Entry) -> None:
        self.objects.get(tk, {}).pop((e.namespace, e.name), None)
        if e.uid and self.by_uid.get(e.uid) == (tk, e.namespace, e.name):
            del self.by_uid[e.uid]
        for o in e.owners:
            deps = self.dependents.get(o)
            if deps is not None:
                deps.discard((tk, e.namespace, e.name))
                if not deps:
                    del self.dependents[o]

    # ---- reads ---------------------------------------------------------------------------
    def get(self, tk: TypeKey, namespace: str, name: str) -> Entry | None:
        return self.objects.get(tk, {}).get((namespace, name))

    def list(self, tk: TypeKey, namespace: str | None) -> list[Entry]:
        items = self.objects.get(tk, {})
        if namespace:
            entries = [e for (ns, _), e in items.items() if ns == namespace]
        else:
            entries = list(items.values())
        entries.sort(key=lambda e: (e.namespace, e.name))
        return entries

    def count(self, tk: TypeKey) -> int:
        return len(self.objects.get(tk, {}))

    # ---- writes --------------------------------------------------------------------------
    async def put(self, tk: TypeKey, obj: dict[str, Any]) -> Entry:
        """Create or replace `obj` (its metadata names it). Returns the stored entry."""
        return (await self.commit([(tk, obj, False)]))[0]

    async def delete(self, tk: TypeKey, obj: dict[str, Any]) -> Entry:
        """Remove the object; `obj` is its final state, published with the deletion revision."""
        return (await self.commit([(tk, obj, True)]))[0]

    async def commit(self, changes: Iterable[tuple[TypeKey, dict[str, Any], bool]]) -> builtins.list[Entry]:
        writes: builtins.list[Write] = []
        events: builtins.list[Event] = []
        out: builtins.list[Entry] = []
        for tk, obj, deleting in changes:
            md = obj["metadata"]
            ns, name = md.get("namespace", "") or "", md["name"]
            self.revision += 1
            rv = self.revision
            md["resourceVersion"] = str(rv)
            raw = orjson.dumps(obj)
            entry = self._entry(tk, rv, raw, obj)
            prev = self.get(tk, ns, name)
            if prev is not None:
                self._unindex(tk, prev)
            if deleting:
                writes.append(Write(storage_key(tk, ns, name), rv, None))
                events.append(Event(rv, tk, "DELETED", entry, prev))
            else:
                self._index(tk, entry)
                writes.append(Write(storage_key(tk, ns, name), rv, raw))
                events.append(Event(rv, tk, "MODIFIED" if prev is not None else "ADDED", entry, prev))
            out.append(entry)
        fut = self._enqueue(writes, events)
        await asyncio.shield(fut)
        return out

    def _enqueue(self, writes: builtins.list[Write], events: builtins.list[Event]) -> asyncio.Future[None]:
        """Join the batch that is flushed to storage at the end of this loop iteration: one
        transaction and one thread hand-off for all writes made concurrently."""
        if self._batch is None:
            loop = asyncio.get_running_loop()
            self._batch = ([], [], loop.create_future())
            loop.call_soon(self._flush)
        self._batch[0].extend(writes)
        self._batch[1].extend(events)
        return self._batch[2]

    def _flush(self) -> None:
        assert self._batch is not None
        writes, events, waiter = self._batch
        self._batch = None
        fut = self.storage.submit(writes, self.revision)

        def done(f: asyncio.Future[None]) -> None:
            exc = f.exception()
            if exc is None:
                self._publish(events)
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)
        fut.add_done_callback(done)

    # ---- watch ---------------------------------------------------------------------------
    def _publish(self, events: builtins.list[Event]) -> None:
        for ev in events:
            self.history.append(ev)
            if len(self.history) > self.history_max:
                old = self.history.popleft()
                self.history_start = old.rv
            self._fan_out(ev)
            for listener in self.listeners:
                listener(ev)

    def _fan_out(self, ev: Event) -> None:
        for w in self.watchers.get(ev.tk, ()):
            line = self._line_for(w, ev)
            if line is None:
                continue
            if w.queue.qsize() >= self.max_queue:
                # a consumer this slow is cut off; it resumes with a new watch
                self._close(w)
                continue
            w.queue.put_nowait(line)

    @staticmethod
    def _line_for(w: Watcher, ev: Event) -> bytes | None:
        e = ev.entry
        if w.namespace and e.namespace != w.namespace:
            return None
        now = w.match(e) if ev.type != "DELETED" else False
        before = ev.prev is not None and w.match(ev.prev)
        if ev.type == "DELETED":
            if not (before or w.match(e)):
                return None
            kind = "DELETED"
        elif now and before:
            kind = "MODIFIED"
        elif now:
            kind = "ADDED"
        elif before:
            kind = "DELETED"
        else:
            return None
        return b'{"type":"' + kind.encode() + b'","object":' + e.raw + b"}\n"

    def add_watcher(self, tk: TypeKey, namespace: str | None, match: Callable[[Entry], bool],
                    since: int | None) -> Watcher:
        """Register a watcher. `since=None` starts with ADDED events for the current state."""
        w = Watcher(tk, namespace, match)
        if since is None:
            for e in self.list(tk, namespace):
                if match(e):
                    w.queue.put_nowait(b'{"type":"ADDED","object":' + e.raw + b"}\n")
        else:
            if since < self.history_start:
                raise TooOld(f"too old resource version: {since} ({self.history_start + 1})")
            for ev in self.history:
                if ev.rv > since and ev.tk == tk:
                    line = self._line_for(w, ev)
                    if line is not None:
                        w.queue.put_nowait(line)
        self.watchers.setdefault(tk, []).append(w)
        return w

    def _close(self, w: Watcher) -> None:
        if not w.closed:
            w.closed = True
            w.queue.put_nowait(None)
            lst = self.watchers.get(w.tk)
            if lst and w in lst:
                lst.remove(w)

    def remove_watcher(self, w: Watcher) -> None:
        self._close(w)

    def close_all_watchers(self) -> None:
        for lst in list(self.watchers.values()):
            for w in list(lst):
                self._close(w)
