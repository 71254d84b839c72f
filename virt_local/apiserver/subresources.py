"""Subresources with their own shapes: scale, pods/binding, pods/eviction, pods/log,
serviceaccounts/token and namespaces/finalize (status is handled by the generic update path).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson

from virt_client.api.status import success_status
from virt_client.api.times import now_rfc3339, rfc3339

from . import deletion, errors, rest
from .auth import TokenAuthority
from .httpserver import Response
from .jsonpath import JsonPathError, compile_path
from .rest import Call, Ctx


def _field(body: Any, key: str, kind: str) -> dict[str, Any]:
    """`body[key]` as an object; a 400 naming the field when it is something else."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"the {kind} body must be an object")
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.bad_request(f"{kind}.{key} must be an object")
    return value


def _path_get(obj: dict[str, Any], path: str) -> Any:
    try:
        found = compile_path(path).find(obj)
    except JsonPathError:
        return None
    return found[0] if found else None


def _path_set(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = [p for p in path.split(".") if p]
    cur = obj
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value


def _scale_paths(call: Call) -> dict[str, str]:
    if call.r.scale_paths:
        return call.r.scale_paths
    return {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector"}


def scale_of(call: Call, obj: dict[str, Any]) -> dict[str, Any]:
    paths = _scale_paths(call)
    md = obj["metadata"]
    status: dict[str, Any] = {"replicas": _path_get(obj, paths["statusReplicasPath"]) or 0}
    sel_path = paths.get("labelSelectorPath")
    if sel_path:
        sel = _path_get(obj, sel_path)
        if sel is not None:
            status["selector"] = sel
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in md},
            "spec": {"replicas": _path_get(obj, paths["specReplicasPath"]) or 0}, "status": status}


async def scale(ctx: Ctx, call: Call) -> Response:
    cur = ctx.store.get(call.tk, call.namespace, call.info.name)
    if cur is None:
        raise errors.not_found(call.r.plural, call.r.group, call.info.name)
    obj = cur.obj()
    if call.req.method == "GET":
        return Response(body=orjson.dumps(scale_of(call, obj)))
    current_scale = scale_of(call, obj)
    if call.req.method == "PATCH":
        new_scale = rest.apply_patch(call, current_scale)
    else:
        new_scale = rest.decode_body(call.req)
    if not isinstance(new_scale, dict):
        raise errors.bad_request("the body must be a Scale object")
    replicas = _field(new_scale, "spec", "Scale").get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise errors.invalid("Scale", "autoscaling", call.info.name, [
            {"field": "spec.replicas", "reason": "FieldValueInvalid",
             "message": f"Invalid value: {replicas!r}: must be greater than or equal to 0"}])
    want_rv = _field(new_scale, "metadata", "Scale").get("resourceVersion")
    if want_rv and want_rv != str(cur.rv):
        raise errors.conflict(call.r.plural, call.r.group, call.info.name)
    _path_set(obj, _scale_paths(call)["specReplicasPath"], replicas)
    obj["metadata"]["resourceVersion"] = str(cur.rv)
    scale_call = Call(req=call.req, info=call.info, r=call.r, user=call.user, warnings=call.warnings)
    resp = await rest.update(ctx, scale_call, obj)
    return Response(body=orjson.dumps(scale_of(call, orjson.loads(resp.body))))


async def binding(ctx: Ctx, call: Call) -> Response:
    body = rest.decode_body(call.req)
    target = _field(body, "target", "Binding")
    node = target.get("name")
    if not node:
        raise errors.invalid("Binding", "", call.info.name, [
            {"field": "target.name", "reason": "FieldValueRequired", "message": "Required value"}])
    cur = ctx.store.get(("", "pods"), call.namespace, call.info.name)
    if cur is None:
        raise errors.not_found("pods", "", call.info.name)
    pod = cur.obj()
    if (pod.get("spec") or {}).get("nodeName"):
        raise errors.conflict("pods", "", call.info.name,
                              f"pod {call.info.name} is already assigned to node \"{pod['spec']['nodeName']}\"")
    if pod["metadata"].get("deletionTimestamp"):
        raise errors.conflict("pods", "", call.info.name, "pod is being deleted, cannot be assigned to a host")
    pod["spec"]["nodeName"] = node
    conds = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
    conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                  "lastTransitionTime": now_rfc3339()})
    pod.setdefault("status", {})["conditions"] = conds
    if not call.dry_run:
        await ctx.store.put(("", "pods"), pod)
    return Response(status=201, body=orjson.dumps(success_status(201)))


async def eviction(ctx: Ctx, call: Call) -> Response:
    cur = ctx.store.get(("", "pods"), call.namespace, call.info.name)
    if cur is None:
        raise errors.not_found("pods", "", call.info.name)
    body = rest.decode_body(call.req) if call.req.body else {}
    opts = _field(body, "deleteOptions", "Eviction")
    await deletion.delete_entry(ctx, call.r, cur, opts, dry_run=call.dry_run)
    return Response(status=201, body=orjson.dumps(success_status(201)))


LogLocator = Callable[[dict[str, Any], str], Path | None]


async def log(ctx: Ctx, call: Call, locate: LogLocator) -> Response:
    cur = ctx.store.get(("", "pods"), call.namespace, call.info.name)
    if cur is None:
        raise errors.not_found("pods", "", call.info.name)
    pod = cur.obj()
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    container = call.req.q("container")
    if not container:
        if len(containers) != 1:
            raise errors.bad_request(f"a container name must be specified for pod {call.info.name}, choose one "
                                     f"of: [{' '.join(containers)}]")
        container = containers[0]
    elif container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {call.info.name}")
    path = locate(pod, container)
    if path is None or not path.exists():
        raise errors.bad_request(f'container "{container}" in pod "{call.info.name}" is waiting to start: '
                                 "ContainerCreating")
    tail = call.req.q("tailLines")
    data = path.read_bytes()
    if tail.isdigit():
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-int(tail):]) if int(tail) else b""
    if not rest.flag(call, "follow"):
        return Response(body=data, content_type="text/plain")
    start = path.stat().st_size

    async def follow() -> AsyncIterator[bytes]:
        yield data
        pos = start
        while True:
            e = ctx.store.get(("", "pods"), call.namespace, call.info.name)
            size = path.stat().st_size if path.exists() else pos
            if size > pos:
                with path.open("rb") as f:
                    f.seek(pos)
                    chunk = f.read(size - pos)
                pos = size
                yield chunk
            elif e is None or e.uid != cur.uid:
                return
            await asyncio.sleep(0.2)
    return Response(stream=follow(), content_type="text/plain")


EXTENDED_TOKEN_REQUEST = 3607
EXTENDED_TOKEN_SECONDS = 365 * 24 * 3600


async def token(ctx: Ctx, call: Call, authority: TokenAuthority) -> Response:
    cur = ctx.store.get(("", "serviceaccounts"), call.namespace, call.info.name)
    if cur is None:
        raise errors.not_found("serviceaccounts", "", call.info.name)
    body = rest.decode_body(call.req) if call.req.body else {}
    spec = _field(body, "spec", "TokenRequest")
    exp_s = spec.get("expirationSeconds") or 3600
    if not isinstance(exp_s, int) or exp_s < 600:
        raise errors.invalid("TokenRequest", "authentication.k8s.io", call.info.name, [
            {"field": "spec.expirationSeconds", "reason": "FieldValueInvalid",
             "message": "Invalid value: may not specify a duration less than 10 minutes"}])
    audiences = spec.get("audiences")
    if audiences is not None and (not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences)):
        raise errors.bad_request("TokenRequest.spec.audiences must be a list of strings")
    # As kube-apiserver's --service-account-extend-token-expiration: the kubelet's projected token
    # (3607 s) is valid for a year, so a process that reads it once keeps working; the reported
    # expiry (and the `warnafter` claim) stay at the requested one.
    extend = exp_s == EXTENDED_TOKEN_REQUEST
    now = int(time.time())
    tok, exp = authority.issue(call.namespace, call.info.name, cur.uid,
                               expiration_seconds=EXTENDED_TOKEN_SECONDS if extend else exp_s,
                               audiences=spec.get("audiences") or None,
                               bound={"warnafter": now + exp_s} if extend else None, now=now)
    if extend:
        exp = now + exp_s
    ts = rfc3339(exp)
    out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
           "metadata": {"name": call.info.name, "namespace": call.namespace, "creationTimestamp": None},
           "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"],
                    "expirationSeconds": exp_s, "boundObjectRef": spec.get("boundObjectRef")},
           "status": {"token": tok, "expirationTimestamp": ts}}
    return Response(status=201, body=orjson.dumps(out))


async def finalize(ctx: Ctx, call: Call) -> Response:
    body = rest._body_object(call)
    cur = ctx.store.get(("", "namespaces"), "", call.info.name)
    if cur is None:
        raise errors.not_found("namespaces", "", call.info.name)
    obj = cur.obj()
    finalizers = _field(body, "spec", "Namespace").get("finalizers") or []
    if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
        raise errors.bad_request("Namespace.spec.finalizers must be a list of strings")
    obj.setdefault("spec", {})["finalizers"] = list(finalizers)
    entry = await ctx.store.put(("", "namespaces"), obj)
    return Response(body=entry.raw)
