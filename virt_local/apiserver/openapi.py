"""OpenAPI v3 documents (`/openapi/v3`, `/openapi/v3/apis/<g>/<v>`) as kubectl 1.32 consumes them.

What kubectl reads, and what these documents therefore carry:

* Discovery of documents: `GET /openapi/v3` returns `{"paths": {"apis/<g>/<v>": {"serverRelativeURL":
  "/openapi/v3/apis/<g>/<v>?hash=<H>"}, "api/v1": ...}}` (`openapi_v3_index`); client-go caches a
  document by that URL, so the hash must change whenever the document does (`document_hash`).
* `kubectl explain` (explain/v2 template): finds the GVK in the `x-kubernetes-group-version-kind`
  extension (a single object) of an operation under `/apis/<g>/<v>/<plural>`,
  `.../<plural>/{name}` or the `namespaces/{namespace}` variants, then the component schema whose
  `x-kubernetes-group-version-kind` (a list) contains that GVK; it follows `$ref`, single-entry
  `allOf`, `items` and `additionalProperties`. So metadata is `allOf: [$ref ObjectMeta]`.
* Server-side field validation (cli-runtime QueryParamVerifierV3): some PATCH operation carrying
  the resource's GVK must list a parameter named `fieldValidation` among the *operation's own*
  `parameters` (path-level parameters are not looked at). Every PATCH here has it, so kubectl
  never falls back to client-side validation (which needs /openapi/v2).
* Patch type of `kubectl apply` (apply/patcher.go): it uses strategic merge patch computed from
  the v3 schema only if the PATCH operation for the GVK lists
  `application/strategic-merge-patch+json`; otherwise it tries /openapi/v2, then its compiled-in
  types: built-in kinds get strategic merge patch from kubectl's own Go types, kinds it does not
  know (custom resources) get JSON merge patch. Custom resources must never advertise strategic
  merge (kube-apiserver answers 415 to it). For built-ins we do not advertise it either by
  default: our built-in schemas are partial, and kubectl's v3 path fails on any field missing
  from the schema ("unable to find api field"), printing a warning on every apply before falling
  back. Without it kubectl computes the same patch type from its compiled-in types, exactly.
  `strategic_merge_for_builtins=True` restores upstream's content list for complete schemas.
* /openapi/v2 is fetched by kubectl only as protobuf (gnostic `openapi_v2.Document`); nothing on
  our path needs its content. A server should answer it with an empty body and content type
  `OPENAPI_V2_PROTOBUF` (an empty protobuf message is a valid empty Document): kubectl's v2
  fallbacks (apply patch type, client-side validation of `kind: List` items) then find no
  definitions and skip, instead of failing on a 404 or a JSON body.

Invariants: pure functions; output is plain JSON data, deterministic for equal input (keys sorted
when serialised by `document_hash`), and never shares structure with the inputs.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from virt_local.apiserver.resources import ResourceInfo
from virt_local.apiserver.schema_builtin import (
    API_VERSION_DOC,
    KIND_DOC,
    LIST_META,
    META,
    META_SCHEMAS,
    METADATA_DOC,
    OBJECT_META,
    SCALE,
    SCALE_SCHEMA,
    builtin_kind_schema,
    ref,
)

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
PATCH_TYPES_CUSTOM = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)
STRATEGIC_MERGE = "application/strategic-merge-patch+json"


def openapi_v3_index(groups: Mapping[str, str]) -> dict[str, Any]:
    """The `/openapi/v3` index: group-version path (`apis/<g>/<v>` or `api/v1`) → its URL with hash."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
            for path, digest in sorted(groups.items())
        }
    }


def document_hash(doc: Mapping[str, Any]) -> str:
    """SHA-512 of the canonical JSON of `doc`, upper-case hex as kube-apiserver writes it."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha512(text.encode()).hexdigest().upper()


def schema_name(group: str, version: str, kind: str) -> str:
    """Component name as kube spells it: `io.k8s.api.core.v1.Pod`, `io.kubevirt.v1.VirtualMachine`."""
    if not group:
        prefix = "io.k8s.api.core"
    elif group == "apiextensions.k8s.io":
        prefix = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions"
    elif group.endswith(".k8s.io") or "." not in group:
        prefix = "io.k8s.api." + group.split(".")[0]
    else:
        prefix = ".".join(reversed(group.split(".")))
    return f"{prefix}.{version}.{kind}"


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _param(name: str, where: str, description: str, type_: str = "string") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": where, "description": description, "schema": {"type": type_}}
    if where == "path":
        out["required"] = True
    else:
        out["schema"]["uniqueItems"] = True
    return out


_P = {
    "pretty": _param("pretty", "query", "If 'true', then the output is pretty printed."),
    "dryRun": _param(
        "dryRun",
        "query",
        "When present, indicates that modifications should not be persisted. Valid value: All",
    ),
    "fieldManager": _param(
        "fieldManager",
        "query",
        "fieldManager is a name associated with the actor or entity that is making these changes.",
    ),
    "fieldValidation": _param(
        "fieldValidation",
        "query",
        "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate "
        "fields. Valid values are: Ignore, Warn (default), Strict.",
    ),
    "force": _param("force", "query", 'Force is going to "force" Apply requests.', "boolean"),
    "labelSelector": _param(
        "labelSelector", "query", "A selector to restrict the list of returned objects by their labels."
    ),
    "fieldSelector": _param(
        "fieldSelector", "query", "A selector to restrict the list of returned objects by their fields."
    ),
    "limit": _param(
        "limit", "query", "limit is a maximum number of responses to return for a list call.", "integer"
    ),
    "continue": _param(
        "continue", "query", "The continue option should be set when retrieving more results from the server."
    ),
    "watch": _param(
        "watch",
        "query",
        "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        "boolean",
    ),
    "resourceVersion": _param(
        "resourceVersion",
        "query",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ),
    "resourceVersionMatch": _param(
        "resourceVersionMatch",
        "query",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ),
    "timeoutSeconds": _param("timeoutSeconds", "query", "Timeout for the list/watch call.", "integer"),
    "allowWatchBookmarks": _param(
        "allowWatchBookmarks",
        "query",
        'allowWatchBookmarks requests watch events with type "BOOKMARK".',
        "boolean",
    ),
    "gracePeriodSeconds": _param(
        "gracePeriodSeconds",
        "query",
        "The duration in seconds before the object should be deleted.",
        "integer",
    ),
    "propagationPolicy": _param(
        "propagationPolicy", "query", "Whether and how garbage collection will be performed."
    ),
    "name": _param("name", "path", "name of the resource"),
    "namespace": _param("namespace", "path", "object name and auth scope, such as for teams and projects"),
}
_LIST_Q = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "timeoutSeconds",
    "watch",
)
_WRITE_Q = ("dryRun", "fieldManager", "fieldValidation")
_DELETE_Q = ("dryRun", "gracePeriodSeconds", "propagationPolicy")


def _params(*names: str) -> list[dict[str, Any]]:
    return [copy.deepcopy(_P[n]) for n in names]


def _content(schema_ref: str, types: Sequence[str]) -> dict[str, Any]:
    return {t: {"schema": ref(schema_ref)} for t in types}


_RESPONSE_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")


def _op(
    action: str,
    op_id: str,
    gvk: dict[str, str],
    returns: str,
    *,
    params: Sequence[str],
    body: Sequence[str] = (),
    body_ref: str = "",
    tag: str = "",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [tag],
        "description": f"{action} {gvk['kind']}",
        "operationId": op_id,
        "parameters": _params(*params),
        "responses": {
            "200": {"description": "OK", "content": _content(returns, _RESPONSE_TYPES)},
            "401": {"description": "Unauthorized"},
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": dict(gvk),
    }
    if body:
        op["requestBody"] = {"content": _content(body_ref or returns, body), "required": True}
    if action in ("post", "put"):
        op["responses"]["201"] = {"description": "Created", "content": _content(returns, _RESPONSE_TYPES)}
    return op


def _op_prefix(group: str, version: str) -> str:
    words = [w.capitalize() for w in (group or "core").split(".")]
    return "".join(words) + version.capitalize()


def _paths_for(res: ResourceInfo, *, strategic: bool) -> dict[str, dict[str, Any]]:
    base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    gvk = _gvk(res.group, res.version, res.kind)
    obj = schema_name(res.group, res.version, res.kind)
    lst = obj + "List"
    tag = _op_prefix(res.group, res.version)
    scope = "Namespaced" if res.namespaced else ""
    kind_id = f"{tag}{scope}{res.kind}"
    patch_types = (*PATCH_TYPES_CUSTOM, STRATEGIC_MERGE) if strategic else PATCH_TYPES_CUSTOM
    verbs = set(res.verbs)
    collection = f"{base}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{base}/{res.plural}"
    item = f"{collection}/{{name}}"
    scope_params = [_P["namespace"]] if res.namespaced else []
    paths: dict[str, dict[str, Any]] = {}

    def add(path: str, method: str, op: dict[str, Any], extra: Sequence[dict[str, Any]]) -> None:
        entry = paths.setdefault(path, {"parameters": [copy.deepcopy(p) for p in (*extra, _P["pretty"])]})
        entry[method] = op

    item_params = [_P["name"], *scope_params]
    if "list" in verbs:
        add(collection, "get", _op("list", f"list{kind_id}", gvk, lst, params=_LIST_Q, tag=tag), scope_params)
        if res.namespaced:
            add(
                f"{base}/{res.plural}",
                "get",
                _op("list", f"list{tag}{res.kind}ForAllNamespaces", gvk, lst, params=_LIST_Q, tag=tag),
                [],
            )
    if "create" in verbs:
        add(
            collection,
            "post",
            _op("post", f"create{kind_id}", gvk, obj, params=_WRITE_Q, body=("*/*",), tag=tag),
            scope_params,
        )
    if "deletecollection" in verbs:
        add(
            collection,
            "delete",
            _op(
                "deletecollection",
                f"deletecollection{kind_id}",
                gvk,
                META + "Status",
                params=(*_DELETE_Q, *_LIST_Q),
                tag=tag,
            ),
            scope_params,
        )
    if "get" in verbs:
        add(item, "get", _op("get", f"read{kind_id}", gvk, obj, params=(), tag=tag), item_params)
    if "update" in verbs:
        add(
            item,
            "put",
            _op("put", f"replace{kind_id}", gvk, obj, params=_WRITE_Q, body=("*/*",), tag=tag),
            item_params,
        )
    if "patch" in verbs:
        add(
            item,
            "patch",
            _op(
                "patch",
                f"patch{kind_id}",
                gvk,
                obj,
                params=(*_WRITE_Q, "force"),
                body=patch_types,
                body_ref=META + "Patch",
                tag=tag,
            ),
            item_params,
        )
    if "delete" in verbs:
        add(
            item,
            "delete",
            _op("delete", f"delete{kind_id}", gvk, META + "Status", params=_DELETE_Q, tag=tag),
            item_params,
        )
    for sub in res.subresources:
        if sub not in ("status", "scale"):
            continue
        sub_gvk = gvk if sub == "status" else _gvk("autoscaling", "v1", "Scale")
        sub_obj = obj if sub == "status" else SCALE
        sub_id = f"{kind_id}{sub.capitalize()}"
        sub_path = f"{item}/{sub}"
        add(sub_path, "get", _op("get", f"read{sub_id}", sub_gvk, sub_obj, params=(), tag=tag), item_params)
        add(
            sub_path,
            "put",
            _op("put", f"replace{sub_id}", sub_gvk, sub_obj, params=_WRITE_Q, body=("*/*",), tag=tag),
            item_params,
        )
        add(
            sub_path,
            "patch",
            _op(
                "patch",
                f"patch{sub_id}",
                sub_gvk,
                sub_obj,
                params=(*_WRITE_Q, "force"),
                body=patch_types,
                body_ref=META + "Patch",
                tag=tag,
            ),
            item_params,
        )
    return paths


def _resource_schema(res: ResourceInfo) -> dict[str, Any]:
    if res.schema is None:
        schema = builtin_kind_schema(res.kind, f"{res.kind} is a built-in {res.api_version} resource.")
    else:
        schema = copy.deepcopy(res.schema)
        schema.setdefault("type", "object")
        props = schema.setdefault("properties", {})
        if isinstance(props, dict):
            props["apiVersion"] = {"description": API_VERSION_DOC, "type": "string"}
            props["kind"] = {"description": KIND_DOC, "type": "string"}
            props["metadata"] = {"allOf": [ref(OBJECT_META)], "default": {}, "description": METADATA_DOC}
    schema["x-kubernetes-group-version-kind"] = [_gvk(res.group, res.version, res.kind)]
    return schema


def _list_schema(res: ResourceInfo) -> dict[str, Any]:
    list_kind = res.list_kind or f"{res.kind}List"
    return {
        "description": f"{list_kind} is a list of {res.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DOC, "type": "string"},
            "kind": {"description": KIND_DOC, "type": "string"},
            "metadata": {"allOf": [ref(LIST_META)], "default": {}, "description": "Standard list metadata."},
            "items": {
                "description": f"List of {res.plural}.",
                "type": "array",
                "items": ref(schema_name(res.group, res.version, res.kind)),
            },
        },
        "x-kubernetes-group-version-kind": [_gvk(res.group, res.version, list_kind)],
    }


def openapi_v3_document(
    resources: Sequence[ResourceInfo], group: str, version: str, *, strategic_merge_for_builtins: bool = False
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of one group-version, for the resources of it in `resources`."""
    chosen = sorted(
        (r for r in resources if r.group == group and r.version == version), key=lambda r: r.plural
    )
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = copy.deepcopy(META_SCHEMAS)
    for res in chosen:
        paths.update(
            _paths_for(
                res, strategic=strategic_merge_for_builtins and not res.from_crd and res.schema is None
            )
        )
        name = schema_name(res.group, res.version, res.kind)
        schemas[name] = _resource_schema(res)
        schemas[name + "List"] = _list_schema(res)
        if "scale" in res.subresources:
            schemas[SCALE] = copy.deepcopy(SCALE_SCHEMA)
    title = "Kubernetes CRD Swagger" if any(r.from_crd for r in chosen) else "Kubernetes"
    return {
        "openapi": "3.0.0",
        "info": {"title": title, "version": "unversioned"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
    }
