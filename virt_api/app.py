"""The FastAPI application: discovery, health, metrics, subresources, streams and webhooks.

`create_app(state)` wires the routers behind the `Guard` middleware and maps `SubresourceError`
to `Status` answers and `PlainTextError` to plain text. Anything unexpected is answered as a 500
`Status` (and logged), never as a bare traceback.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from virt_client.errors import ApiError, TransportError
from virt_client.metrics import REGISTRY

from . import discovery, streams, subresources
from .admission.routes import WEBHOOK_PATHS
from .admission.routes import router as admission_router
from .errors import PlainTextError, SubresourceError
from .guard import Guard
from .state import ApiState

log = logging.getLogger("virt_api")
VERSION = "v0.1.0"
GROUP = discovery.GROUP_PATH


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _healthz(request: Request) -> Response:
    st: ApiState = request.app.state.api
    if not st.ready:
        return _json({"apiserver": {"connectivity": "shutting down"}}, 500)
    try:
        version = await st.server_version()
    except (ApiError, TransportError) as e:
        return _json({"apiserver": {"connectivity": "failed", "error": str(e)}}, 500)
    return _json({"apiserver": {"connectivity": "ok", "version": version}, "config-resource-version": ""})


def create_app(state: ApiState) -> Guard:
    """The ASGI application for `state`."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.api = state

    @app.exception_handler(SubresourceError)
    async def _status_error(_r: Request, e: SubresourceError) -> Response:
        return _json(e.status(), e.code)

    @app.exception_handler(PlainTextError)
    async def _plain_error(_r: Request, e: PlainTextError) -> Response:
        return Response(e.message, status_code=e.code, media_type="text/plain")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_r: Request, e: RequestValidationError) -> Response:
        return _json(SubresourceError(400, f"invalid request: {e.errors()[:1]}").status(), 400)

    @app.exception_handler(Exception)
    async def _unexpected(_r: Request, e: Exception) -> Response:
        log.exception("unexpected error")
        return _json(SubresourceError(500, f"Internal error occurred: {type(e).__name__}").status(), 500)

    @app.get("/")
    async def root() -> Response:
        return _json(discovery.root_paths())

    @app.get("/apis")
    async def apis() -> Response:
        return _json(discovery.api_group_list())

    @app.get(GROUP)
    @app.get(GROUP + "/")
    async def group() -> Response:
        return _json(discovery.api_group())

    @app.get(GROUP + "/{version}")
    @app.get(GROUP + "/{version}/")
    async def resources(version: str) -> Response:
        if version not in discovery.VERSIONS:
            return _json(SubresourceError(404, "the server could not find the requested resource").status(), 404)
        return _json(discovery.api_resource_list(version))

    @app.get(GROUP + "/{version}/version")
    async def version(version: str) -> Response:
        return _json(discovery.version_info(VERSION))

    app.add_api_route("/healthz", _healthz, methods=["GET"])
    app.add_api_route(GROUP + "/{version}/healthz", _healthz, methods=["GET"])

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    app.include_router(subresources.router)
    app.include_router(streams.router)
    app.include_router(admission_router)
    return Guard(app, state, WEBHOOK_PATHS)
