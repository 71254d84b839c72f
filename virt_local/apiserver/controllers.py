"""The API server's own controllers: bootstrap objects, garbage collection by ownerReferences
(background, foreground, orphan), namespace termination, per-namespace defaults and the
APIService availability checks.

They react to store events through one queue and a single worker, so their writes are ordered;
a periodic sweep repairs anything an event could not finish (e.g. after a restart). Every 5 s,
also while events keep coming, each aggregated APIService's `Available` condition is set from a
discovery request to its backend (`GET /apis/<group>/<version>`, over the proxy's pools), as
kube-aggregator's availability controller does; the condition is written only when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from virt_client.api.times import now_rfc3339

from . import deletion, errors, rest
from .apiservices import APIServices, backend
from .backend_pool import BackendError
from .rbac import bootstrap_policy
from .registry import ResourceTable
from .resources import ResourceInfo
from .service_resolver import ServiceResolver
from .store import Entry, Event, Store, TypeKey

log = logging.getLogger("virt_local.apiserver.controllers")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
AVAILABILITY_SECONDS = 5.0
DISCOVERY_TIMEOUT = 5.0
APISERVICES: TypeKey = ("apiregistration.k8s.io", "apiservices")


class APIServiceAvailability:
    """The `Available` condition of each aggregated APIService, from a discovery request to its backend."""

    def __init__(self, *, store: Store, apiservices: APIServices, resolver: ServiceResolver,
                 timeout: float = DISCOVERY_TIMEOUT) -> None:
        self._store = store
        self._apiservices = apiservices
        self._resolver = resolver
        self._timeout = timeout

    async def check(self) -> None:
        for (g, v), apiservice in list(self._apiservices.by_group_version.items()):
            ok, reason, message = True, "Passed", "all checks passed"
            try:
                status, target = await self._discover(apiservice, g, v)
                if status >= 300:
                    ok, reason = False, "FailedDiscoveryCheck"
                    message = f"failing or missing response from https://{target}/apis/{g}/{v}: " \
                              f"bad status from https://{target}/apis/{g}/{v}: {status}"
            except errors.ApiError as e:
                ok, reason, message = False, "ServiceNotFound", e.message
            except (BackendError, TimeoutError) as e:
                ok, reason = False, "FailedDiscoveryCheck"
                message = f"failing or missing response: {str(e) or 'timed out'}"
            await self._set_available(apiservice["metadata"]["name"], ok, reason, message)

    async def _discover(self, apiservice: dict[str, Any], group: str, version: str) -> tuple[int, str]:
        """The status of the backend's discovery document, and the address asked."""
        svc = backend(apiservice)
        target = self._resolver.resolve(svc.namespace, svc.name, svc.port)
        pool = self._apiservices.pool(apiservice, target, svc.server_name)

        async def ask() -> int:
            resp = await pool.request("GET", f"/apis/{group}/{version}", [("Accept", "application/json")], b"")
            await resp.read()
            return resp.status

        return await asyncio.wait_for(ask(), self._timeout), target

    async def _set_available(self, name: str, ok: bool, reason: str, message: str) -> None:
        e = self._store.get(APISERVICES, "", name)
        if e is None:
            return
        obj = e.obj()
        want = "True" if ok else "False"
        conds = (obj.get("status") or {}).get("conditions") or []
        cur = next((c for c in conds if c.get("type") == "Available"), None)
        if cur and cur.get("status") == want and cur.get("reason") == reason:
            return
        obj["status"] = {"conditions": [{"type": "Available", "status": want, "reason": reason, "message": message,
                                         "lastTransitionTime": now_rfc3339()}]}
        await self._store.put(APISERVICES, obj)


class Controllers:
    def __init__(self, *, store: Store, ctx: rest.Ctx, resources: Callable[[], ResourceTable], ca_pem: bytes,
                 front_proxy_ca_pem: bytes, availability: APIServiceAvailability) -> None:
        self.store = store
        self._ctx = ctx
        self._resources = resources
        self._ca_pem = ca_pem
        self._front_proxy_ca_pem = front_proxy_ca_pem
        self._availability = availability
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    # ---- bootstrap -----------------------------------------------------------------------
    async def bootstrap(self) -> None:
        for ns in SYSTEM_NAMESPACES:
            if self.store.get(("", "namespaces"), "", ns) is None:
                await self._create(("", "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]},
                                                        "status": {"phase": "Active"}})
        for obj in bootstrap_policy():
            plural = {"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
                      "Role": "roles", "RoleBinding": "rolebindings"}[obj["kind"]]
            tk = ("rbac.authorization.k8s.io", plural)
            if self.store.get(tk, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) is None:
                await self._create(tk, obj)
        await self._ensure_extension_auth_configmap()
        for ns in SYSTEM_NAMESPACES:
            await self._namespace_defaults(ns)

    async def _create(self, tk: TypeKey, obj: dict[str, Any]) -> None:
        obj = dict(obj)
        md = dict(obj.get("metadata") or {})
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", now_rfc3339())
        obj["metadata"] = md
        await self.store.put(tk, obj, create=True)

    async def _ensure_extension_auth_configmap(self) -> None:
        data = {
            "client-ca-file": self._ca_pem.decode(),
            "requestheader-client-ca-file": self._front_proxy_ca_pem.decode(),
            "requestheader-allowed-names": '["front-proxy-client"]',
            "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
            "requestheader-group-headers": '["X-Remote-Group"]',
            "requestheader-username-headers": '["X-Remote-User"]',
            "requestheader-uid-headers": '["X-Remote-Uid"]',
        }
        cur = self.store.get(("", "configmaps"), "kube-system", "extension-apiserver-authentication")
        if cur is not None and cur.obj().get("data") == data:
            return
        obj = cur.obj() if cur else {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "extension-apiserver-authentication",
                                                  "namespace": "kube-system"}}
        obj["data"] = data
        await (self.store.put(("", "configmaps"), obj) if cur else self._create(("", "configmaps"), obj))

    async def _namespace_defaults(self, ns: str) -> None:
        if self.store.get(("", "serviceaccounts"), ns, "default") is None:
            await self._create(("", "serviceaccounts"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                                         "metadata": {"name": "default", "namespace": ns}})
        if self.store.get(("", "configmaps"), ns, "kube-root-ca.crt") is None:
            await self._create(("", "configmaps"), {
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": ns},
                "data": {"ca.crt": self._ca_pem.decode()}})

    # ---- event loop ----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.queue.put_nowait(None)  # initial sweep

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def on_event(self, ev: Event) -> None:
        self.queue.put_nowait(ev)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time()
        while True:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns an item that arrives as the
            # task is cancelled and drops the cancellation, and then stop() waits for ever.
            try:
                async with asyncio.timeout(max(0.0, min(5.0, next_check - loop.time()))):
                    ev = await self.queue.get()
            except TimeoutError:
                ev = None
            try:
                if loop.time() >= next_check:
                    # APIService availability every 5 s, also while events keep coming
                    next_check = loop.time() + AVAILABILITY_SECONDS
                    await self._availability.check()
                if ev is None:
                    await self.sweep()
                else:
                    await self._handle(ev)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed step is retried by the next sweep
                log.exception("controller step failed")

    async def _handle(self, ev: Event) -> None:
        group, plural = ev.tk
        e = ev.entry
        if (group, plural) == ("", "namespaces"):
            if ev.type == "ADDED":
                await self._namespace_defaults(e.name)
            elif ev.type == "MODIFIED" and b'"deletionTimestamp"' in e.raw:
                await self._terminate_namespace(e)
            return
        if ev.type == "DELETED":
            await self._collect_dependents(e.uid)
            for owner in e.owners:
                await self._check_foreground(owner)
            if e.namespace:
                ns = self.store.get(("", "namespaces"), "", e.namespace)
                if ns is not None and b'"deletionTimestamp"' in ns.raw:
                    await self._terminate_namespace(ns)
            return
        if b'"deletionTimestamp"' in e.raw and (b'"foregroundDeletion"' in e.raw or b'"orphan"' in e.raw):
            await self._process_deleting_owner(ev.tk, e)
        if e.owners and ev.type == "ADDED":
            # a dependent created after its owner went away is collected too
            if not any(o in self.store.by_uid for o in e.owners):
                await self._delete(ev.tk, e, "Background")

    async def sweep(self) -> None:
        for owner_uid in list(self.store.dependents):
            if owner_uid not in self.store.by_uid:
                await self._collect_dependents(owner_uid)
        for tk, items in list(self.store.objects.items()):
            for e in list(items.values()):
                if b'"deletionTimestamp"' in e.raw:
                    if tk == ("", "namespaces"):
                        await self._terminate_namespace(e)
                    elif b'"foregroundDeletion"' in e.raw or b'"orphan"' in e.raw:
                        await self._process_deleting_owner(tk, e)

    # ---- garbage collection --------------------------------------------------------------
    async def _delete(self, tk: TypeKey, e: Entry, policy: str) -> None:
        r = self._info(tk)
        if r is None:
            return
        cur = self.store.get(tk, e.namespace, e.name)
        if cur is None or cur.uid != e.uid:
            return
        try:
            await deletion.delete_entry(self._ctx, r, cur, {"propagationPolicy": policy}, dry_run=False)
        except Exception:  # noqa: BLE001
            log.exception("garbage collection of %s/%s failed", e.namespace, e.name)

    def _info(self, tk: TypeKey) -> ResourceInfo | None:
        for (g, _, p), r in self._resources().resources.items():
            if (g, p) == tk:
                return r
        return None

    async def _collect_dependents(self, owner_uid: str) -> None:
        for tk, ns, name in list(self.store.dependents.get(owner_uid, ())):
            dep = self.store.get(tk, ns, name)
            if dep is None:
                continue
            live = [o for o in dep.owners if o in self.store.by_uid]
            if not live:
                await self._delete(tk, dep, "Background")
            else:
                obj = dep.obj()
                obj["metadata"]["ownerReferences"] = [o for o in obj["metadata"].get("ownerReferences", [])
                                                      if o.get("uid") in self.store.by_uid]
                await self.store.put(tk, obj)

    async def _process_deleting_owner(self, tk: TypeKey, e: Entry) -> None:
        obj = e.obj()
        finalizers = list(obj["metadata"].get("finalizers") or [])
        deps = list(self.store.dependents.get(e.uid, ()))
        if "orphan" in finalizers:
            for dtk, ns, name in deps:
                dep = self.store.get(dtk, ns, name)
                if dep is None:
                    continue
                dobj = dep.obj()
                dobj["metadata"]["ownerReferences"] = [o for o in dobj["metadata"].get("ownerReferences", [])
                                                       if o.get("uid") != e.uid]
                if not dobj["metadata"]["ownerReferences"]:
                    del dobj["metadata"]["ownerReferences"]
                await self.store.put(dtk, dobj)
            await self._remove_finalizer(tk, e.namespace, e.name, "orphan")
            return
        if "foregroundDeletion" in finalizers:
            for dtk, ns, name in deps:
                dep = self.store.get(dtk, ns, name)
                if dep is not None and b'"deletionTimestamp"' not in dep.raw:
                    await self._delete(dtk, dep, "Foreground")
            await self._check_foreground(e.uid)

    async def _check_foreground(self, owner_uid: str) -> None:
        where = self.store.by_uid.get(owner_uid)
        if where is None:
            return
        tk, ns, name = where
        e = self.store.get(tk, ns, name)
        if e is None or b'"foregroundDeletion"' not in e.raw or b'"deletionTimestamp"' not in e.raw:
            return
        if self.store.dependents.get(owner_uid):
            return
        await self._remove_finalizer(tk, ns, name, "foregroundDeletion")

    async def _remove_finalizer(self, tk: TypeKey, ns: str, name: str, finalizer: str) -> None:
        e = self.store.get(tk, ns, name)
        if e is None:
            return
        obj = e.obj()
        md = obj["metadata"]
        md["finalizers"] = [f for f in md.get("finalizers") or [] if f != finalizer]
        if not md["finalizers"]:
            del md["finalizers"]
            if md.get("deletionTimestamp"):
                await self.store.delete(tk, obj)
                return
        await self.store.put(tk, obj)

    # ---- namespaces ----------------------------------------------------------------------
    async def _terminate_namespace(self, ns_entry: Entry) -> None:
        name = ns_entry.name
        remaining = 0
        for tk, items in list(self.store.objects.items()):
            for e in [x for (n, _), x in list(items.items()) if n == name]:
                remaining += 1
                if b'"deletionTimestamp"' not in e.raw:
                    await self._delete(tk, e, "Background")
        if remaining:
            return
        cur = self.store.get(("", "namespaces"), "", name)
        if cur is None:
            return
        obj = cur.obj()
        obj.setdefault("spec", {})["finalizers"] = []
        if not obj["metadata"].get("finalizers"):
            await self.store.delete(("", "namespaces"), obj)
