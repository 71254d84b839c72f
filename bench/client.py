"""Benchmarks of the shared client library; prints figures, never passes or fails.

Figures:
1. Informer initial list of 10,000 VirtualMachineInstances: seconds until synced and the RSS of
   the listing process (targets: ≤ 2 s, ≤ 150 MiB). The list is measured in a fresh process so
   the RSS is the informer's alone; the RSS after imports (kubernetes_asyncio's model package is
   most of it) is printed beside it.
2. Work queue throughput: add + get + done cycles per second (target ≥ 50,000), with and
   without per-queue metrics.

The list is served by `virt-local apiserver` (the VMI CRD is applied and 10,000 VMIs created
first). `--fake-server` serves the same objects from a minimal HTTP server instead, which measures
the client alone; it is also the fallback when the API server does not start.

Usage: .venv/bin/python bench/client.py [--objects N] [--fake-server]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def vmi(i: int) -> dict[str, Any]:
    """A VMI shaped like a running upstream one (spec and status), about 2.4 KB of JSON."""
    node = f"node-{i % 20}"
    ip = f"10.244.{i // 250}.{i % 250}"
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {
            "name": f"vmi-{i:05d}", "namespace": f"ns-{i % 10}", "generation": 1,
            "labels": {"kubevirt.io/nodeName": node, "app": "bench", "kubevirt.io/vm": f"vm-{i:05d}"},
            "annotations": {"kubevirt.io/latest-observed-api-version": "v1",
                            "kubevirt.io/storage-observed-api-version": "v1"},
            "finalizers": ["kubevirt.io/virtualMachineControllerFinalize", "foregroundDeleteVirtualMachine"],
        },
        "spec": {
            "domain": {"cpu": {"cores": 1, "sockets": 1, "threads": 1}, "memory": {"guest": "128Mi"},
                       "devices": {"disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}},
                                             {"name": "cloudinitdisk", "disk": {"bus": "virtio"}}],
                                   "interfaces": [{"name": "default", "masquerade": {}}]},
                       "machine": {"type": "q35"}, "resources": {"requests": {"memory": "128Mi"}},
                       "firmware": {"uuid": f"5d307ca9-b3ef-428c-8861-{i:012d}"},
                       "features": {"acpi": {"enabled": True}}},
            "networks": [{"name": "default", "pod": {}}],
            "volumes": [{"name": "containerdisk",
                         "containerDisk": {"image": "quay.io/kubevirt/cirros-container-disk-demo"}},
                        {"name": "cloudinitdisk",
                         "cloudInitNoCloud": {"userData": "#cloud-config\npassword: fedora\n"}}],
            "terminationGracePeriodSeconds": 0,
        },
        "status": {
            "phase": "Running", "nodeName": node, "qosClass": "Burstable", "guestOSInfo": {},
            "launcherContainerImageVersion": "quay.io/kubevirt/virt-launcher:v1.2.0",
            "activePods": {f"pod-uid-{i}": node},
            "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": "2024-05-01T10:00:05Z"},
                           {"type": "LiveMigratable", "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": None}],
            "interfaces": [{"name": "default", "ipAddress": ip, "ipAddresses": [ip], "mac": "52:54:00:12:34:56",
                            "infoSource": "domain", "queueCount": 1}],
            "volumeStatus": [{"name": "cloudinitdisk", "target": "vdb", "size": 1048576},
                             {"name": "containerdisk", "target": "vda"}],
            "migrationMethod": "BlockMigration", "migrationTransport": "Unix",
            "currentCPUTopology": {"cores": 1, "sockets": 1, "threads": 1},
            "memory": {"guestAtBoot": "128Mi", "guestCurrent": "128Mi", "guestRequested": "128Mi"},
            "selinuxContext": "none", "runtimeUser": 107,
            "virtualMachineRevisionName": f"revision-start-vm-{i}-1",
        },
    }


VMI_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "virtualmachineinstances.kubevirt.io"},
    "spec": {"group": "kubevirt.io", "scope": "Namespaced",
             "names": {"plural": "virtualmachineinstances", "singular": "virtualmachineinstance",
                       "kind": "VirtualMachineInstance", "shortNames": ["vmi", "vmis"]},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]},
}


# -- work queue ---------------------------------------------------------------------------------


async def bench_workqueue(n: int, named: bool) -> float:
    from virt_client.workqueue import WorkQueue

    q: WorkQueue[str] = WorkQueue(name="bench" if named else "")
    keys = [f"ns/vmi-{i}" for i in range(1000)]
    started = time.perf_counter()
    done = 0

    async def worker() -> None:
        nonlocal done
        while (key := await q.get()) is not None:
            q.done(key)
            done += 1

    async with asyncio.TaskGroup() as tg:
        workers = [tg.create_task(worker()) for _ in range(4)]
        for i in range(n):
            q.add(keys[i % 1000])
            if i % 1000 == 999:
                await asyncio.sleep(0)
        q.shut_down()  # workers take what is queued, then get() returns None
        del workers
    elapsed = time.perf_counter() - started
    return done / elapsed


# -- list measurement (runs in a child process) -------------------------------------------------


async def measure_list(kubeconfig: str) -> dict[str, float]:
    from virt_client.indexer import by_label
    from virt_client.informer import Informer
    from virt_client.kube import KubeClient
    from virt_client.resources import VMIS

    baseline = rss_mib()
    async with await KubeClient.from_kubeconfig(kubeconfig, qps=1000, burst=1000) as client:
        informer = Informer(client, VMIS, indexers={"node": by_label("kubevirt.io/nodeName")})
        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(informer.run())
            await informer.wait_for_synced()
            elapsed = time.perf_counter() - started
            task.cancel()
        import resource

        return {"seconds": elapsed, "objects": len(informer.store), "rss_mib": rss_mib(),
                "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "baseline_rss_mib": baseline, "node_index_values": len(informer.store._indices["node"])}


# -- servers ------------------------------------------------------------------------------------


def serve_fake(port: int, count: int) -> None:
    """A minimal list/watch endpoint for VMIs (plain HTTP), for measuring the client alone."""
    import orjson
    from aiohttp import web

    items = [vmi(i) | {"metadata": vmi(i)["metadata"] | {"resourceVersion": str(100 + i),
                                                          "uid": f"uid-{i}"}} for i in range(count)]
    rv = str(100 + count)

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch"):
            resp = web.StreamResponse()
            await resp.prepare(request)
            await asyncio.sleep(3600)
            return resp
        limit = int(request.query.get("limit") or count)
        start = int(request.query.get("continue") or 0)
        page = items[start:start + limit]
        nxt = start + limit
        meta = {"resourceVersion": rv, **({"continue": str(nxt)} if nxt < count else {})}
        body = orjson.dumps({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceList",
                             "metadata": meta, "items": page})
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/apis/kubevirt.io/v1/virtualmachineinstances", handle)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def fake_kubeconfig(directory: Path, port: int) -> Path:
    path = directory / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "bench",
        "clusters": [{"name": "bench", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "bench", "user": {"token": "bench"}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
    }))
    return path


async def populate(kubeconfig: str, count: int) -> float:
    from virt_client.errors import NotFound
    from virt_client.kube import KubeClient
    from virt_client.resources import CRDS, NAMESPACES, VMIS

    started = time.perf_counter()
    async with await KubeClient.from_kubeconfig(kubeconfig, qps=10000, burst=10000) as client:
        await client.create(CRDS, VMI_CRD)
        for ns in range(10):
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": f"ns-{ns}"}})
        for _ in range(200):  # the CRD is served once established
            try:
                await client.list(VMIS, limit=1)
                break
            except NotFound:
                await asyncio.sleep(0.05)
        sem = asyncio.Semaphore(32)

        async def create(i: int) -> None:
            async with sem:
                await client.create(VMIS, vmi(i))

        async with asyncio.TaskGroup() as tg:
            for i in range(count):
                tg.create_task(create(i))
    return time.perf_counter() - started


def run_child(kubeconfig: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--measure-list", str(kubeconfig)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def list_with_virt_local(count: int, directory: Path) -> tuple[str, dict[str, float]]:
    from tests.support.apiserver import start_apiserver

    srv = start_apiserver(directory / "apiserver")
    try:
        seconds = asyncio.run(populate(str(srv.kubeconfig), count))
        print(f"  (created {count} VMIs in virt-local in {seconds:.1f} s)")
        return "virt-local apiserver", run_child(srv.kubeconfig)
    finally:
        srv.stop()


def list_with_fake(count: int, directory: Path) -> tuple[str, dict[str, float]]:
    from tests.support.apiserver import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-fake", str(port), "--objects", str(count)],
                            stdout=subprocess.PIPE, cwd=REPO)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        for _ in range(100):
            import socket

            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        return "minimal HTTP server (client cost only)", run_child(fake_kubeconfig(directory, port))
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--fake-server", action="store_true")
    parser.add_argument("--measure-list", metavar="KUBECONFIG")
    parser.add_argument("--serve-fake", type=int, metavar="PORT")
    args = parser.parse_args()
    if args.measure_list:
        print(json.dumps(asyncio.run(measure_list(args.measure_list))))
        return
    if args.serve_fake:
        serve_fake(args.serve_fake, args.objects)
        return

    print(f"informer initial list of {args.objects} VMIs")
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        directory = Path(tmp)
        source, figures = "", {}
        if not args.fake_server:
            try:
                source, figures = list_with_virt_local(args.objects, directory)
            except Exception as e:  # noqa: BLE001 - report and fall back
                print(f"  virt-local apiserver unusable ({type(e).__name__}: {str(e)[:200]}); using the fake server")
        if not figures:
            source, figures = list_with_fake(args.objects, directory)
    print(f"  served by: {source}")
    print(f"  objects cached:        {figures['objects']:.0f}")
    print(f"  time to synced:        {figures['seconds']:.2f} s   (target <= 2 s)")
    print(f"  RSS after list:        {figures['rss_mib']:.1f} MiB (target <= 150 MiB); peak {figures['max_rss_mib']:.1f} MiB")
    print(f"  RSS after imports:     {figures['baseline_rss_mib']:.1f} MiB "
          f"(cache and list cost {figures['rss_mib'] - figures['baseline_rss_mib']:.1f} MiB)")

    n = 300_000
    print("work queue (4 workers, 1,000 distinct keys)")
    for named in (False, True):
        rate = asyncio.run(bench_workqueue(n, named))
        label = "with metrics" if named else "no metrics  "
        print(f"  add/get/done {label}: {rate:,.0f} per second (target >= 50,000)")


if __name__ == "__main__":
    main()
