"""Figures for virt-api through the embedded API server's aggregation (prints them; never pass/fail).

- latency p50/p99 of `start` and `stop` on a Halted VM (alternating), one client, bearer token
- requests/s of `pause` on a missing VMI (404 after the SubjectAccessReview), 8 concurrent clients

Usage: .venv/bin/python bench/api.py [--requests 300] [--clients 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration" / "virt_api"))

from virtapi_stack import start_stack, vm  # noqa: E402

BASE = "/apis/subresources.kubevirt.io/v1/namespaces/demo"


def _client(url: str, ca: Path, token: str) -> httpx.AsyncClient:
    ctx = ssl.create_default_context(cafile=str(ca))
    return httpx.AsyncClient(base_url=url, verify=ctx, headers={"Authorization": f"Bearer {token}"},
                             trust_env=False, timeout=30)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def start_stop(url: str, ca: Path, token: str, n: int) -> None:
    lat: dict[str, list[float]] = {"start": [], "stop": []}
    async with _client(url, ca, token) as c:
        for i in range(n):
            action = "start" if i % 2 == 0 else "stop"
            t0 = time.perf_counter()
            resp = await c.put(f"{BASE}/virtualmachines/bench1/{action}")
            lat[action].append(time.perf_counter() - t0)
            if resp.status_code != 202:
                raise SystemExit(f"{action}: {resp.status_code} {resp.text}")
    for action, values in lat.items():
        print(f"{action:6s} via aggregation: n={len(values)} p50={_pct(values, 0.5):.1f} ms "
              f"p99={_pct(values, 0.99):.1f} ms mean={statistics.mean(values) * 1000:.1f} ms")


async def pause_missing(url: str, ca: Path, token: str, clients: int, seconds: float) -> None:
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        async with _client(url, ca, token) as c:
            while time.perf_counter() < deadline:
                resp = await c.put(f"{BASE}/virtualmachineinstances/missing/pause")
                if resp.status_code != 404:
                    raise SystemExit(f"pause: {resp.status_code} {resp.text}")
                count += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    print(f"pause of a missing VMI (404 after SAR): {count / elapsed:.0f} requests/s with {clients} clients")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        try:
            stack.apply(vm("bench1", run_strategy="Halted"))
            asyncio.run(start_stop(stack.api.url, stack.api.ca_file, stack.api.token, a.requests))
            asyncio.run(pause_missing(stack.api.url, stack.api.ca_file, stack.api.token, a.clients, a.seconds))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
