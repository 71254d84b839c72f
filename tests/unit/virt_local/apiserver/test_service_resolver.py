"""Service → address: `--service` wins over `services.yaml` (re-read when it changes), else a
ready Endpoints address in turn; a missing Service or one without endpoints is a 503 Status."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from virt_local.apiserver import errors
from virt_local.apiserver.service_resolver import ServiceResolver
from virt_local.apiserver.store import Store

SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "demo"},
       "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}
EPS = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "api", "namespace": "demo"},
       "subsets": [{"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}], "ports": [{"name": "https", "port": 8443}]}]}


def _write(path: Path, text: str, stamp: int) -> None:
    path.write_text(text)
    os.utime(path, (stamp, stamp))  # a distinct mtime, as an edit a second later would have


async def test_static_map_then_file_then_endpoints(store: Store, tmp_path: Path) -> None:
    services = tmp_path / "services.yaml"
    resolver = ServiceResolver(store=store, services_file=services,
                               static_map={"demo/flag:443": "127.0.0.1:1001"})
    await store.put(("", "services"), copy.deepcopy(SVC))
    await store.put(("", "endpoints"), copy.deepcopy(EPS))
    assert resolver.resolve("demo", "flag", 443) == "127.0.0.1:1001"
    assert [resolver.resolve("demo", "api", 443) for _ in range(3)] == [
        "10.0.0.1:8443", "10.0.0.2:8443", "10.0.0.1:8443"]
    _write(services, '"demo/api:443": "127.0.0.1:2002"\n"demo/flag:443": "127.0.0.1:9"\n', 1_000_000)
    assert resolver.resolve("demo", "api", 443) == "127.0.0.1:2002"
    assert resolver.resolve("demo", "flag", 443) == "127.0.0.1:1001"  # the flag wins over the file
    _write(services, '"demo/api:443": "127.0.0.1:3003"\n', 1_000_060)
    assert resolver.resolve("demo", "api", 443) == "127.0.0.1:3003"
    services.unlink()
    assert resolver.resolve("demo", "api", 443).endswith(":8443")


@pytest.mark.parametrize("objects, message", [
    ([], 'service "demo/api" not found'),
    ([(("", "services"), SVC)], 'no endpoints available for service "demo/api" (port 443)'),
], ids=["no-service", "no-endpoints"])
async def test_unresolvable_is_503(store: Store, tmp_path: Path, objects: list[tuple[tuple[str, str], dict[str, object]]],
                                   message: str) -> None:
    for tk, obj in objects:
        await store.put(tk, copy.deepcopy(obj))
    resolver = ServiceResolver(store=store, services_file=tmp_path / "services.yaml", static_map={})
    with pytest.raises(errors.ApiError) as refused:
        resolver.resolve("demo", "api", 443)
    assert (refused.value.code, refused.value.message) == (503, message)


async def test_webhook_url(store: Store, tmp_path: Path) -> None:
    resolver = ServiceResolver(store=store, services_file=tmp_path / "services.yaml",
                               static_map={"demo/hook:443": "127.0.0.1:4004"})
    assert resolver.webhook_url({"url": "https://hooks.example/x"}) == ("https://hooks.example/x", "")
    assert resolver.webhook_url({"service": {"namespace": "demo", "name": "hook", "path": "/mutate"}}) == (
        "https://127.0.0.1:4004/mutate", "hook.demo.svc")
