"""Non-resource endpoints: /version, /api, /apis, group and version documents, OpenAPI.

They are answered from the current `ResourceTable` (built-in resources, established CRDs,
aggregated group versions); the OpenAPI v3 documents are built once per table.
"""

from __future__ import annotations

from typing import Any

import orjson

from .httpserver import Response
from .registry import ResourceTable
from .resources import ResourceInfo

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-virtlocal", "gitCommit": "", "gitTreeState": "clean",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"}


def _json(doc: Any) -> Response:
    return Response(body=orjson.dumps(doc))


def version() -> Response:
    return _json(VERSION)


def non_resource(table: ResourceTable, openapi_docs: OpenApiDocuments, path: str) -> Response | None:
    """The document at `path` for the resources in `table`, or None when there is none."""
    if path == "/version":
        return version()
    if path == "/api":
        return _json(table.api_versions())
    if path == "/apis":
        return _json(table.api_group_list())
    if path == "/api/v1":
        return _json(table.api_resource_list("", "v1"))
    if path == "/openapi/v2":
        return openapi_v2()
    if path.startswith("/openapi/v3"):
        return openapi_docs.v3(table, path)
    parts = path.strip("/").split("/")
    if parts[0] == "apis" and len(parts) == 2:
        doc = table.api_group(parts[1])
        return _json({"kind": "APIGroup", "apiVersion": "v1", **doc}) if doc else None
    if parts[0] == "apis" and len(parts) == 3:
        doc = table.api_resource_list(parts[1], parts[2])
        return _json(doc) if doc else None
    return None


class OpenApiDocuments:
    """The OpenAPI v3 index and group-version documents of one `ResourceTable`, built on the first
    request and kept until the table is replaced (a CRD or APIService changed)."""

    def __init__(self) -> None:
        self._table: ResourceTable | None = None
        self._docs: dict[str, bytes] = {}
        self._index = b""

    def _build(self, table: ResourceTable) -> None:
        from . import openapi

        gvs: dict[str, list[ResourceInfo]] = {}
        for (g, v, _), r in table.resources.items():
            gvs.setdefault(f"apis/{g}/{v}" if g else "api/v1", []).append(r)
        docs, hashes = {}, {}
        for key, rs in gvs.items():
            group, version = ("", "v1") if key == "api/v1" else tuple(key.split("/")[1:3])
            doc = openapi.openapi_v3_document(rs, group, version)
            docs[key], hashes[key] = orjson.dumps(doc), openapi.document_hash(doc)
        self._docs = docs
        self._index = orjson.dumps(openapi.openapi_v3_index(hashes))
        self._table = table

    def v3(self, table: ResourceTable, path: str) -> Response | None:
        if self._table is not table:
            self._build(table)
        if path.rstrip("/") == "/openapi/v3":
            return Response(body=self._index)
        doc = self._docs.get(path[len("/openapi/v3/"):].strip("/"))
        return Response(body=doc) if doc is not None else None


def openapi_v2() -> Response:
    """kubectl asks for the v2 document as protobuf only; an empty message is a valid, empty
    document, which makes kubectl rely on the v3 documents (see openapi.py)."""
    from . import openapi

    return Response(body=b"", content_type=openapi.OPENAPI_V2_PROTOBUF)
