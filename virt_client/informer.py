"""Informer: keeps a local cache of one resource in step with the API server (list, then watch).

Loop: list (paginated) → replace the cache → watch from the list's resourceVersion with bookmarks
→ when the stream ends or breaks, watch again from the last resourceVersion seen (event or
bookmark) → on `410 Gone` (history compacted, or the server lost it) or `ResourceVersionTooLarge`
(the server restarted with an older state than the one cached) list again. Transport and
server errors back off exponentially on the injected clock; nothing is retried in a tight loop.

Handlers are plain callables (they should only enqueue keys) and receive read-only objects:
`on_add(new)`, `on_update(old, new)`, `on_delete(last_known)`. A relist turns into adds, updates
(only where the resourceVersion changed) and deletes (objects gone while we were not watching).
A periodic resync (if configured) calls `on_update(obj, obj)` for every cached object.

Invariants:
- One resourceVersion of one object is delivered at most once (watch replays of the version
  already cached are dropped), so a restart of the server does not cause duplicate processing.
- `has_synced()` turns true after the first complete list and stays true.
- Handlers run on the informer's task, in event order; an exception in a handler is logged and
  does not stop the informer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from virt_client.clock import Clock, RealClock
from virt_client.errors import ApiError, Gone, TransportError
from virt_client.indexer import NAMESPACE_INDEX, FrozenDict, IndexFunc, Store, by_namespace, object_key
from virt_client.kube_api import KubeApi
from virt_client.metrics import INFORMER_EVENTS, INFORMER_RELISTS
from virt_client.resources import ResourceRef

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventHandler:
    """Callbacks for cache changes; any of them may be omitted."""

    on_add: Callable[[FrozenDict], None] | None = None
    on_update: Callable[[FrozenDict, FrozenDict], None] | None = None
    on_delete: Callable[[FrozenDict], None] | None = None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # A decoded page is a tree of fresh, acyclic containers: generational collections triggered
    # while building it only rescan it, tripling the decode time of a large list.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Informer:
    """A watched, indexed, read-only cache of one resource (optionally one namespace/selector)."""

    def __init__(
        self,
        client: KubeApi,
        ref: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float = 0.0,
        indexers: Mapping[str, IndexFunc] | None = None,
        clock: Clock | None = None,
        page_size: int = 2000,
        watch_timeout_seconds: int | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
    ) -> None:
        self.client = client
        self.ref = ref
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.page_size = page_size
        self.watch_timeout_seconds = watch_timeout_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._clock = clock or RealClock()
        self.store = Store({NAMESPACE_INDEX: by_namespace, **(indexers or {})})
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        self._rv = ""
        self._resource = str(ref)

    # -- public -------------------------------------------------------------------------------

    def add_handler(self, handler: EventHandler) -> None:
        """Register callbacks; objects already cached are replayed to it as adds."""
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.store.objects():
                self._call(handler.on_add, obj)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_synced(self, timeout_seconds: float | None = None) -> bool:
        """Wait for the first complete list; False if it did not happen in time."""
        try:
            async with asyncio.timeout(timeout_seconds):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    def get(self, key: str) -> FrozenDict | None:
        return self.store.get(key)

    def by_index(self, index: str, value: str) -> list[FrozenDict]:
        return self.store.by_index(index, value)

    async def run(self) -> None:
        """List and watch until cancelled."""
        async with asyncio.TaskGroup() as tg:
            if self.resync_period > 0:
                tg.create_task(self._resync_loop())
            await self._list_watch_loop()

    # -- list and watch -----------------------------------------------------------------------

    async def _list_watch_loop(self) -> None:
        # A run() restarted after a complete list resumes the watch where it stopped.
        need_list = not (self._synced.is_set() and self._rv)
        failures = 0
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                    failures = 0
                if await self._watch():
                    failures = 0
                continue
            except Gone as e:
                log.info("%s: resourceVersion %s expired (%s); relisting", self._resource, self._rv, e.message)
                need_list = True
                continue
            except (TransportError, ApiError) as e:
                if isinstance(e, ApiError) and _too_large(e):
                    log.warning("%s: the server is behind resourceVersion %s (%s); relisting", self._resource,
                                self._rv, e.message)
                    need_list = True
                    continue
                level = logging.DEBUG if failures == 0 and not need_list else logging.WARNING
                log.log(level, "%s: %s failed: %s", self._resource, "list" if need_list else "watch", e)
            failures += 1
            await self._clock.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        delay = min(self.backoff_max, self.backoff_initial * float(2 ** min(failures - 1, 20)))
        return delay * random.uniform(0.8, 1.2)

    async def _list(self) -> None:
        INFORMER_RELISTS.labels(self._resource).inc()
        seen: set[str] = set()
        continue_token: str | None = None
        list_rv = ""
        while True:
            raw = await self.client.list_bytes(
                self.ref,
                self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=self.page_size,
                continue_token=continue_token,
                request_timeout=300,
            )
            with _gc_paused():
                page = orjson.loads(raw)
                del raw
                metadata = page.get("metadata") or {}
                if not list_rv:
                    list_rv = str(metadata.get("resourceVersion") or "")
                for obj in page.get("items") or ():
                    seen.add(self._apply_listed(obj))
                del page
            continue_token = metadata.get("continue") or None
            if not continue_token:
                break
        for key in [k for k in self.store.keys() if k not in seen]:
            old = self.store.get(key)
            self.store.delete(key)
            if old is not None:
                self._dispatch_delete(old)
        self._rv = list_rv
        if not self._synced.is_set():
            log.info("%s: synced, %d objects at resourceVersion %s", self._resource, len(self.store), list_rv)
            self._synced.set()

    def _apply_listed(self, obj: dict[str, Any]) -> str:
        # List items lack kind/apiVersion; restore them so cached objects are self-describing.
        if "kind" not in obj and self.ref.kind:
            obj["kind"] = self.ref.kind
            obj["apiVersion"] = self.ref.api_version
        key = object_key(obj)
        self._upsert(key, obj)
        return key

    async def _watch(self) -> bool:
        """Watch until the stream ends; True if at least one event arrived."""
        timeout = self.watch_timeout_seconds or random.randint(300, 600)
        got_event = False
        stream = self.client.watch(
            self.ref,
            self.namespace,
            resource_version=self._rv or None,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=timeout,
        )
        async with contextlib.aclosing(stream):
            async for event in stream:
                got_event = True
                obj = event.object
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                if event.type == "BOOKMARK":
                    if rv:
                        self._rv = rv
                    continue
                INFORMER_EVENTS.labels(self._resource, event.type).inc()
                key = object_key(obj)
                if event.type in ("ADDED", "MODIFIED"):
                    self._upsert(key, obj)
                elif event.type == "DELETED":
                    if key in self.store:
                        self.store.delete(key)
                        self._dispatch_delete(FrozenDict(obj))
                if rv:
                    self._rv = rv
        return got_event

    def _upsert(self, key: str, obj: dict[str, Any]) -> None:
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        old_rv = self.store.resource_version(key)
        if old_rv is not None and old_rv == rv:
            return  # this version is cached and was delivered already
        old = self.store.get(key) if old_rv is not None else None
        self.store.put(key, obj)
        new = FrozenDict(obj)
        for handler in self._handlers:
            if old is None:
                if handler.on_add is not None:
                    self._call(handler.on_add, new)
            elif handler.on_update is not None:
                self._call(handler.on_update, old, new)

    def _dispatch_delete(self, obj: FrozenDict) -> None:
        for handler in self._handlers:
            if handler.on_delete is not None:
                self._call(handler.on_delete, obj)

    async def _resync_loop(self) -> None:
        await self._synced.wait()
        while True:
            await self._clock.sleep(self.resync_period)
            for key in self.store.keys():
                obj = self.store.get(key)
                if obj is None:
                    continue
                for handler in self._handlers:
                    if handler.on_update is not None:
                        self._call(handler.on_update, obj, obj)

    def _call(self, func: Callable[..., None], *args: FrozenDict) -> None:
        try:
            func(*args)
        except Exception:
            log.exception("%s: event handler %r failed", self._resource, func)


def _too_large(e: ApiError) -> bool:
    return any(c.reason == "ResourceVersionTooLarge" for c in e.causes)


async def wait_for_cache_sync(informers: Sequence[Informer], timeout_seconds: float | None = None) -> bool:
    """Wait until every informer has synced; False if one did not in time."""
    try:
        async with asyncio.timeout(timeout_seconds):
            for informer in informers:
                await informer.wait_for_synced()
    except TimeoutError:
        return False
    return True
