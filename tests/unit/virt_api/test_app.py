"""The app's own routes over the in-memory API server: discovery, health and metrics."""

from __future__ import annotations

import orjson
import pytest

from virt_client.errors import TransportError

from .conftest import VirtApi, status_body

GROUP = "/apis/subresources.kubevirt.io"


@pytest.mark.parametrize(("path", "kind"), [
    ("/apis", "APIGroupList"),
    (GROUP, "APIGroup"),
    (GROUP + "/", "APIGroup"),
    (GROUP + "/v1", "APIResourceList"),
    (GROUP + "/v1alpha3/", "APIResourceList"),
], ids=["apis", "group", "group-slash", "v1", "v1alpha3"])
async def test_discovery_documents(api: VirtApi, path: str, kind: str) -> None:
    resp = await api.client.get(path)
    assert resp.status_code == 200
    assert orjson.loads(resp.content)["kind"] == kind


async def test_root_lists_the_group_paths(api: VirtApi) -> None:
    resp = await api.client.get("/")
    assert orjson.loads(resp.content)["paths"] == ["/apis", "/openapi/v2", GROUP, GROUP + "/v1", GROUP + "/v1alpha3"]


async def test_unknown_version_of_the_group_is_404(api: VirtApi) -> None:
    resp = await api.client.get(GROUP + "/v9")
    assert (resp.status_code, status_body(resp)["reason"]) == (404, "NotFound")


async def test_version(api: VirtApi) -> None:
    resp = await api.client.get(GROUP + "/v1/version")
    assert orjson.loads(resp.content)["gitVersion"] == "v0.1.0"


@pytest.mark.parametrize("path", ["/healthz", GROUP + "/v1/healthz"], ids=["root", "group"])
async def test_healthz_reports_the_api_server_version(api: VirtApi, path: str) -> None:
    resp = await api.client.get(path)
    assert resp.status_code == 200
    assert orjson.loads(resp.content) == {"apiserver": {"connectivity": "ok", "version": {"gitVersion": "v1.31.0"}},
                                          "config-resource-version": ""}


async def test_healthz_fails_when_the_api_server_cannot_be_reached(api: VirtApi) -> None:
    api.version = TransportError("connection refused")
    resp = await api.client.get("/healthz")
    assert resp.status_code == 500
    assert orjson.loads(resp.content) == {"apiserver": {"connectivity": "failed", "error": "connection refused"}}


async def test_healthz_fails_while_shutting_down(api: VirtApi) -> None:
    api.state.ready = False
    resp = await api.client.get("/healthz")
    assert (resp.status_code, orjson.loads(resp.content)) == (500, {"apiserver": {"connectivity": "shutting down"}})


async def test_metrics_count_requests(api: VirtApi) -> None:
    resp = await api.client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert b"kubevirt_virt_api_requests_total" in resp.content
