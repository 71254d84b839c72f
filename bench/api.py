"""Figures for virt-api through the embedded API server's aggregation (prints them; never pass/fail).

- latency p50/p99 of `start` and `stop` on a Halted VM (alternating), one client, bearer token
- requests/s of `pause` on a missing VMI (404 after the SubjectAccessReview), 8 concurrent clients

The clients write each request in one write over a keep-alive TLS connection (as client-go does),
so the figures measure the servers rather than a Python HTTP client. Every request costs virt-api
one GET from the API server, so its client rate limit (`--qps`, 200 by default) caps the figure;
the bench raises it (`--virt-api-qps`) to measure the servers rather than the limit.

Usage: .venv/bin/python bench/api.py [--requests 300] [--clients 8] [--seconds 5] [--virt-api-qps 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.virt_api import start_virt_api_stack, vm  # noqa: E402

BASE = "/apis/subresources.kubevirt.io/v1/namespaces/demo"


class Connection:
    """One keep-alive TLS connection; `put` sends a bodiless PUT and returns (status, body)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, token: str) -> None:
        self.reader, self.writer = reader, writer
        self.prefix = f"Host: {host}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n".encode()

    @classmethod
    async def open(cls, url: str, ca: Path, token: str) -> Connection:
        host, port = url.removeprefix("https://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port), ssl=ssl.create_default_context(cafile=str(ca)))
        return cls(reader, writer, host, token)

    async def put(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"PUT {path} HTTP/1.1\r\n".encode() + self.prefix)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length")), 0)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self.writer.wait_closed()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def start_stop(url: str, ca: Path, token: str, n: int) -> None:
    lat: dict[str, list[float]] = {"start": [], "stop": []}
    c = await Connection.open(url, ca, token)
    try:
        for i in range(n):
            action = "start" if i % 2 == 0 else "stop"
            t0 = time.perf_counter()
            status, body = await c.put(f"{BASE}/virtualmachines/bench1/{action}")
            lat[action].append(time.perf_counter() - t0)
            if status != 202:
                raise SystemExit(f"{action}: {status} {body!r}")
    finally:
        await c.close()
    for action, values in lat.items():
        print(f"{action:6s} via aggregation: n={len(values)} p50={_pct(values, 0.5):.1f} ms "
              f"p99={_pct(values, 0.99):.1f} ms mean={statistics.mean(values) * 1000:.1f} ms")


async def pause_missing(url: str, ca: Path, token: str, clients: int, seconds: float, qps: int) -> None:
    count = 0
    conns = [await Connection.open(url, ca, token) for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    async def worker(c: Connection) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            status, body = await c.put(f"{BASE}/virtualmachineinstances/missing/pause")
            if status != 404:
                raise SystemExit(f"pause: {status} {body!r}")
            count += 1

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    elapsed = time.perf_counter() - t0
    print(f"pause of a missing VMI (404 after SAR): {count / elapsed:.0f} requests/s with {clients} clients "
          f"(virt-api client QPS {qps})")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--virt-api-qps", type=int, default=2000, help="virt-api's client QPS (burst: twice that)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_virt_api_stack(Path(tmp), extra_args=("--qps", str(a.virt_api_qps), "--burst", str(2 * a.virt_api_qps)))
        try:
            stack.apply(vm("bench1", run_strategy="Halted"))
            asyncio.run(start_stop(stack.api.url, stack.api.ca_file, stack.api.token, a.requests))
            asyncio.run(pause_missing(stack.api.url, stack.api.ca_file, stack.api.token, a.clients, a.seconds,
                                      a.virt_api_qps))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
