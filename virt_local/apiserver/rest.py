"""The REST verbs on resources: get, list, watch, create, update, patch, delete, deletecollection.

Each handler works on one `ResourceInfo`, reads from the in-memory store, runs admission, and
writes through the store, which shows and acknowledges a write only after it is durable. Optimistic
concurrency: a write that names a resourceVersion other than the stored one is a 409; every write
is based on the version the handler read, which the store checks again when it queues the write,
so two writers can never both win.
"""

from __future__ import annotations

import asyncio
import base64
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import yaml

from virt_client import object_rules as objects
from virt_client.api.json_patch import APPLY_FAILURE_MESSAGE, patch_apply_failure
from virt_client.api.times import now_rfc3339
from virt_client.patches import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    builtin_merge_key_lookup,
)
from virt_client.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)

from . import errors, protobuf, table
from .httpserver import Request, Response
from .rbac import UserInfo
from .requestinfo import RequestInfo
from .resources import ResourceInfo
from .store import Entry, Store, TooLarge, TooOld, TypeKey

JSON = "application/json"
PATCH_TYPES = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
BUILTIN_PATCH_TYPES = PATCH_TYPES + ", application/strategic-merge-patch+json"


_uid_random = random.Random()


def new_uid() -> str:
    """A random (version 4) UUID without a system call per object."""
    return str(uuid.UUID(int=_uid_random.getrandbits(128), version=4))


class Admission(Protocol):
    async def admit(self, *, operation: str, r: ResourceInfo, subresource: str, obj: dict[str, Any] | None,
                    old: dict[str, Any] | None, user: UserInfo, dry_run: bool, namespace: str,
                    name: str, options: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, list[str]]:
        ...


class SchemaHooks(Protocol):
    def prepare(self, r: ResourceInfo, obj: dict[str, Any], mode: str) -> tuple[dict[str, Any], list[str]]:
        """Prune and default a custom resource; returns unknown field paths (for fieldValidation)."""
        ...

    def validate(self, r: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> list[dict[str, str]]:
        ...


@dataclass
class Ctx:
    store: Store
    admission: Admission
    schema: SchemaHooks
    namespace_exists: Callable[[str], str | None]  # -> phase or None
    # per-kind hooks: (group, plural) -> fn(obj, old) mutating obj before a write
    before_write: dict[TypeKey, Callable[[dict[str, Any], dict[str, Any] | None], None]] = field(default_factory=dict)
    bookmark_interval: float = 5.0


@dataclass
class Call:
    """One resource request after routing and authorization."""

    req: Request
    info: RequestInfo
    r: ResourceInfo
    user: UserInfo
    warnings: list[str] = field(default_factory=list)

    @property
    def tk(self) -> TypeKey:
        return (self.r.group, self.r.plural)

    @property
    def namespace(self) -> str:
        return self.info.namespace if self.r.namespaced else ""

    @property
    def dry_run(self) -> bool:
        return "All" in self.req.query.get("dryRun", [])


def obj_response(raw: bytes, status: int = 200, warnings: list[str] | None = None) -> Response:
    headers = [("Warning", f'299 - "{w}"') for w in warnings or ()]
    return Response(status=status, body=raw, headers=headers)


def decode_body(req: Request) -> Any:
    ctype = req.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if not req.body:
        raise errors.bad_request("the request body is empty; send the object as JSON or YAML")
    if "protobuf" in ctype:
        try:
            return protobuf.decode(req.body)
        except protobuf.ProtobufError as e:
            raise errors.ApiError(415, "UnsupportedMediaType", str(e)) from None
    try:
        if "yaml" in ctype:
            data = yaml.safe_load(req.body)
            orjson.dumps(data)  # only what JSON can carry (no 64-bit overflow, no binary, no dates)
            return data
        return orjson.loads(req.body)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise errors.bad_request(f"the request body is not valid {'YAML' if 'yaml' in ctype else 'JSON'}: "
                                 f"{str(e).splitlines()[0]}") from None


def flag(call: Call, name: str) -> bool:
    """A boolean query parameter, parsed like Go's strconv.ParseBool."""
    return call.req.q(name) in ("1", "t", "T", "true", "TRUE", "True")


def _rv_param(call: Call, name: str = "resourceVersion") -> int | None:
    v = call.req.q(name)
    if v in ("", "0"):
        return None
    try:
        return int(v)
    except ValueError:
        raise errors.bad_request(f'invalid resource version "{v}": must be a non-negative integer') from None


def selectors(call: Call) -> tuple[LabelSelector | None, FieldSelector | None]:
    try:
        ls = parse_label_selector(call.req.q("labelSelector")) if call.req.q("labelSelector") else None
        fs = parse_field_selector(call.req.q("fieldSelector")) if call.req.q("fieldSelector") else None
    except SelectorError as e:
        raise errors.bad_request(f"unable to parse requirement: {e}") from None
    if fs is not None:
        for f in fs.fields:
            if f not in ("metadata.name", "metadata.namespace") and not _field_supported(call, f):
                raise errors.bad_request(f'"{f}" is not a known field selector: only "metadata.name", '
                                         f'"metadata.namespace"')
    return ls, fs


def _field_supported(call: Call, f: str) -> bool:
    from .builtin import FIELD_GETTERS
    getter = FIELD_GETTERS.get(call.tk)
    return getter is not None and f in getter({})


def matcher(ls: LabelSelector | None, fs: FieldSelector | None) -> Callable[[Entry], bool]:
    def match(e: Entry) -> bool:
        if ls is not None and not ls.matches(e.labels):
            return False
        if fs is not None:
            def get(f: str) -> str | None:
                if f == "metadata.name":
                    return e.name
                if f == "metadata.namespace":
                    return e.namespace
                return e.fields.get(f)
            return fs.matches(get)
        return True
    return match


# ---------------------------------------------------------------------------------------------
# reads
# ---------------------------------------------------------------------------------------------
def get(ctx: Ctx, call: Call) -> Response:
    e = ctx.store.get(call.tk, call.namespace, call.info.name)
    if e is None:
        raise errors.not_found(call.r.plural, call.r.group, call.info.name)
    return table.render_one(call, e)


def _encode_continue(rv: int, ns: str, name: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"rv": rv, "s": [ns, name]})).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        d = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(d["rv"]), (str(d["s"][0]), str(d["s"][1]))
    except (ValueError, KeyError, TypeError, IndexError, orjson.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: the token is malformed") from None


def list_(ctx: Ctx, call: Call) -> Response:
    ls, fs = selectors(call)
    match = matcher(ls, fs)
    entries = [e for e in ctx.store.list(call.tk, call.namespace or None) if match(e)]
    token = call.req.q("continue")
    rv = ctx.store.revision
    if token:
        _, start = _decode_continue(token)
        entries = [e for e in entries if (e.namespace, e.name) > start]
    limit_s = call.req.q("limit")
    cont = ""
    remaining = 0
    if limit_s:
        try:
            limit = int(limit_s)
        except ValueError:
            raise errors.bad_request(f'invalid limit "{limit_s}"') from None
        if 0 < limit < len(entries):
            remaining = len(entries) - limit
            entries = entries[:limit]
            last = entries[-1]
            cont = _encode_continue(rv, last.namespace, last.name)
    return table.render_list(call, entries, rv, cont, remaining)


async def watch(ctx: Ctx, call: Call) -> Response:
    ls, fs = selectors(call)
    match = matcher(ls, fs)
    if call.info.name:
        name = call.info.name
        inner = match
        match = lambda e: e.name == name and inner(e)  # noqa: E731
    since = _rv_param(call)
    bookmarks = flag(call, "allowWatchBookmarks")
    try:
        timeout = float(call.req.q("timeoutSeconds") or 1800)
    except ValueError:
        raise errors.bad_request("timeoutSeconds must be a number") from None
    try:
        w = ctx.store.add_watcher(call.tk, call.namespace or None, match, since)
    except TooOld as e:
        err = errors.gone(str(e))
        line = b'{"type":"ERROR","object":' + err.body() + b"}\n"

        async def once() -> AsyncIterator[bytes]:
            yield line
        return Response(stream=once())
    except TooLarge as e:
        raise errors.ApiError(504, "Timeout", str(e), details={
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1}) from None
    as_table = table.wants_table(call.req)
    api_version, kind = call.r.api_version, call.r.kind
    store = ctx.store
    interval = ctx.bookmark_interval

    async def stream() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    return
                try:
                    # not wait_for, which on Python 3.11 can swallow the cancellation of a closed stream
                    async with asyncio.timeout(min(left, interval) if bookmarks else left):
                        line = await w.queue.get()
                except TimeoutError:
                    if bookmarks:
                        yield orjson.dumps({"type": "BOOKMARK", "object": {
                            "kind": kind, "apiVersion": api_version,
                            "metadata": {"resourceVersion": str(store.revision)}}}) + b"\n"
                    continue
                if line is None:
                    return
                chunks = [line]
                while not w.queue.empty() and len(chunks) < 256:
                    nxt = w.queue.get_nowait()
                    if nxt is None:
                        break
                    chunks.append(nxt)
                if as_table:
                    chunks = [table.watch_line_as_table(call, c) for c in chunks]
                yield b"".join(chunks)
        finally:
            store.remove_watcher(w)
    return Response(stream=stream())


# ---------------------------------------------------------------------------------------------
# writes
# ---------------------------------------------------------------------------------------------
def _check_namespace(ctx: Ctx, call: Call, creating: bool) -> None:
    if not call.r.namespaced:
        return
    phase = ctx.namespace_exists(call.namespace)
    if phase is None:
        raise errors.not_found("namespaces", "", call.namespace)
    if creating and phase == "Terminating":
        raise errors.forbidden(f"{call.r.kind.lower()} \"\" is forbidden: unable to create new content in "
                               f"namespace {call.namespace} because it is being terminated")


def _body_object(call: Call) -> dict[str, Any]:
    obj = decode_body(call.req)
    if not isinstance(obj, dict):
        raise errors.bad_request("the request body must be a JSON object")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if kind is not None and kind != call.r.kind and not call.info.subresource:
        raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                                 f"version ({call.r.api_version})" if api_version != call.r.api_version else
                                 f'kind "{kind}" does not match the expected kind "{call.r.kind}"')
    md = obj.get("metadata")
    if md is None:
        obj["metadata"] = {}
    elif not isinstance(md, dict):
        raise errors.bad_request("metadata must be an object")
    return obj


def _field_validation(call: Call, unknown: list[str]) -> None:
    mode = call.req.q("fieldValidation") or "Warn"
    if not unknown or mode == "Ignore":
        return
    msgs = [f'unknown field "{u}"' for u in unknown]
    if mode == "Strict":
        raise errors.bad_request("strict decoding error: " + ", ".join(msgs))
    call.warnings.extend(msgs)


def _validate(ctx: Ctx, call: Call, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    causes = ctx.schema.validate(call.r, obj, old)
    if causes:
        raise errors.invalid(call.r.kind, call.r.group, obj.get("metadata", {}).get("name", ""), causes)


async def create(ctx: Ctx, call: Call) -> Response:
    obj = _body_object(call)
    md = obj.setdefault("metadata", {})
    if call.r.namespaced:
        body_ns = md.get("namespace")
        if body_ns and body_ns != call.namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                     "on the request")
    if not md.get("name") and not md.get("generateName"):
        raise errors.invalid(call.r.kind, call.r.group, "", [
            {"field": "metadata.name", "reason": "FieldValueRequired",
             "message": "Required value: name or generateName is required"}])
    _check_namespace(ctx, call, creating=True)
    obj = objects.prepare_create(obj, namespace=call.namespace, now=now_rfc3339(),
                                 new_uid=new_uid, has_status_subresource=call.r.has_status,
                                 api_version=call.r.api_version, kind=call.r.kind)
    obj, unknown = ctx.schema.prepare(call.r, obj, "create")
    _field_validation(call, unknown)
    admitted, warns = await ctx.admission.admit(operation="CREATE", r=call.r, subresource="", obj=obj, old=None,
                                                user=call.user, dry_run=call.dry_run, namespace=call.namespace,
                                                name=obj["metadata"]["name"])
    call.warnings.extend(warns)
    assert admitted is not None
    obj = admitted
    _validate(ctx, call, obj, None)
    hook = ctx.before_write.get(call.tk)
    if hook:
        hook(obj, None)
    name = obj["metadata"]["name"]
    if ctx.store.get(call.tk, call.namespace, name) is not None:
        raise errors.already_exists(call.r.plural, call.r.group, name)
    if call.dry_run:
        return obj_response(orjson.dumps(obj), 201, call.warnings)
    entry = await ctx.store.put(call.tk, obj, create=True)
    return obj_response(entry.raw, 201, call.warnings)


async def update(ctx: Ctx, call: Call, new: dict[str, Any] | None = None, *, status: bool = False) -> Response:
    """PUT of the main resource (or of `status`); also the last step of a patch."""
    if new is None:
        new = _body_object(call)
    name = call.info.name
    md = new.setdefault("metadata", {})
    if md.get("name") and md["name"] != name:
        raise errors.bad_request(f"the name of the object ({md['name']}) does not match the name on the URL ({name})")
    cur = ctx.store.get(call.tk, call.namespace, name)
    if cur is None:
        raise errors.not_found(call.r.plural, call.r.group, name)
    want_rv = md.get("resourceVersion")
    if want_rv and want_rv != str(cur.rv):
        raise errors.conflict(call.r.plural, call.r.group, name)
    old = cur.obj()
    if status:
        obj = objects.prepare_status_update(new, old)
    else:
        obj = objects.prepare_update(new, old, has_status_subresource=call.r.has_status,
                                     api_version=call.r.api_version, kind=call.r.kind)
    obj, unknown = ctx.schema.prepare(call.r, obj, "update")
    _field_validation(call, unknown)
    causes = objects.metadata_changes_allowed(new, old)
    if causes:
        raise errors.invalid(call.r.kind, call.r.group, name, causes)
    admitted, warns = await ctx.admission.admit(
        operation="UPDATE", r=call.r, subresource="status" if status else "", obj=obj, old=old, user=call.user,
        dry_run=call.dry_run, namespace=call.namespace, name=name)
    call.warnings.extend(warns)
    assert admitted is not None
    obj = admitted
    _validate(ctx, call, obj, old)
    hook = ctx.before_write.get(call.tk)
    if hook:
        hook(obj, old)
    latest = ctx.store.get(call.tk, call.namespace, name)
    if latest is None:
        raise errors.not_found(call.r.plural, call.r.group, name)
    if latest.rv != cur.rv:
        raise errors.conflict(call.r.plural, call.r.group, name)
    if obj == old:
        return obj_response(cur.raw, 200, call.warnings)
    if call.dry_run:
        return obj_response(orjson.dumps(obj), 200, call.warnings)
    md = obj["metadata"]
    md["resourceVersion"] = str(cur.rv)  # the version this update was computed from
    if md.get("deletionTimestamp") and not md.get("finalizers"):
        entry = await ctx.store.delete(call.tk, obj)
    else:
        entry = await ctx.store.put(call.tk, obj)
    return obj_response(entry.raw, 200, call.warnings)


def apply_patch(call: Call, current: dict[str, Any]) -> dict[str, Any]:
    ctype = call.req.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        body = orjson.loads(call.req.body) if "yaml" not in ctype else yaml.safe_load(call.req.body)
        orjson.dumps(body)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise errors.bad_request(f"the patch is not valid JSON: {str(e).splitlines()[0]}") from None
    try:
        if ctype == "application/json-patch+json":
            out = apply_json_patch(current, body)
        elif ctype == "application/merge-patch+json":
            out = apply_merge_patch(current, body)
        elif ctype == "application/strategic-merge-patch+json":
            if call.r.from_crd:
                raise errors.unsupported_media_type(ctype, PATCH_TYPES)
            out = apply_strategic_merge_patch(current, body, builtin_merge_key_lookup(call.r.kind))
        elif ctype == "application/apply-patch+yaml":
            # server-side apply, reduced to "the applied configuration wins for the fields it names"
            out = apply_merge_patch(current, body)
        else:
            raise errors.unsupported_media_type(
                ctype, BUILTIN_PATCH_TYPES if not call.r.from_crd else PATCH_TYPES)
    except PatchError as e:
        if ctype == "application/json-patch+json":
            # As kube-apiserver: any JSON-patch apply error (a failed `test` included) is a generic 422
            # carrying the library's text as its one cause, which is how clients recognise a failed `test`.
            raise errors.ApiError(422, "Invalid", APPLY_FAILURE_MESSAGE,
                                  details=patch_apply_failure(e.message)["details"]) from None
        raise errors.ApiError(422, "Invalid", e.message) from None
    if not isinstance(out, dict):
        raise errors.bad_request("the patch must leave an object")
    return out


async def patch(ctx: Ctx, call: Call, *, status: bool = False) -> Response:
    if not call.req.body:
        raise errors.bad_request("the patch body is empty")
    ctype = call.req.headers.get("content-type", "").split(";")[0].strip().lower()
    for _ in range(5):
        cur = ctx.store.get(call.tk, call.namespace, call.info.name)
        if cur is None and ctype == "application/apply-patch+yaml" and not status:
            return await _apply_create(ctx, call)
        if cur is None:
            raise errors.not_found(call.r.plural, call.r.group, call.info.name)
        current = cur.obj()
        patched = apply_patch(call, current)
        if patched.get("metadata") is None:
            patched["metadata"] = {}
        md = patched["metadata"]
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if md.get("resourceVersion") in (None, str(cur.rv)):
            md["resourceVersion"] = str(cur.rv)
        elif md.get("resourceVersion") != str(cur.rv):
            raise errors.conflict(call.r.plural, call.r.group, call.info.name)
        try:
            return await update(ctx, call, patched, status=status)
        except errors.ApiError as e:
            if e.reason != "Conflict" or "resourceVersion" in (orjson.loads(call.req.body)
                                                                if call.req.body.startswith(b"{") else {}):
                raise
    raise errors.conflict(call.r.plural, call.r.group, call.info.name)


async def _apply_create(ctx: Ctx, call: Call) -> Response:
    """Server-side apply of an object that does not exist yet creates it."""
    try:
        body = yaml.safe_load(call.req.body)
    except yaml.YAMLError as e:
        raise errors.bad_request(f"the applied configuration is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(body, dict):
        raise errors.bad_request("the applied configuration must be an object")
    md = body.get("metadata")
    if not isinstance(md, dict):
        body["metadata"] = md = {}
    if md.get("name", call.info.name) != call.info.name:
        raise errors.bad_request("the name of the applied object does not match the name on the URL")
    md["name"] = call.info.name
    create_req = Request(method="POST", path=call.req.path, raw_query=call.req.raw_query, query=call.req.query,
                         headers={**call.req.headers, "content-type": JSON}, header_list=call.req.header_list,
                         body=orjson.dumps(body), peer_cert=call.req.peer_cert)
    return await create(ctx, Call(req=create_req, info=call.info, r=call.r, user=call.user, warnings=call.warnings))
