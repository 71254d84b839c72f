"""The subresource routes (§1.3): VM lifecycle actions and VMI actions forwarded to virt-handler.

The thin I/O shell around `lifecycle` and `vmi_actions`: read the VM/VMI, ask the pure function,
write its patches (`dryRun` passed through), or forward to the handler (`dryRun` skips the call).
Bodies are YAML or JSON; an empty body is the default options object; no Content-Type is needed.
Answers: 202 and no body for VM actions, 200 for VMI actions, `Status` objects for errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import orjson
import yaml
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ValidationError

from virt_client.api.json_patch import is_test_failure
from virt_client.api.options import (
    MigrateOptions,
    PauseOptions,
    RestartOptions,
    StartOptions,
    StopOptions,
    SubresourceOptions,
)
from virt_client.api.views import PodView
from virt_client.errors import ApiError, NotFound, TransportError
from virt_client.resources import PODS, VMIMS, VMIS, VMS, ResourceRef

from . import lifecycle
from .discovery import VERSIONS
from .errors import (
    BadRequestError,
    ConflictError,
    InternalError,
    NotFoundError,
    PlainTextError,
    SubresourceError,
)
from .state import ApiState
from .vmi_actions import HANDLER_ACTIONS, Action, check, connectable
from .wire import JsonPatch

BASE = "/apis/subresources.kubevirt.io/{version}/namespaces/{namespace}"
VM_KIND, VMI_KIND = "virtualmachine", "virtualmachineinstance"
Options = TypeVar("Options", bound=BaseModel)
Object = Mapping[str, object]

router = APIRouter()


def state_of(request: Request) -> ApiState:
    st: ApiState = request.app.state.api
    return st


def check_version(version: str) -> None:
    if version not in VERSIONS:
        raise SubresourceError(404, "the server could not find the requested resource")


def decode_body(raw: bytes, model: type[Options]) -> Options:
    """YAML-or-JSON body into an options model; empty means defaults; 400 with upstream's text otherwise."""
    data: object = {}
    if raw.strip():
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:
                data = yaml.safe_load(raw.decode("utf-8", "replace"))
            except yaml.YAMLError as e:
                raise BadRequestError(f"Can not unmarshal Request body to struct, error: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadRequestError("Can not unmarshal Request body to struct, error: the body must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": str(e)}
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequestError(f"Can not unmarshal Request body to struct, error: {where}: {first['msg']}") from None


async def send_patch(st: ApiState, ref: ResourceRef, namespace: str, name: str, patch: JsonPatch,
                     *, kind: str, subresource: str | None = None, dry_run: bool = False) -> None:
    """A JSON patch (server-side dry run when `dry_run`); a failed `test` (someone changed the object
    meanwhile) is 409."""
    try:
        await st.kube.patch(ref, name, patch, namespace, patch_type="json", subresource=subresource, dry_run=dry_run)
    except NotFound:
        raise NotFoundError(kind, name) from None
    except ApiError as e:
        if is_test_failure(e.status, e.reason, ((c.reason, c.message) for c in e.causes)):
            raise ConflictError(kind, name, f"jsonpatch test operation does not apply: {e.message}") from None
        raise InternalError(e.message, kind, name) from None
    except TransportError as e:
        raise InternalError(str(e), kind, name) from None


async def apply_plan(st: ApiState, namespace: str, name: str, plan: lifecycle.Plan, dry_run: bool) -> None:
    if plan.vmi_patch:
        await send_patch(st, VMIS, namespace, name, plan.vmi_patch, kind=VMI_KIND, dry_run=dry_run)
    try:
        if plan.vm_spec_patch:
            await send_patch(st, VMS, namespace, name, plan.vm_spec_patch, kind=VM_KIND, dry_run=dry_run)
        if plan.vm_status_patch:
            await send_patch(st, VMS, namespace, name, plan.vm_status_patch, kind=VM_KIND, subresource="status",
                             dry_run=dry_run)
    except SubresourceError:
        if plan.vmi_rollback and not dry_run:
            try:
                await send_patch(st, VMIS, namespace, name, plan.vmi_rollback, kind=VMI_KIND)
            except SubresourceError:
                pass  # the VMI changed meanwhile; the original error is the one to report
        raise
    if plan.delete_launcher_pods and not dry_run:
        try:
            pods = await st.kube.list(PODS, namespace, label_selector=f"kubevirt.io/created-by={plan.vmi_uid}")
            for pod in pods.get("items") or []:
                await st.kube.delete(PODS, PodView(pod).name, namespace, grace_period_seconds=0)
        except (ApiError, TransportError) as e:
            raise InternalError(f"unable to force-delete the launcher pod: {e}", VM_KIND, name) from None


async def _vm_and_vmi(st: ApiState, namespace: str, name: str) -> tuple[Object, Object | None]:
    vm = await st.get_object(VMS, namespace, name, VM_KIND)
    vmi = await st.find_object(VMIS, namespace, name, VMI_KIND)
    return vm, vmi


@router.put(BASE + "/virtualmachines/{name}/start")
async def start(version: str, namespace: str, name: str, request: Request) -> Response:
    check_version(version)
    opts = decode_body(await request.body(), StartOptions)
    st = state_of(request)
    vm, vmi = await _vm_and_vmi(st, namespace, name)
    await apply_plan(st, namespace, name, lifecycle.plan_start(vm, vmi, opts), opts.is_dry_run())
    return Response(status_code=202)


@router.put(BASE + "/virtualmachines/{name}/stop")
async def stop(version: str, namespace: str, name: str, request: Request) -> Response:
    check_version(version)
    opts = decode_body(await request.body(), StopOptions)
    st = state_of(request)
    vm, vmi = await _vm_and_vmi(st, namespace, name)
    await apply_plan(st, namespace, name, lifecycle.plan_stop(vm, vmi, opts), opts.is_dry_run())
    return Response(status_code=202)


@router.put(BASE + "/virtualmachines/{name}/restart")
async def restart(version: str, namespace: str, name: str, request: Request) -> Response:
    check_version(version)
    opts = decode_body(await request.body(), RestartOptions)
    st = state_of(request)
    vm, vmi = await _vm_and_vmi(st, namespace, name)
    await apply_plan(st, namespace, name, lifecycle.plan_restart(vm, vmi, opts), opts.is_dry_run())
    return Response(status_code=202)


@router.put(BASE + "/virtualmachines/{name}/migrate")
async def migrate(version: str, namespace: str, name: str, request: Request) -> Response:
    check_version(version)
    opts = decode_body(await request.body(), MigrateOptions)
    st = state_of(request)
    vm, vmi = await _vm_and_vmi(st, namespace, name)
    vmim = lifecycle.plan_migrate(vm, vmi, opts.added_node_selector)
    try:
        await st.kube.create(VMIMS, vmim, namespace, dry_run=opts.is_dry_run())
    except ApiError as e:
        raise InternalError(f"unable to create the migration: {e.message}", VM_KIND, name) from None
    except TransportError as e:
        raise InternalError(f"unable to create the migration: {e}", VM_KIND, name) from None
    return Response(status_code=202)


@router.get(BASE + "/virtualmachines/{name}/expand-spec")
async def expand_spec(version: str, namespace: str, name: str, request: Request) -> Response:
    check_version(version)
    vm = await state_of(request).get_object(VMS, namespace, name, VM_KIND)
    return Response(orjson.dumps(vm), media_type="application/json")


async def _vmi_action(request: Request, version: str, namespace: str, name: str, action: Action,
                      options: type[SubresourceOptions] | None) -> Response:
    try:
        return await _forward(request, version, namespace, name, action, options)
    except SubresourceError as e:
        if HANDLER_ACTIONS[action].plain_errors:
            raise PlainTextError(500, e.message) from None  # upstream's GET helper answers every failure so
        raise


async def _forward(request: Request, version: str, namespace: str, name: str, action: Action,
                   options: type[SubresourceOptions] | None) -> Response:
    check_version(version)
    raw = await request.body() if request.method == "PUT" else b""
    dry_run = decode_body(raw, options).is_dry_run() if options is not None else False
    st = state_of(request)
    vmi = await st.get_object(VMIS, namespace, name, VMI_KIND)
    vm = await st.find_object(VMS, namespace, name, VM_KIND) if action == Action.UNPAUSE else None
    check(action, vmi, vm=vm)
    node = connectable(vmi)
    if dry_run:
        return Response(status_code=200)
    query = dict(request.query_params)
    resp = await st.handlers.call(node, request.method, namespace, name, str(action), body=raw, query=query)
    if request.method == "PUT":
        return Response(status_code=200)
    return Response(resp.content, status_code=200, media_type=resp.headers.get("content-type", "application/json"))


@router.put(BASE + "/virtualmachineinstances/{name}/pause")
async def pause(version: str, namespace: str, name: str, request: Request) -> Response:
    return await _vmi_action(request, version, namespace, name, Action.PAUSE, PauseOptions)


@router.put(BASE + "/virtualmachineinstances/{name}/unpause")
async def unpause(version: str, namespace: str, name: str, request: Request) -> Response:
    return await _vmi_action(request, version, namespace, name, Action.UNPAUSE, PauseOptions)


@router.put(BASE + "/virtualmachineinstances/{name}/softreboot")
async def softreboot(version: str, namespace: str, name: str, request: Request) -> Response:
    return await _vmi_action(request, version, namespace, name, Action.SOFTREBOOT, SubresourceOptions)


@router.put(BASE + "/virtualmachineinstances/{name}/reset")
async def reset(version: str, namespace: str, name: str, request: Request) -> Response:
    return await _vmi_action(request, version, namespace, name, Action.RESET, SubresourceOptions)


@router.get(BASE + "/virtualmachineinstances/{name}/guestosinfo")
async def guestosinfo(version: str, namespace: str, name: str, request: Request) -> Response:
    return await _vmi_action(request, version, namespace, name, Action.GUESTOSINFO, None)


@router.get(BASE + "/virtualmachineinstances/{name}/userlist")
async def userlist(version: str, namespace: str, name: str, request: Request) -> Response:
    return await _vmi_action(request, version, namespace, name, Action.USERLIST, None)


@router.get(BASE + "/virtualmachineinstances/{name}/filesystemlist")
async def filesystemlist(version: str, namespace: str, name: str, request: Request) -> Response:
    return await _vmi_action(request, version, namespace, name, Action.FILESYSTEMLIST, None)


@router.get(BASE + "/virtualmachineinstances/{name}/vnc/screenshot")
async def screenshot(version: str, namespace: str, name: str, request: Request) -> Response:
    return await _vmi_action(request, version, namespace, name, Action.SCREENSHOT, None)
