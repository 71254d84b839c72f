"""Figures for the embedded API server (prints them; never pass/fail).

- creates/s of small custom resources by 8 concurrent clients over 10,000 objects
- list latency for 10,000 objects
- watch event delivery p99 with 50 watchers
- RSS with 10,000 VMI-sized objects

Usage: .venv/bin/python bench/apiserver.py [--objects 10000] [--clients 8] [--watchers 50]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.apiserver import start_apiserver  # noqa: E402

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "items.bench.io"},
    "spec": {"group": "bench.io", "scope": "Namespaced", "names": {"plural": "items", "kind": "Item"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object",
                                                           "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}
ITEMS = "/apis/bench.io/v1/namespaces/default/items"
VMIS = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


_VM = yaml.safe_load((ROOT / "examples" / "vm-kernelboot.yaml").read_text())


def vmi_body(i: int) -> dict:  # type: ignore[type-arg]
    tmpl = _VM["spec"]["template"]
    vmi = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
           "metadata": {"name": f"vmi-{i:05d}", "labels": {**tmpl["metadata"].get("labels", {}),
                                                            "kubevirt.io/nodeName": "node-1"},
                        "annotations": {"kubevirt.io/latest-observed-api-version": "v1"}},
           "spec": copy.deepcopy(tmpl["spec"]),
           "status": {"phase": "Running", "nodeName": "node-1", "qosClass": "Burstable",
                      "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None,
                                      "lastTransitionTime": "2026-11-27T08:00:00Z"},
                                     {"type": "LiveMigratable", "status": "True", "lastProbeTime": None,
                                      "lastTransitionTime": "2026-11-27T08:00:00Z"}],
                      "phaseTransitionTimestamps": [{"phase": p, "phaseTransitionTimestamp": "2026-11-27T08:00:00Z"}
                                                    for p in ("Pending", "Scheduling", "Scheduled", "Running")],
                      "guestOSInfo": {}, "migrationMethod": "BlockMigration", "launcherContainerImageVersion":
                      "kubevirt-py/virt-launcher:v0.1.0",
                      "interfaces": [{"name": "default", "ipAddress": "10.0.2.2", "mac": "52:54:00:00:00:01"}]}}
    return vmi


async def creates(url: str, ctx: ssl.SSLContext, token: str, n: int, clients: int, path: str,
                  make) -> float:  # type: ignore[no-untyped-def]
    """Creates over keep-alive connections, one request per write (as client-go sends them), so the
    figure measures the server rather than a Python HTTP client."""
    host, port = url.removeprefix("https://").split(":")
    counter = iter(range(n))

    async def worker() -> None:
        r, w = await asyncio.open_connection(host, int(port), ssl=ctx)
        for i in counter:
            body = orjson.dumps(make(i))
            w.write((f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
            await w.drain()
            head = await r.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            data = await r.readexactly(length)
            if status != 201:
                raise RuntimeError(f"create failed: {status} {data[:200]!r}")
        w.close()
    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(clients)])
    return n / (time.perf_counter() - t0)


async def list_latency(url: str, ctx: ssl.SSLContext, token: str, path: str, rounds: int = 7) -> float:
    async with httpx.AsyncClient(base_url=url, verify=ctx, headers={"Authorization": f"Bearer {token}"}) as c:
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            r = await c.get(path)
            r.raise_for_status()
            n = len(orjson.loads(r.content)["items"])
            times.append(time.perf_counter() - t0)
    print(f"  (listed {n} objects, {len(r.content) / 1e6:.1f} MB)")
    return statistics.median(times)


async def watch_p99(url: str, ctx: ssl.SSLContext, token: str, watchers: int, events: int) -> tuple[float, float]:
    host, port = url.removeprefix("https://").split(":")
    sent: dict[str, float] = {}
    lat: list[float] = []
    ready = 0

    async def watcher() -> None:
        nonlocal ready
        r, w = await asyncio.open_connection(host, int(port), ssl=ctx)
        w.write((f"GET {ITEMS}?watch=true&fieldSelector=metadata.name%3Dwatched HTTP/1.1\r\nHost: x\r\n"
                 f"Authorization: Bearer {token}\r\n\r\n").encode())
        await w.drain()
        await r.readuntil(b"\r\n\r\n")
        ready += 1
        seen = 0
        while seen < events:
            size = int((await r.readline()).strip(), 16)
            chunk = await r.readexactly(size + 2)
            now = time.perf_counter()
            for line in chunk.split(b"\n"):
                i = line.find(b'"seq":"')
                if i >= 0:
                    seq = line[i + 7:line.index(b'"', i + 7)].decode()
                    lat.append(now - sent[seq])
                    seen += 1
        w.close()

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json"}
    async with httpx.AsyncClient(base_url=url, verify=ctx, headers=headers) as c:
        await c.post(ITEMS, content=orjson.dumps({"apiVersion": "bench.io/v1", "kind": "Item",
                                                  "metadata": {"name": "watched"}, "spec": {}}),
                     headers={"Content-Type": "application/json"})
        tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
        while ready < watchers:  # noqa: ASYNC110 - a counter the watchers bump, polled
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        for i in range(events):
            seq = str(i)
            sent[seq] = time.perf_counter()
            await c.patch(f"{ITEMS}/watched", content=orjson.dumps({"spec": {"seq": seq}}))
            await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--watchers", type=int, default=50)
    ap.add_argument("--events", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        srv = start_apiserver(Path(d) / "s")
        try:
            ctx = ssl.create_default_context(cafile=str(srv.ca_file))
            token = srv.token
            srv.kubectl("apply", "--validate=false", "-f", "-", input=yaml.safe_dump(CRD))
            srv.kubectl("apply", "--validate=false", "-f", str(ROOT / "manifests" / "crds"))
            srv.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")
            print(f"API server pid {srv.pid}, RSS at start {rss_kib(srv.pid) / 1024:.0f} MiB")
            rate = await creates(srv.url, ctx, token, args.objects, args.clients, ITEMS,
                                 lambda i: {"apiVersion": "bench.io/v1", "kind": "Item",
                                            "metadata": {"name": f"item-{i:05d}", "labels": {"n": str(i % 10)}},
                                            "spec": {"i": i}})
            print(f"creates/s, {args.clients} clients, {args.objects} small objects: {rate:.0f}  (target >= 1000)")
            lat = await list_latency(srv.url, ctx, token, ITEMS)
            print(f"list latency, {args.objects} objects: {lat * 1000:.0f} ms  (target <= 300 ms)")
            p50, p99 = await watch_p99(srv.url, ctx, token, args.watchers, args.events)
            print(f"watch delivery, {args.watchers} watchers: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
                  "  (target p99 <= 20 ms)")
            vrate = await creates(srv.url, ctx, token, args.objects, args.clients, VMIS, vmi_body)
            size = len(orjson.dumps(vmi_body(0)))
            rss = rss_kib(srv.pid) / 1024
            print(f"VMI-sized creates/s ({size} bytes each): {vrate:.0f}")
            print(f"RSS with {args.objects} VMI-sized + {args.objects} small objects: {rss:.0f} MiB"
                  "  (target <= 200 MiB for 10,000 VMI-sized objects)")
        finally:
            srv.stop()


if __name__ == "__main__":
    asyncio.run(main())
