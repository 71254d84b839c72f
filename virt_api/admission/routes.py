"""HTTP routes of the admission webhooks (paths as upstream's webhook configurations).

Each route decodes the AdmissionReview, calls one pure mutator or validator and answers
AdmissionReview v1. A body that is not an AdmissionReview is answered 400 (never 5xx). The
migration validator's lookups (the VMI and its migrations) are the only API reads here; if they
fail, the request is refused with the error rather than admitted blindly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson
from fastapi import APIRouter, Request, Response

from virt_client.api.constants import MIGRATION_SELECTOR_LABEL
from virt_client.api.times import now_rfc3339
from virt_client.api.views import VirtualMachineInstanceMigrationView
from virt_client.errors import ApiError, NotFound, TransportError
from virt_client.kube_api import KubeApi
from virt_client.resources import VMIMS, VMIS

from ..wire import JsonObject
from . import mutators, validators
from .config import AdmissionConfig
from .review import AdmissionRequest, Cause, allowed, bad_review, denied, mutated

router = APIRouter()

Validator = Callable[[AdmissionRequest, AdmissionConfig], list[Cause]]

VALIDATORS: dict[str, Validator] = {
    "/virtualmachineinstances-validate-create": validators.validate_vmi_create,
    "/virtualmachineinstances-validate-update": validators.validate_vmi_update,
    "/virtualmachines-validate": validators.validate_vm,
    "/virtualmachinereplicaset-validate": validators.validate_vmirs,
    "/migration-validate-update": validators.validate_migration_update,
    "/status-validate": validators.validate_status,
}
MUTATORS = ("/virtualmachineinstances-mutate", "/virtualmachines-mutate", "/migration-mutate-create")
MIGRATION_CREATE = "/migration-validate-create"
WEBHOOK_PATHS = frozenset([*VALIDATORS, *MUTATORS, MIGRATION_CREATE])


def _json(body: JsonObject) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def _decode(request: Request) -> AdmissionRequest | Response:
    try:
        return AdmissionRequest.from_review(orjson.loads(await request.body()))
    except (orjson.JSONDecodeError, ValueError) as e:
        return Response(orjson.dumps(bad_review(f"invalid AdmissionReview: {e}")), status_code=400,
                        media_type="application/json")


def _config(request: Request) -> AdmissionConfig:
    cfg: AdmissionConfig = request.app.state.api.admission
    return cfg


def _now() -> str:
    return now_rfc3339()


def _validator_route(path: str, func: Validator) -> None:
    async def endpoint(request: Request) -> Response:
        req = await _decode(request)
        if isinstance(req, Response):
            return req
        causes = func(req, _config(request))
        return _json(denied(req.uid, causes) if causes else allowed(req.uid))

    router.add_api_route(path, endpoint, methods=["POST"], name=path.strip("/"))


for _path, _func in VALIDATORS.items():
    _validator_route(_path, _func)


@router.post(MIGRATION_CREATE)
async def migration_create(request: Request) -> Response:
    req = await _decode(request)
    if isinstance(req, Response):
        return req
    vmim = VirtualMachineInstanceMigrationView(req.obj)
    vmi_name = vmim.spec.vmi_name
    namespace = req.namespace or vmim.namespace
    vmi: Mapping[str, object] | None = None
    migrations: list[Mapping[str, object]] = []
    if vmi_name and namespace:
        kube: KubeApi = request.app.state.api.kube
        try:
            vmi = await kube.get(VMIS, vmi_name, namespace)
        except NotFound:
            vmi = None
        except (ApiError, TransportError) as e:
            return _json(denied(req.uid, [Cause("spec.vmiName", f"cannot read the VMI: {e}")], 500, "InternalError"))
        try:
            listed = await kube.list(VMIMS, namespace, label_selector=f"{MIGRATION_SELECTOR_LABEL}={vmi_name}")
            migrations = list(listed.get("items") or [])
        except (ApiError, TransportError) as e:
            return _json(denied(req.uid, [Cause("spec.vmiName", f"cannot list migrations: {e}")], 500,
                                "InternalError"))
    causes = validators.validate_migration_create(req, _config(request), vmi, migrations)
    return _json(denied(req.uid, causes) if causes else allowed(req.uid))


@router.post("/virtualmachineinstances-mutate")
async def vmi_mutate(request: Request) -> Response:
    req = await _decode(request)
    if isinstance(req, Response):
        return req
    return _json(mutated(req.uid, req.obj, mutators.mutate_vmi(req, _config(request), _now())))


@router.post("/virtualmachines-mutate")
async def vm_mutate(request: Request) -> Response:
    req = await _decode(request)
    if isinstance(req, Response):
        return req
    return _json(mutated(req.uid, req.obj, mutators.mutate_vm(req, _config(request))))


@router.post("/migration-mutate-create")
async def migration_mutate(request: Request) -> Response:
    req = await _decode(request)
    if isinstance(req, Response):
        return req
    return _json(mutated(req.uid, req.obj, mutators.mutate_migration(req)))
