"""Fake clock ordering, JSON log lines, and the metrics/health endpoint."""

from __future__ import annotations

import asyncio
import io
import logging

import orjson
import pytest

from virt_client.clock import FakeClock
from virt_client.logs import JsonFormatter, object_fields
from virt_client.metrics import REGISTRY, MetricsServer, workqueue_metrics


def test_fake_clock_fires_timers_in_order_and_moves_wall_time() -> None:
    clock = FakeClock()
    fired: list[tuple[str, float]] = []
    start_wall = clock.now()
    clock.call_later(3, lambda: fired.append(("c", clock.monotonic())))
    clock.call_later(1, lambda: fired.append(("a", clock.monotonic())))
    cancelled = clock.call_later(2, lambda: fired.append(("x", clock.monotonic())))
    clock.call_later(1, lambda: fired.append(("b", clock.monotonic())))
    cancelled.cancel()
    clock.advance(2.5)
    assert [name for name, _ in fired] == ["a", "b"]
    assert fired[0][1] == 1001.0
    clock.advance(1)
    assert [name for name, _ in fired] == ["a", "b", "c"]
    assert (clock.now() - start_wall).total_seconds() == 3.5
    assert clock.pending_timers == 0


async def test_fake_sleep_wakes_on_advance() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    clock.advance(4)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(1)
    await asyncio.wait_for(task, 5)


def test_json_log_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("virt-controller"))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        vmi = {"kind": "VirtualMachineInstance", "metadata": {"namespace": "ns", "name": "v", "uid": "u"}}
        logger.warning("sync %s failed", "v", extra=object_fields(vmi))
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("crashed")
    finally:
        logger.removeHandler(handler)
    first, second = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "warning" and first["msg"] == "sync v failed"
    assert first["component"] == "virt-controller"
    assert (first["kind"], first["namespace"], first["name"], first["uid"]) == ("VirtualMachineInstance", "ns", "v", "u")
    assert first["pos"].startswith("test_client_clock_logs_metrics.py:")
    assert "RuntimeError: boom" in second["reason"]


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
