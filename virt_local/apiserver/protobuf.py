"""Decoding of Kubernetes protobuf request bodies for the built-in kinds kubectl sends that way.

kubectl's typed clients (`auth can-i`, `create token`, `create serviceaccount|rolebinding|namespace|
configmap|secret`, …) send `application/vnd.kubernetes.protobuf` bodies: the magic `k8s\\0`, then a
`runtime.Unknown` envelope (typeMeta, raw) whose `raw` is the object's own message. This module
turns such a body into the same JSON object the client would have sent as JSON. Only decoding is
needed: responses are JSON, which kubectl also accepts. Field numbers follow the upstream
`generated.proto` files; a kind not listed here is answered with 415 by the caller.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

MAGIC = b"k8s\x00"

# A schema maps field number → (json name, type). Types: "string", "bytes", "int", "bool", "time",
# "[string]" (repeated), "map" (map<string,string>), "mapbytes" (map<string,bytes>), a nested schema
# (dict), or ["repeated", schema].
Schema = dict[int, tuple[str, Any]]

TIME: Schema = {1: ("seconds", "int"), 2: ("nanos", "int")}
OWNER_REF: Schema = {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                     5: ("apiVersion", "string"), 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
OBJECT_META: Schema = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"), 5: ("uid", "string"),
    6: ("resourceVersion", "string"), 7: ("generation", "int"), 8: ("creationTimestamp", "time"),
    9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map"),
    12: ("annotations", "map"), 13: ("ownerReferences", ["repeated", OWNER_REF]), 14: ("finalizers", "[string]"),
}
OBJECT_REF: Schema = {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"),
                      4: ("uid", "string"), 5: ("apiVersion", "string"), 6: ("resourceVersion", "string"),
                      7: ("fieldPath", "string")}
LOCAL_REF: Schema = {1: ("name", "string")}
RESOURCE_ATTRS: Schema = {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
                          4: ("version", "string"), 5: ("resource", "string"), 6: ("subresource", "string"),
                          7: ("name", "string")}
NON_RESOURCE_ATTRS: Schema = {1: ("path", "string"), 2: ("verb", "string")}
SUBJECT: Schema = {1: ("kind", "string"), 2: ("apiGroup", "string"), 3: ("name", "string"),
                   4: ("namespace", "string")}
ROLE_REF: Schema = {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")}
POLICY_RULE: Schema = {1: ("verbs", "[string]"), 2: ("apiGroups", "[string]"), 3: ("resources", "[string]"),
                       4: ("resourceNames", "[string]"), 5: ("nonResourceURLs", "[string]")}
LABEL_SELECTOR_REQ: Schema = {1: ("key", "string"), 2: ("operator", "string"), 3: ("values", "[string]")}
LABEL_SELECTOR: Schema = {1: ("matchLabels", "map"), 2: ("matchExpressions", ["repeated", LABEL_SELECTOR_REQ])}

KINDS: dict[tuple[str, str], Schema] = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("resourceAttributes", RESOURCE_ATTRS), 2: ("nonResourceAttributes", NON_RESOURCE_ATTRS)})},
    ("authorization.k8s.io/v1", "SubjectAccessReview"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("resourceAttributes", RESOURCE_ATTRS), 2: ("nonResourceAttributes", NON_RESOURCE_ATTRS),
                     3: ("user", "string"), 4: ("groups", "[string]"), 6: ("uid", "string")})},
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", OBJECT_META), 2: ("spec", {1: ("namespace", "string")})},
    ("authentication.k8s.io/v1", "TokenRequest"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("audiences", "[string]"), 4: ("expirationSeconds", "int"),
                     3: ("boundObjectRef", {1: ("kind", "string"), 2: ("apiVersion", "string"),
                                            3: ("name", "string"), 4: ("uid", "string")})})},
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", OBJECT_META)},
    ("v1", "ServiceAccount"): {1: ("metadata", OBJECT_META), 2: ("secrets", ["repeated", OBJECT_REF]),
                               3: ("imagePullSecrets", ["repeated", LOCAL_REF]),
                               4: ("automountServiceAccountToken", "bool")},
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", "[string]")})},
    ("v1", "ConfigMap"): {1: ("metadata", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "mapbytes"),
                          4: ("immutable", "bool")},
    ("v1", "Secret"): {1: ("metadata", OBJECT_META), 2: ("data", "mapbytes"), 3: ("type", "string"),
                       4: ("stringData", "map"), 5: ("immutable", "bool")},
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {
        1: ("metadata", OBJECT_META), 2: ("subjects", ["repeated", SUBJECT]), 3: ("roleRef", ROLE_REF)},
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): {
        1: ("metadata", OBJECT_META), 2: ("subjects", ["repeated", SUBJECT]), 3: ("roleRef", ROLE_REF)},
    ("rbac.authorization.k8s.io/v1", "Role"): {1: ("metadata", OBJECT_META),
                                              2: ("rules", ["repeated", POLICY_RULE])},
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {
        1: ("metadata", OBJECT_META), 2: ("rules", ["repeated", POLICY_RULE]),
        3: ("aggregationRule", {1: ("clusterRoleSelectors", ["repeated", LABEL_SELECTOR])})},
    ("policy/v1", "Eviction"): {1: ("metadata", OBJECT_META),
                                2: ("deleteOptions", {1: ("gracePeriodSeconds", "int")})},
}


class ProtobufError(ValueError):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        val: Any
        if wire == 0:
            val, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ProtobufError("truncated field")
            val, i = buf[i:i + n], i + n
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((num, wire, val))
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _map_entry(data: bytes, value_bytes: bool) -> tuple[str, Any]:
    k, v = "", b""
    for num, _, val in _fields(data):
        if num == 1:
            k = val.decode()
        elif num == 2:
            v = val
    return k, base64.b64encode(v).decode() if value_bytes else v.decode()


def decode_message(buf: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for num, _, val in _fields(buf):
        spec = schema.get(num)
        if spec is None:
            continue
        name, typ = spec
        if typ == "string":
            out[name] = val.decode()
        elif typ == "bytes":
            out[name] = base64.b64encode(val).decode()
        elif typ == "int":
            out[name] = _signed(val)
        elif typ == "bool":
            out[name] = bool(val)
        elif typ == "time":
            t = decode_message(val, TIME)
            out[name] = datetime.datetime.fromtimestamp(t.get("seconds", 0), datetime.UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
        elif typ == "[string]":
            out.setdefault(name, []).append(val.decode())
        elif typ in ("map", "mapbytes"):
            k, v = _map_entry(val, typ == "mapbytes")
            out.setdefault(name, {})[k] = v
        elif isinstance(typ, list):
            out.setdefault(name, []).append(decode_message(val, typ[1]))
        elif isinstance(typ, dict):
            out[name] = decode_message(val, typ)
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Decode a `k8s\\0`-prefixed protobuf body into its JSON form; raises ProtobufError."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the protobuf body does not start with the Kubernetes magic number")
    api_version = kind = ""
    raw = b""
    for num, _, val in _fields(body[len(MAGIC):]):
        if num == 1:
            for n2, _, v2 in _fields(val):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2:
            raw = val
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"protobuf is not supported for {kind or 'this kind'} ({api_version}); send JSON")
    obj = decode_message(raw, schema)
    return {"apiVersion": api_version, "kind": kind, **obj}
