"""The metrics and health endpoint."""

from __future__ import annotations

import asyncio

import pytest

from virt_client.metrics import REGISTRY, MetricsServer, workqueue_metrics


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("path", "healthy", "code"),
    [("/metrics", True, 200), ("/healthz", True, 200), ("/healthz", False, 503), ("/readyz", True, 200),
     ("/nope", True, 404)],
    ids=["metrics", "healthy", "unhealthy", "ready-default", "unknown"],
)
async def test_metrics_server(path: str, healthy: bool, code: int) -> None:
    workqueue_metrics("metrics-test").adds.inc()
    server = MetricsServer(address="127.0.0.1", port=0, registry=REGISTRY, healthz=lambda: healthy)
    port = await server.start()
    try:
        status, body = await http_get(port, path)
    finally:
        await server.close()
    assert status == code
    if path == "/metrics":
        assert b'workqueue_adds_total{name="metrics-test"} 1.0' in body
