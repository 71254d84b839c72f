"""AdmissionReview v1 in and out: the request view the pure functions take, and the responses.

`Cause` is one refused field (`field`, `message`, reason `FieldValueInvalid` etc.); a refusal is
answered as upstream's `ToAdmissionResponse`: code 422, reason Invalid, the causes' messages joined
with ", " as the message and the causes in `details`. A mutation is answered with a JSONPatch that
replaces the changed top-level sections (`metadata`, `spec`, `status`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from ..wire import JsonObject, JsonPatch, JsonValue, op_remove, op_set

UNKNOWN_FIELD = "FieldValueUnknown"
INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"


@dataclass(frozen=True)
class Cause:
    """One reason a request is refused, naming the field."""

    field: str
    message: str
    reason: str = INVALID

    def to_json(self) -> dict[str, str]:
        return {"type": self.reason, "message": self.message, "field": self.field}


@dataclass(frozen=True)
class AdmissionRequest:
    """The parts of `AdmissionReview.request` the webhooks use."""

    uid: str
    operation: str
    username: str
    obj: JsonObject
    old: JsonObject | None = None
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    resource: str = ""
    dry_run: bool = False

    @classmethod
    def from_review(cls, review: object) -> AdmissionRequest:
        """Parse an AdmissionReview; ValueError when it is not one."""
        if not isinstance(review, Mapping):
            raise ValueError("the body is not an AdmissionReview object")
        req = review.get("request")
        if not isinstance(req, Mapping):
            raise ValueError("the AdmissionReview has no request")
        obj = req.get("object")
        old = req.get("oldObject")
        user, resource = req.get("userInfo"), req.get("resource")
        user = user if isinstance(user, Mapping) else {}
        resource = resource if isinstance(resource, Mapping) else {}
        return cls(
            uid=str(req.get("uid") or ""),
            operation=str(req.get("operation") or ""),
            username=str(user.get("username") or ""),
            obj=obj if isinstance(obj, Mapping) else {},
            old=old if isinstance(old, Mapping) else None,
            namespace=str(req.get("namespace") or ""),
            name=str(req.get("name") or ""),
            subresource=str(req.get("subResource") or ""),
            resource=str(resource.get("resource") or ""),
            dry_run=bool(req.get("dryRun")),
        )


def _envelope(uid: str, response: JsonObject) -> JsonObject:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": uid, **response}}


def allowed(uid: str, warnings: list[str] | None = None) -> JsonObject:
    response: dict[str, JsonValue] = {"allowed": True}
    if warnings:
        response["warnings"] = warnings
    return _envelope(uid, response)


def denied(uid: str, causes: list[Cause], code: int = 422, reason: str = "Invalid") -> JsonObject:
    message = ", ".join(c.message for c in causes) or "denied"
    status: JsonObject = {"message": message, "reason": reason, "code": code,
              "details": {"causes": [c.to_json() for c in causes]}}
    return _envelope(uid, {"allowed": False, "status": status})


def bad_review(message: str) -> JsonObject:
    return _envelope("", {"allowed": False, "status": {"message": message, "reason": "BadRequest", "code": 400}})


def patch_between(old: JsonObject, new: JsonObject) -> JsonPatch:
    """A JSONPatch taking `old` to `new`, replacing whole top-level sections that differ."""
    ops: JsonPatch = []
    for key in ("metadata", "spec", "status"):
        if key in new and old.get(key) != new.get(key):
            ops.append(op_set("replace" if key in old else "add", f"/{key}", new[key]))
        elif key in old and key not in new:
            ops.append(op_remove(f"/{key}"))
    return ops


def mutated(uid: str, old: JsonObject, new: JsonObject) -> JsonObject:
    ops = patch_between(old, new)
    if not ops:
        return allowed(uid)
    return _envelope(uid, {"allowed": True, "patchType": "JSONPatch",
                           "patch": base64.b64encode(orjson.dumps(ops)).decode()})
