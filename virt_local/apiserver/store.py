"""The authoritative object store: in memory for reads, SQLite for durability, one global revision.

Objects are held as their serialized JSON bytes (what list, get and watch send) plus the few parsed
fields that selection and garbage collection need, which keeps memory low with many objects.

Invariants:
- Nothing is visible before it is committed. A write gets the next revision and goes to storage;
  memory (get, list, the indexes), watchers and listeners see it only once its transaction
  committed, in revision order, and its client is answered only then. A write that fails leaves
  memory exactly as it was and answers its client with a `Status` (500, naming the disk when it is
  full); reads keep being served from memory meanwhile.
- `revision` is the revision of the last committed write: lists and bookmarks never name a revision
  that may still be lost, so a watch resumed from one after a restart of the server misses nothing.
  A watch from a revision the server has not reached is refused as kube-apiserver does (504,
  `ResourceVersionTooLarge`), and the client relists.
- At most one write per object is in flight. A write to an object with a write in flight waits for
  it, then checks its precondition against what was committed: a create fails if the object exists,
  a write naming a `resourceVersion` fails with 409 Conflict unless it is still the stored one. So a
  write is never made over state that was not committed, and a failed write cannot leave a later
  one standing on it.
"""

from __future__ import annotations

import asyncio
import builtins
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import errors
from .storage import Storage, Write, WriteFailed

TypeKey = tuple[str, str]  # (group, plural)
ObjectKey = tuple[TypeKey, str, str]  # (type, namespace, name)
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


class TooLarge(Exception):
    """A watch from a revision this server has not reached (its state is older than the client's)."""


@dataclass(frozen=True)
class Change:
    """One object written in a commit: its new state, or its final state when `deleting`.

    `create` requires that the object does not exist; otherwise a `metadata.resourceVersion` in `obj`
    requires that it is still the stored one (a write without one is unconditional)."""

    tk: TypeKey
    obj: dict[str, Any]
    deleting: bool = False
    create: bool = False


def storage_key(tk: TypeKey, namespace: str, name: str) -> str:
    return f"{tk[0]}|{tk[1]}|{namespace}|{name}"


def _split_key(key: str) -> tuple[TypeKey, str, str]:
    g, p, ns, n = key.split("|", 3)
    return (g, p), ns, n


class Store:
    def __init__(self, storage: Storage, *, history: int = 10000, max_queue: int = 20000) -> None:
        self.storage = storage
        self.revision = storage.revision()  # of the last committed write
        self._assigned = self.revision  # the last revision handed out (committed or in flight)
        self._in_flight: dict[ObjectKey, asyncio.Future[None]] = {}
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
    async def put(self, tk: TypeKey, obj: dict[str, Any], *, create: bool = False) -> Entry:
        """Create or replace `obj` (its metadata names it). Returns the stored entry."""
        return (await self.commit([Change(tk, obj, create=create)]))[0]

    async def delete(self, tk: TypeKey, obj: dict[str, Any]) -> Entry:
        """Remove the object; `obj` is its final state, published with the deletion revision."""
        return (await self.commit([Change(tk, obj, deleting=True)]))[0]

    def in_flight(self) -> int:
        """How many objects have a write waiting for its commit."""
        return len(self._in_flight)

    async def commit(self, changes: Iterable[Change]) -> builtins.list[Entry]:
        """Write `changes` atomically; returns their entries once committed and published.

        Raises `errors.ApiError`: a failed precondition (404, 409) or a failed commit (500)."""
        changes = builtins.list(changes)
        keys = [_object_key(c) for c in changes]
        if len(set(keys)) != len(keys):
            raise ValueError("one commit writes each object once")
        while busy := [self._in_flight[k] for k in keys if k in self._in_flight]:
            await asyncio.wait(busy)
        # From here to the submission nothing awaits: the preconditions hold when the writes are queued.
        for c, (tk, ns, name) in zip(changes, keys, strict=True):
            _check_precondition(c, self.get(tk, ns, name))
        writes: builtins.list[Write] = []
        entries: builtins.list[Entry] = []
        for c, (tk, ns, name) in zip(changes, keys, strict=True):
            self._assigned += 1
            rv = self._assigned
            c.obj["metadata"]["resourceVersion"] = str(rv)
            raw = orjson.dumps(c.obj)
            entries.append(self._entry(tk, rv, raw, c.obj))
            writes.append(Write(storage_key(tk, ns, name), rv, None if c.deleting else raw))
        fut = self.storage.submit(writes, self._assigned)
        for k in keys:
            self._in_flight[k] = fut
        applied = [(c.tk, c.deleting, e) for c, e in zip(changes, entries, strict=True)]
        # added before anyone awaits `fut`: memory changes before the writer is answered
        fut.add_done_callback(lambda f: self._settle(f, keys, applied))
        try:
            await asyncio.shield(fut)
        except WriteFailed as e:
            raise errors.internal(e.message) from None
        return entries

    def _settle(self, fut: asyncio.Future[None], keys: builtins.list[ObjectKey],
                applied: builtins.list[tuple[TypeKey, bool, Entry]]) -> None:
        for k in keys:
            if self._in_flight.get(k) is fut:
                del self._in_flight[k]
        if fut.cancelled() or fut.exception() is not None:
            return  # nothing was stored: memory stays as it was
        events: builtins.list[Event] = []
        for tk, deleting, entry in applied:
            prev = self.get(tk, entry.namespace, entry.name)
            if prev is not None:
                self._unindex(tk, prev)
            if deleting:
                events.append(Event(entry.rv, tk, "DELETED", entry, prev))
            else:
                self._index(tk, entry)
                events.append(Event(entry.rv, tk, "MODIFIED" if prev is not None else "ADDED", entry, prev))
        self.revision = max(self.revision, applied[-1][2].rv)
        self._publish(events)

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
        if since is not None and since > self.revision:
            raise TooLarge(f"Too large resource version: {since}, current: {self.revision}")
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


def _object_key(c: Change) -> ObjectKey:
    md = c.obj["metadata"]
    return c.tk, md.get("namespace", "") or "", md["name"]


def _check_precondition(c: Change, cur: Entry | None) -> None:
    group, plural = c.tk
    name = c.obj["metadata"]["name"]
    if c.create:
        if cur is not None:
            raise errors.already_exists(plural, group, name)
        return
    base = c.obj["metadata"].get("resourceVersion")
    if not base:
        return
    if cur is None:
        raise errors.not_found(plural, group, name)
    if str(cur.rv) != str(base):
        raise errors.conflict(plural, group, name)
