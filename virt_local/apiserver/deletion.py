"""Deletion: DeleteOptions, preconditions, finalizers, graceful deletion of bound pods, namespace
termination and propagation (Background, Foreground, Orphan) as kube-apiserver applies them.

`delete_entry` only marks or removes the object; the garbage collector and the namespace
controller (controllers.py) finish what a finalizer or a propagation policy leaves for later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from virt_client.api.times import now_rfc3339

from . import errors
from .httpserver import Response
from .resources import ResourceInfo
from .rest import Call, Ctx, matcher, obj_response, selectors
from .store import Entry


def delete_options(call: Call) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if call.req.body:
        try:
            b = orjson.loads(call.req.body)
        except orjson.JSONDecodeError:
            raise errors.bad_request("the DeleteOptions body is not valid JSON") from None
        if isinstance(b, dict):
            opts.update(b)
    if call.req.q("gracePeriodSeconds"):
        try:
            opts["gracePeriodSeconds"] = int(call.req.q("gracePeriodSeconds"))
        except ValueError:
            raise errors.bad_request("gracePeriodSeconds must be an integer") from None
    if call.req.q("propagationPolicy"):
        opts["propagationPolicy"] = call.req.q("propagationPolicy")
    if not isinstance(opts.get("preconditions") or {}, dict):
        raise errors.bad_request("DeleteOptions.preconditions must be an object")
    if not isinstance(opts.get("gracePeriodSeconds", 0), int) or isinstance(opts.get("gracePeriodSeconds"), bool):
        raise errors.bad_request("DeleteOptions.gracePeriodSeconds must be an integer")
    if opts.get("propagationPolicy") not in (None, "Orphan", "Background", "Foreground"):
        raise errors.bad_request(f"propagationPolicy: Unsupported value: \"{opts['propagationPolicy']}\": "
                                 'supported values: "Foreground", "Background", "Orphan"')
    if opts.get("orphanDependents") is True and "propagationPolicy" not in opts:
        opts["propagationPolicy"] = "Orphan"
    return opts


async def delete_entry(ctx: Ctx, r: ResourceInfo, e: Entry, opts: dict[str, Any], *, dry_run: bool,
                       admit: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> tuple[int, bytes]:
    """Delete one stored object honouring finalizers, grace periods and propagation."""
    tk = (r.group, r.plural)
    obj = e.obj()
    md = obj["metadata"]
    pre = opts.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != md.get("uid"):
        raise errors.conflict(r.plural, r.group, e.name,
                              f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                              f"{md.get('uid')}")
    if pre.get("resourceVersion") and pre["resourceVersion"] != str(e.rv):
        raise errors.conflict(r.plural, r.group, e.name,
                              f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                              f"ResourceVersion in object meta: {e.rv}")
    if admit is not None:
        await admit(obj)
    if dry_run:
        return 200, e.raw
    policy = opts.get("propagationPolicy")
    finalizers = list(md.get("finalizers") or [])
    if policy == "Orphan" and "orphan" not in finalizers and e.uid in ctx.store.dependents:
        finalizers.append("orphan")
    if policy == "Foreground" and "foregroundDeletion" not in finalizers and e.uid in ctx.store.dependents:
        finalizers.append("foregroundDeletion")
    grace = opts.get("gracePeriodSeconds")
    if r.plural == "namespaces" and not r.group:
        if md.get("deletionTimestamp"):
            return 200, e.raw
        md["deletionTimestamp"] = now_rfc3339()
        obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
        obj.setdefault("status", {})["phase"] = "Terminating"
        entry = await ctx.store.put(tk, obj)
        return 200, entry.raw
    if r.plural == "pods" and not r.group:
        spec_grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        grace = spec_grace if grace is None else grace
        phase = (obj.get("status") or {}).get("phase")
        if grace and (obj.get("spec") or {}).get("nodeName") and phase not in ("Succeeded", "Failed"):
            cur_grace = md.get("deletionGracePeriodSeconds")
            if md.get("deletionTimestamp") and cur_grace is not None and cur_grace <= grace:
                return 200, e.raw
            md["deletionTimestamp"] = md.get("deletionTimestamp") or now_rfc3339()
            md["deletionGracePeriodSeconds"] = int(grace)
            if finalizers:
                md["finalizers"] = finalizers
            entry = await ctx.store.put(tk, obj)
            return 200, entry.raw
        md.pop("deletionGracePeriodSeconds", None)
    if finalizers:
        changed = finalizers != list(md.get("finalizers") or []) or not md.get("deletionTimestamp")
        if not changed:
            return 200, e.raw
        md["finalizers"] = finalizers
        md["deletionTimestamp"] = md.get("deletionTimestamp") or now_rfc3339()
        md["deletionGracePeriodSeconds"] = 0
        entry = await ctx.store.put(tk, obj)
        return 200, entry.raw
    md["deletionTimestamp"] = md.get("deletionTimestamp") or now_rfc3339()
    md.setdefault("deletionGracePeriodSeconds", 0)
    entry = await ctx.store.delete(tk, obj)
    return 200, entry.raw


async def delete_latest(ctx: Ctx, r: ResourceInfo, namespace: str, name: str, opts: dict[str, Any], *,
                        dry_run: bool, admit: Callable[[dict[str, Any]], Awaitable[None]] | None = None
                        ) -> tuple[int, bytes]:
    """`delete_entry` on the stored version, again on the new one if it changed meanwhile (the store
    refuses a deletion based on a version that is no longer the stored one)."""
    for _ in range(5):
        e = ctx.store.get((r.group, r.plural), namespace, name)
        if e is None:
            raise errors.not_found(r.plural, r.group, name)
        try:
            return await delete_entry(ctx, r, e, opts, dry_run=dry_run, admit=admit)
        except errors.ApiError as err:
            if err.reason != "Conflict" or "Precondition failed" in err.message:
                raise
    raise errors.conflict(r.plural, r.group, name)


async def delete(ctx: Ctx, call: Call) -> Response:
    opts = delete_options(call)

    async def admit(old: dict[str, Any]) -> None:
        _, warns = await ctx.admission.admit(operation="DELETE", r=call.r, subresource="", obj=None, old=old,
                                             user=call.user, dry_run=call.dry_run, namespace=call.namespace,
                                             name=call.info.name, options=opts)
        call.warnings.extend(warns)
    code, raw = await delete_latest(ctx, call.r, call.namespace, call.info.name, opts, dry_run=call.dry_run,
                                    admit=admit)
    return obj_response(raw, code, call.warnings)


async def delete_collection(ctx: Ctx, call: Call) -> Response:
    ls, fs = selectors(call)
    match = matcher(ls, fs)
    opts = delete_options(call)
    entries = [e for e in ctx.store.list(call.tk, call.namespace or None) if match(e)]
    raws = []
    for e in entries:
        async def admit(old: dict[str, Any], e: Entry = e) -> None:
            await ctx.admission.admit(operation="DELETE", r=call.r, subresource="", obj=None, old=old,
                                      user=call.user, dry_run=call.dry_run, namespace=e.namespace, name=e.name,
                                      options=opts)
        try:
            _, raw = await delete_latest(ctx, call.r, e.namespace, e.name, opts, dry_run=call.dry_run, admit=admit)
        except errors.ApiError as err:
            if err.code == 404:
                continue  # deleted meanwhile
            raise
        raws.append(raw)
    body = (b'{"kind":"' + call.r.list_kind.encode() + b'","apiVersion":"' + call.r.api_version.encode() +
            b'","metadata":{"resourceVersion":"' + str(ctx.store.revision).encode() + b'"},"items":[' +
            b",".join(raws) + b"]}")
    return obj_response(body, 200, call.warnings)
