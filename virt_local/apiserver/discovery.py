"""Non-resource endpoints: /version, /api, /apis, group and version documents, OpenAPI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from .httpserver import Request, Response

if TYPE_CHECKING:
    from .server import ApiServer

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-virtlocal", "gitCommit": "", "gitTreeState": "clean",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"}


def _json(doc: Any) -> Response:
    return Response(body=orjson.dumps(doc))


def version() -> Response:
    return _json(VERSION)


def non_resource(server: ApiServer, path: str, req: Request) -> Response | None:
    table = server.table
    if path == "/version":
        return version()
    if path == "/api":
        return _json(table.api_versions())
    if path == "/apis":
        return _json(table.api_group_list())
    if path == "/api/v1":
        return _json(table.api_resource_list("", "v1"))
    if path == "/openapi/v2":
        return server_openapi_v2(server)
    if path.startswith("/openapi/v3"):
        return server_openapi_v3(server, path)
    parts = path.strip("/").split("/")
    if parts[0] == "apis" and len(parts) == 2:
        doc = table.api_group(parts[1])
        return _json({"kind": "APIGroup", "apiVersion": "v1", **doc}) if doc else None
    if parts[0] == "apis" and len(parts) == 3:
        doc = table.api_resource_list(parts[1], parts[2])
        return _json(doc) if doc else None
    return None


def _gv_resources(server: ApiServer) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for (g, v, _), r in server.table.resources.items():
        key = f"apis/{g}/{v}" if g else "api/v1"
        out.setdefault(key, []).append(r)
    return out


def server_openapi_v3(server: ApiServer, path: str) -> Response | None:
    from . import openapi

    gvs = _gv_resources(server)
    cache = server.__dict__.setdefault("_openapi_cache", {})
    token = id(server.table)
    if cache.get("token") != token:
        cache.clear()
        cache["token"] = token
        docs = {}
        for key, rs in gvs.items():
            group, version = ("", "v1") if key == "api/v1" else tuple(key.split("/")[1:3])
            doc = openapi.openapi_v3_document(rs, group, version)
            docs[key] = (orjson.dumps(doc), openapi.document_hash(doc))
        cache["docs"] = docs
        cache["index"] = orjson.dumps(openapi.openapi_v3_index({k: h for k, (_, h) in docs.items()}))
    if path.rstrip("/") == "/openapi/v3":
        return Response(body=cache["index"])
    key = path[len("/openapi/v3/"):].strip("/")
    if key in cache["docs"]:
        return Response(body=cache["docs"][key][0])
    return None


def server_openapi_v2(server: ApiServer) -> Response | None:
    """kubectl asks for the v2 document as protobuf only; an empty message is a valid, empty
    document, which makes kubectl rely on the v3 documents (see openapi.py)."""
    from . import openapi

    return Response(body=b"", content_type=openapi.OPENAPI_V2_PROTOBUF)
