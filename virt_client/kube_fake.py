"""`FakeKube`: an in-memory `KubeApi` with the semantics of a real API server, for unit tests of the
I/O shells (reconcilers, request handlers), as controller-runtime's fake client is for Go.

What it keeps as kube-apiserver does (and `tests/integration/virt_client/test_kube_fake_parity.py`
checks against virt-local's server): uid, resourceVersion (one counter for all kinds),
creationTimestamp and generation (moved only by spec changes); generateName; `AlreadyExists`,
`NotFound` and `Conflict` (a stale `metadata.resourceVersion` in an update or a patched body);
the status subresource of the kinds in `status_subresources` (create and update drop status
changes, `update_status` and status patches change only status); JSON patch (a failed `test` is
kube-apiserver's 422 Invalid with "testing value ... failed: test failed" as its cause), merge and strategic-merge patch; finalizers
(delete marks `deletionTimestamp`, the object goes once they are empty) and graceful deletion of
bound Pods; delete preconditions; label and field selectors; watches with ADDED/MODIFIED/DELETED in
order (an object leaving a selector is DELETED for that watch), resumable from a resourceVersion,
410 Gone once `compact()` dropped it; dry run, which stores and notifies nothing.

The per-object rules (system fields, update merge, Status errors) are in `object_rules.py`, the patch
algorithms in `patches.py` and the selectors in `selectors.py`, the same code virt-local's API
server runs.

Not modelled: namespaces as objects (any namespace exists), admission, validation beyond names,
RBAC, garbage collection of dependents, bookmarks; lists always serve the latest state (a list's
`resource_version` argument is accepted and ignored).

Test-facing API: `seed()` stores objects without recording a write, `stored()`/`objects()` read the
store, `writes` records every accepted write (`Write`, dry runs flagged) and `fail()` makes the
next matching request raise a given error.
"""

from __future__ import annotations

import asyncio
import copy
import random
import uuid
from collections.abc import AsyncGenerator, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from virt_client import resources as r
from virt_client.api.json_patch import patch_apply_failure
from virt_client.api.status import failure_status, success_status
from virt_client.api.times import rfc3339
from virt_client.clock import Clock, RealClock
from virt_client.errors import ClientError, error_from_status
from virt_client.kube import KubeClient, PatchType, WatchEvent, encode
from virt_client.kube_api import KubeApi
from virt_client.object_rules import (
    BUILTIN_GROUPS,
    STATUS_SUBRESOURCES,
    SYSTEM_FIELDS,
    check_new_name,
    conflict,
    metadata_changes_allowed,
    not_found,
    prepare_create,
    prepare_status_update,
    prepare_update,
    resource_name,
    status_error,
)
from virt_client.patches import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    builtin_merge_key_lookup,
)
from virt_client.resources import ResourceRef
from virt_client.selectors import SelectorError, parse_field_selector, parse_label_selector

Key = tuple[str, str, str, str]  # group, plural, namespace ("" when cluster-scoped), name
Entries = list[tuple[Key, dict[str, Any]]]  # `FakeKube.list` hides the builtin inside the class
Objects = list[dict[str, Any]]
ObjectPredicate = Callable[[Mapping[str, Any]], bool]
Writes = list["Write"]


@dataclass(frozen=True)
class Write:
    """One accepted write: the verb, where, and the request body as sent (a patch for `patch`)."""

    verb: str  # create | update | update_status | patch | delete | create_subresource
    ref: ResourceRef
    namespace: str | None
    name: str
    body: Any
    subresource: str | None = None
    patch_type: PatchType | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class _Event:
    rv: int
    type: str
    group_plural: tuple[str, str]
    namespace: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


@dataclass
class _Failure:
    verb: str
    ref: ResourceRef
    name: str | None
    error: Exception
    times: int


Failures = list[_Failure]
Events = list[_Event]


@dataclass
class _Watchers:
    changed: asyncio.Event = field(default_factory=asyncio.Event)


def _plain(body: Any) -> Any:
    """A private deep copy of a JSON body (read-only cached objects included)."""
    return orjson.loads(encode(body))


def _field(obj: Mapping[str, Any], path: str) -> str | None:
    """The string value of a dotted field path (`spec.nodeName`), None when the object has none; the
    fake serves every such path, where a real server answers 400 for a field it does not index."""
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


class FakeKube:
    """An in-memory API server behind the `KubeApi` verbs. Construct with keyword arguments only."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        status_subresources: Collection[ResourceRef] = STATUS_SUBRESOURCES,
        seed: int = 0,
    ) -> None:
        self._clock = clock or RealClock()
        self._with_status = {(ref.group, ref.plural) for ref in status_subresources}
        self._random = random.Random(seed)
        self._objects: dict[Key, dict[str, Any]] = {}
        self._events: Events = []
        # "0" means "any version" to a watch or list, so an empty store is already at version 1.
        self._rv = 1
        self._compacted = self._rv
        self._failures: Failures = []
        self._watchers = _Watchers()
        self.writes: Writes = []

    # -- test-facing API --------------------------------------------------------------------------

    def seed(self, ref: ResourceRef, obj: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Store an object as if created earlier, no write recorded; return it. Status and the system
        fields given (uid, creationTimestamp, deletionTimestamp, generation) are kept."""
        given = _plain(obj)
        stored = self._prepare_create(ref, copy.deepcopy(given), namespace, has_status=False)
        for f in SYSTEM_FIELDS:
            if f in (given.get("metadata") or {}):
                stored["metadata"][f] = given["metadata"][f]
        if self._key(ref, stored["metadata"].get("namespace"), stored["metadata"]["name"]) in self._objects:
            raise ValueError(f"{ref} {stored['metadata']['name']} is already stored")
        self._commit(ref, stored, None)
        return copy.deepcopy(stored)

    def stored(self, ref: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        obj = self._objects.get(self._key(ref, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def objects(self, ref: ResourceRef, namespace: str | None = None) -> Objects:
        """Stored objects of a collection, sorted by namespace and name."""
        return [copy.deepcopy(o) for _, o in self._collection(ref, namespace)]

    def writes_of(self, verb: str | None = None, ref: ResourceRef | None = None, *,
                  dry_run: bool | None = False) -> Writes:
        """Recorded writes filtered by verb, resource and dry run (None: both)."""
        return [w for w in self.writes if (verb is None or w.verb == verb) and (ref is None or w.ref == ref)
                and (dry_run is None or w.dry_run == dry_run)]

    def fail(self, verb: str, ref: ResourceRef, error: Exception, *, name: str | None = None, times: int = 1) -> None:
        """Make the next `times` calls of `verb` on `ref` (and `name`, when given) raise `error`."""
        self._failures.append(_Failure(verb, ref, name, error, times))

    def compact(self) -> None:
        """Forget the watch history: resuming from an older resourceVersion is 410 Gone."""
        self._events.clear()
        self._compacted = self._rv

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    # -- reads ------------------------------------------------------------------------------------

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any]:
        self._maybe_fail("get", ref, name)
        return copy.deepcopy(self._existing(ref, namespace, name))

    async def list(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        self._maybe_fail("list", ref, None)
        match = self._matcher(label_selector, field_selector)
        items = [(k, o) for k, o in self._collection(ref, namespace) if match(o)]
        if continue_token:
            items = [(k, o) for k, o in items if "/".join(k[2:]) > continue_token]
        metadata: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if limit and len(items) > limit:
            items = items[:limit]
            metadata["continue"] = "/".join(items[-1][0][2:])
        return {"apiVersion": ref.api_version, "kind": f"{ref.kind}List", "metadata": metadata,
                "items": [copy.deepcopy(o) for _, o in items]}

    async def list_bytes(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
        request_timeout: float | None = None,
    ) -> bytes:
        listed = await self.list(ref, namespace, label_selector=label_selector, field_selector=field_selector,
                                 limit=limit, continue_token=continue_token, resource_version=resource_version)
        return orjson.dumps(listed)

    async def watch(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> AsyncGenerator[WatchEvent, None]:
        self._maybe_fail("watch", ref, None)
        match = self._matcher(label_selector, field_selector)
        if resource_version in (None, "", "0"):
            last = self._rv
            for _, obj in self._collection(ref, namespace):
                if match(obj):
                    yield WatchEvent("ADDED", copy.deepcopy(obj))
        else:
            last = int(resource_version)
            if last < self._compacted:
                raise status_error(410, "Expired", ref, "", f"too old resource version: {last} ({self._compacted})")
        gp, ns = (ref.group, ref.plural), (namespace or "") if ref.namespaced else ""
        try:
            async with asyncio.timeout(timeout_seconds):
                while True:
                    changed = self._watchers.changed
                    for event in [e for e in self._events if e.rv > last]:
                        last = event.rv
                        if event.group_plural != gp or (ns and event.namespace != ns):
                            continue
                        etype = _seen_as(event, match)
                        if etype:
                            yield WatchEvent(etype, copy.deepcopy(event.obj))
                    await changed.wait()
        except TimeoutError:
            return

    # -- writes -----------------------------------------------------------------------------------

    async def create(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        obj = self._prepare_create(ref, _plain(body), namespace, has_status=self._has_status(ref))
        name = obj["metadata"]["name"]
        self._maybe_fail("create", ref, name)
        if self._key(ref, obj["metadata"].get("namespace"), name) in self._objects:
            raise status_error(409, "AlreadyExists", ref, name, f'{resource_name(ref)} "{name}" already exists')
        if not dry_run:
            self._commit(ref, obj, None)
        self._record("create", ref, obj, body, dry_run=dry_run)
        return copy.deepcopy(obj)

    async def update(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        return await self._put(ref, _plain(body), namespace, status=False, dry_run=dry_run, verb="update", sent=body)

    async def update_status(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        if (ref.group, ref.plural) not in self._with_status:
            raise not_found(ref, str((body.get("metadata") or {}).get("name", "")))
        return await self._put(ref, _plain(body), namespace, status=True, dry_run=dry_run, verb="update_status",
                               sent=body)

    async def patch(
        self,
        ref: ResourceRef,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        self._maybe_fail("patch", ref, name)
        if subresource not in (None, "status") or (subresource and (ref.group, ref.plural) not in self._with_status):
            raise not_found(ref, name)
        current = self._existing(ref, namespace, name)
        try:
            if patch_type == "json":
                patched = apply_json_patch(current, _plain(patch))
            elif patch_type == "strategic":
                if ref.group not in BUILTIN_GROUPS:
                    raise status_error(415, "UnsupportedMediaType", ref, name,
                                  "the body of the request was in an unknown format - accepted media types "
                                  "include: application/json-patch+json, application/merge-patch+json, "
                                  "application/apply-patch+yaml")
                patched = apply_strategic_merge_patch(current, _plain(patch), builtin_merge_key_lookup(ref.kind))
            else:
                patched = apply_merge_patch(current, _plain(patch))
        except PatchError as e:
            body = (patch_apply_failure(e.message) if patch_type == "json"
                    else failure_status(422, e.message, "Invalid"))
            raise error_from_status(422, body) from None
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata", {}), dict):
            raise error_from_status(400, failure_status(400, "the patch must leave an object", "BadRequest"))
        md = patched.setdefault("metadata", {})
        if md.get("resourceVersion") not in (None, current["metadata"]["resourceVersion"]):
            raise conflict(ref, name)
        md["resourceVersion"] = current["metadata"]["resourceVersion"]
        return await self._put(ref, patched, namespace, status=subresource == "status", dry_run=dry_run,
                               verb="patch", sent=patch, subresource=subresource, patch_type=patch_type, checked=True)

    async def delete(
        self,
        ref: ResourceRef,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        self._maybe_fail("delete", ref, name)
        old = self._existing(ref, namespace, name)
        md = old["metadata"]
        if uid and uid != md["uid"]:
            raise conflict(ref, name, f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                                      f"{md['uid']}")
        if resource_version and resource_version != md["resourceVersion"]:
            raise conflict(ref, name, f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                                      f"ResourceVersion in object meta: {md['resourceVersion']}")
        body = {k: v for k, v in (("gracePeriodSeconds", grace_period_seconds),
                                  ("propagationPolicy", propagation_policy)) if v is not None}
        self._record("delete", ref, old, body, dry_run=dry_run)
        obj = copy.deepcopy(old)
        md = obj["metadata"]
        grace = grace_period_seconds
        if ref == r.PODS:
            grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30) if grace is None else grace
            bound = (obj.get("spec") or {}).get("nodeName")
            if grace and bound and (obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                current_grace = md.get("deletionGracePeriodSeconds")
                if md.get("deletionTimestamp") and current_grace is not None and current_grace <= grace:
                    return obj
                md["deletionTimestamp"] = md.get("deletionTimestamp") or self._now()
                md["deletionGracePeriodSeconds"] = int(grace)
                return self._commit(ref, obj, old) if not dry_run else obj
            md.pop("deletionGracePeriodSeconds", None)
        if md.get("finalizers"):
            if md.get("deletionTimestamp"):
                return obj
            md["deletionTimestamp"] = self._now()
            md["deletionGracePeriodSeconds"] = 0
            return self._commit(ref, obj, old) if not dry_run else obj
        md["deletionTimestamp"] = md.get("deletionTimestamp") or self._now()
        md.setdefault("deletionGracePeriodSeconds", 0)
        return self._remove(ref, obj) if not dry_run else obj

    async def create_subresource(
        self,
        ref: ResourceRef,
        name: str,
        subresource: str,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """`pods/binding` (sets the node and PodScheduled) and `pods/eviction` (a delete)."""
        self._maybe_fail("create_subresource", ref, name)
        namespace = namespace or (body.get("metadata") or {}).get("namespace")
        pod = self._existing(ref, namespace, name)
        if ref == r.PODS and subresource == "binding":
            if (pod.get("spec") or {}).get("nodeName"):
                raise conflict(ref, name, f"pod {name} is already assigned to node "
                                          f'"{pod["spec"]["nodeName"]}"')
            node = str((body.get("target") or {}).get("name", ""))
            bound = copy.deepcopy(pod)
            bound.setdefault("spec", {})["nodeName"] = node
            conditions = [c for c in (bound.setdefault("status", {}).get("conditions") or [])
                          if c.get("type") != "PodScheduled"]
            bound["status"]["conditions"] = [*conditions, {"type": "PodScheduled", "status": "True",
                                                           "lastTransitionTime": self._now()}]
            self._record("create_subresource", ref, pod, body, dry_run=dry_run, subresource=subresource)
            if not dry_run:
                self._commit(ref, bound, pod)
            return success_status(201)
        if ref == r.PODS and subresource == "eviction":
            grace = ((body.get("deleteOptions") or {}).get("gracePeriodSeconds"))
            self._record("create_subresource", ref, pod, body, dry_run=dry_run, subresource=subresource)
            await self.delete(ref, name, namespace, grace_period_seconds=grace, dry_run=dry_run)
            return success_status(201)
        raise not_found(ref, name)

    # -- the store --------------------------------------------------------------------------------

    async def _put(self, ref: ResourceRef, body: dict[str, Any], namespace: str | None, *, status: bool,
                   dry_run: bool, verb: str, sent: Any, subresource: str | None = None,
                   patch_type: PatchType | None = None, checked: bool = False) -> dict[str, Any]:
        md = body.get("metadata") or {}
        name = str(md.get("name") or "")
        if not name:
            raise ClientError("the object has no metadata.name")
        if not checked:
            self._maybe_fail(verb, ref, name)
        old = self._existing(ref, namespace or md.get("namespace"), name)
        if md.get("resourceVersion") and md["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(ref, name)
        for cause in metadata_changes_allowed(body, old):
            raise status_error(422, "Invalid", ref, name,
                               f'{ref.kind} "{name}" is invalid: {cause["field"]}: {cause["message"]}')
        if status:
            obj = prepare_status_update(body, old)
        else:
            obj = prepare_update(body, old, has_status_subresource=self._has_status(ref), api_version=ref.api_version,
                                 kind=ref.kind)
        self._record(verb, ref, old, sent, dry_run=dry_run, subresource=subresource, patch_type=patch_type)
        if obj == old or dry_run:
            return obj
        if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
            return self._remove(ref, obj)
        return self._commit(ref, obj, old)

    def _prepare_create(self, ref: ResourceRef, obj: dict[str, Any], namespace: str | None, *,
                        has_status: bool) -> dict[str, Any]:
        md = obj.get("metadata") or {}
        ns = ""
        if ref.namespaced:
            ns = namespace or md.get("namespace") or ""
            if not ns:
                raise ClientError(f"{ref} is namespaced: give a namespace or metadata.namespace")
        out = prepare_create(obj, namespace=ns, now=self._now(), new_uid=self._new_uid, has_status_subresource=has_status,
                             api_version=ref.api_version, kind=ref.kind, rnd=self._random)
        check_new_name(ref, out["metadata"].get("name") or "")
        return out

    def _new_uid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def _has_status(self, ref: ResourceRef) -> bool:
        return (ref.group, ref.plural) in self._with_status

    def _commit(self, ref: ResourceRef, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[self._key(ref, obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
        self._notify(ref, "ADDED" if old is None else "MODIFIED", obj, old)
        return copy.deepcopy(obj)

    def _remove(self, ref: ResourceRef, obj: dict[str, Any]) -> dict[str, Any]:
        old = self._objects.pop(self._key(ref, obj["metadata"].get("namespace"), obj["metadata"]["name"]))
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._notify(ref, "DELETED", obj, old)
        return copy.deepcopy(obj)

    def _notify(self, ref: ResourceRef, etype: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        ns = obj["metadata"].get("namespace") or ""
        self._events.append(_Event(self._rv, etype, (ref.group, ref.plural), ns, copy.deepcopy(obj), old))
        self._watchers.changed.set()
        self._watchers = _Watchers()

    def _record(self, verb: str, ref: ResourceRef, obj: Mapping[str, Any], body: Any, *, dry_run: bool,
                subresource: str | None = None, patch_type: PatchType | None = None) -> None:
        md = obj["metadata"]
        self.writes.append(Write(verb, ref, md.get("namespace"), md["name"], _plain(body), subresource,
                                 patch_type, dry_run))

    def _key(self, ref: ResourceRef, namespace: str | None, name: str) -> Key:
        if ref.namespaced and not namespace:
            raise ClientError(f"{ref} is namespaced: give a namespace or metadata.namespace")
        return ref.group, ref.plural, (namespace or "") if ref.namespaced else "", name

    def _existing(self, ref: ResourceRef, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._objects.get(self._key(ref, namespace, name))
        if obj is None:
            raise not_found(ref, name)
        return obj

    def _collection(self, ref: ResourceRef, namespace: str | None) -> Entries:
        ns = (namespace or "") if ref.namespaced else ""
        return sorted((k, o) for k, o in self._objects.items()
                      if k[:2] == (ref.group, ref.plural) and (not ns or k[2] == ns))

    def _matcher(self, label_selector: str | None, field_selector: str | None) -> ObjectPredicate:
        try:
            labels, fields = parse_label_selector(label_selector or ""), parse_field_selector(field_selector or "")
        except SelectorError as e:
            raise error_from_status(400, failure_status(400, f"unable to parse requirement: {e.message}",
                                                        "BadRequest")) from None

        def match(obj: Mapping[str, Any]) -> bool:
            md = obj.get("metadata") or {}
            return labels.matches(md.get("labels")) and fields.matches(lambda path: _field(obj, path))

        return match

    def _maybe_fail(self, verb: str, ref: ResourceRef, name: str | None) -> None:
        for failure in self._failures:
            if failure.verb == verb and failure.ref == ref and failure.name in (None, name):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise failure.error

    def _now(self) -> str:
        return rfc3339(self._clock.now())


def _seen_as(event: _Event, match: ObjectPredicate) -> str | None:
    """How a watch with a selector sees an event: leaving the selector is DELETED, entering ADDED."""
    now = match(event.obj)
    if event.type != "MODIFIED":
        return event.type if now else None
    before = event.old is not None and match(event.old)
    if now:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else None


if TYPE_CHECKING:

    def _both_are_kube_apis(client: KubeClient, fake: FakeKube) -> tuple[KubeApi, KubeApi]:
        """mypy proves here that both implementations satisfy the protocol."""
        return client, fake
