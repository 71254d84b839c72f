"""The Prometheus registry shared by every component, the library's own metrics, and a tiny
asyncio HTTP server for `/metrics`, `/healthz` and `/readyz`.

Invariants:
- All metrics live in `REGISTRY` (not the prometheus_client global one), so a process exposes
  exactly what it registered, and components add theirs with `registry=REGISTRY`.
- Metric families are created once at import; per-name children are cached so hot paths (the work
  queue) pay one dictionary lookup, not a label resolution, per operation.
- The server answers one request per connection and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

_WQ_DEPTH = Gauge("workqueue_depth", "Current depth of the work queue.", ["name"], registry=REGISTRY)
_WQ_ADDS = Counter("workqueue_adds_total", "Adds handled by the work queue.", ["name"], registry=REGISTRY)
_WQ_RETRIES = Counter("workqueue_retries_total", "Rate-limited re-adds.", ["name"], registry=REGISTRY)

CLIENT_REQUESTS = Counter(
    "rest_client_requests_total",
    "HTTP requests to the API server, by method and code.",
    ["method", "code"],
    registry=REGISTRY,
)
CLIENT_LATENCY = Histogram(
    "rest_client_request_duration_seconds",
    "Latency of API server requests (until headers), by verb.",
    ["method"],
    registry=REGISTRY,
)
INFORMER_EVENTS = Counter(
    "informer_events_total", "Watch events applied to informer caches.", ["resource", "type"], registry=REGISTRY
)
INFORMER_RELISTS = Counter(
    "informer_relists_total", "Full lists performed by informers.", ["resource"], registry=REGISTRY
)
RECONCILES = Counter(
    "controller_reconcile_total", "Reconciles by controller and result.", ["controller", "result"], registry=REGISTRY
)
RECONCILE_SECONDS = Histogram(
    "controller_reconcile_duration_seconds", "Reconcile duration.", ["controller"], registry=REGISTRY
)
LEADER = Gauge("leader_election_master_status", "1 while this process holds the lease.", ["name"], registry=REGISTRY)


@dataclass(frozen=True)
class WorkQueueMetrics:
    depth: Gauge
    adds: Counter
    retries: Counter


@cache
def workqueue_metrics(name: str) -> WorkQueueMetrics:
    """The metric children for the work queue called `name`."""
    return WorkQueueMetrics(_WQ_DEPTH.labels(name), _WQ_ADDS.labels(name), _WQ_RETRIES.labels(name))


HealthCheck = Callable[[], bool]


class MetricsServer:
    """Serves `/metrics` from a registry and `/healthz`, `/readyz` from callables."""

    def __init__(
        self,
        *,
        address: str = "0.0.0.0",
        port: int = 8080,
        registry: CollectorRegistry = REGISTRY,
        healthz: HealthCheck | None = None,
        readyz: HealthCheck | None = None,
    ) -> None:
        self.address = address
        self.port = port
        self._registry = registry
        self._checks: Mapping[str, HealthCheck | None] = {"/healthz": healthz, "/readyz": readyz}
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; return the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(self._handle, self.address, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def run(self) -> None:
        """Serve until cancelled."""
        await self.start()
        try:
            await asyncio.Future()
        finally:
            await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, ctype, body = self._respond(path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _respond(self, path: str) -> tuple[str, str, bytes]:
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)
        if path in self._checks:
            check = self._checks[path]
            healthy = True if check is None else bool(check())
            if healthy:
                return "200 OK", "text/plain", b"ok"
            return "503 Service Unavailable", "text/plain", b"not ok"
        return "404 Not Found", "text/plain", b"not found"
