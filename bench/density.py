#!/usr/bin/env python3
"""VMI density on virt-local with the libvirt test driver: how long until N VMIs run, and at what cost.

Starts `virt-local up --hypervisor test` on a fresh data dir, creates N VMIs (100 by default, 1,000 with
`--large`) one every `--interval` seconds (0.1 by default, the pacing of upstream's density test, whose
figures are quoted next to ours; `--interval 0` creates them all at once, 50 in flight), and watches
until every one is Running. Reports:

- wall time from the first create to the last VMI Running;
- p50/p95/max of per-VMI latency (its create call returning → the watch seeing phase Running);
- resident memory (VmRSS) of every component process, and of the launcher processes (sum and mean);
- API writes per started VMI: the API server's global revision (resourceVersion) delta during the run,
  divided by N (every create, update, patch and delete advances it by one), in all and without the
  user's own create (what the system writes; upstream's published count, reference §5, is of its
  components' calls alone); `--trace-writes` breaks them down by kind and by what each write changed
  (VMI create by the user included). Node and leader Leases renew on a timer, so their share depends
  on how long the run takes;
- CPU seconds used by every component and by the launchers.

`--unschedulable` gives the VMIs a node selector no node matches and waits only until each has its
launcher Pod (phase Scheduling): the control plane's memory with N VMIs and N Pods, no launchers.

Usage: `python bench/density.py [--count N | --large] [--nodes K] [--node-cpu C] [--max-pods P] [--interval S] [--unschedulable]
[--trace-writes] [--timeout S] [--json]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from virt_client.errors import ApiError, TransportError  # noqa: E402
from virt_client.kube import KubeClient  # noqa: E402
from virt_client.resources import EVENTS, LEASES, NAMESPACES, NODES, PODS, VMIS, ResourceRef  # noqa: E402

VENV_BIN = Path(sys.executable).parent


def vmi(name: str, unschedulable: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}},
                            "terminationGracePeriodSeconds": 0}
    if unschedulable:
        spec["nodeSelector"] = {"bench.kubevirt.io/no-such-node": "true"}
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": "default", "labels": {"bench": "density"}}, "spec": spec}


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (its exec'd predecessors included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    out = []
    for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        out.append(int(p))
        out.extend(descendants(int(p)))
    return out


def cmdline(pid: int) -> list[str]:
    try:
        return [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a]
    except OSError:
        return []


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def pss_kib(pid: int) -> int:
    """Proportional set size: pages shared with other processes count for a share each."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def component_name(pid: int) -> str:
    argv = cmdline(pid)
    if "virt_local.podrunner.warmstart" in argv:
        # A container forked from a warm-start template keeps the template's command line.
        return "virt-launcher" if comm(pid) == "virt-launcher" else "virt-local warm-start template"
    for i, a in enumerate(argv):
        base = os.path.basename(a)
        if base in ("virt-api", "virt-controller", "virt-launcher"):
            return base
        if base == "virt-handler":
            return "virt-handler/" + argv[argv.index("--node-name") + 1] if "--node-name" in argv else base
        if base == "virt-local" and i + 1 < len(argv):
            return f"virt-local {argv[i + 1]}"
        if base == "libvirtd" or base == "virtqemud":
            return base
    return os.path.basename(argv[0]) if argv else "?"


def cpu_snapshot(up_pid: int) -> dict[str, float]:
    """CPU seconds used so far by each control-plane component (launchers left out)."""
    cpu: dict[str, float] = {"virt-local up": cpu_seconds(up_pid)}
    for pid in descendants(up_pid):
        name = component_name(pid)
        if name != "virt-launcher" and name.startswith(("virt-", "virt-local")):
            cpu[name] = cpu.get(name, 0.0) + cpu_seconds(pid)
    return cpu


def memory_report(up_pid: int, cpu_before: dict[str, float] | None = None) -> dict[str, Any]:
    per: dict[str, int] = {"virt-local up": rss_kib(up_pid)}
    cpu: dict[str, float] = {"virt-local up": cpu_seconds(up_pid)}
    launchers: list[int] = []
    launcher_pss: list[int] = []
    launcher_cpu: list[float] = []
    others: dict[str, list[int]] = {}
    pods_pids = set()
    for pid in descendants(up_pid):
        name = component_name(pid)
        if name == "virt-launcher":
            launchers.append(rss_kib(pid))
            launcher_pss.append(pss_kib(pid))
            launcher_cpu.append(cpu_seconds(pid))
            pods_pids.add(pid)
        elif name.startswith(("virt-", "virt-local")):
            per[name] = per.get(name, 0) + rss_kib(pid)
            cpu[name] = cpu.get(name, 0.0) + cpu_seconds(pid)
        else:
            others.setdefault(name, []).append(rss_kib(pid))
    # Launchers run in their own sessions, not as descendants once their parent (virt-local) re-parents them:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) not in pods_pids and component_name(int(proc.name)) == "virt-launcher":
            launchers.append(rss_kib(int(proc.name)))
            launcher_pss.append(pss_kib(int(proc.name)))
            launcher_cpu.append(cpu_seconds(int(proc.name)))
    return {"components_mib": {k: round(v / 1024, 1) for k, v in sorted(per.items())},
            "components_cpu_seconds": {k: round(v, 1) for k, v in sorted(cpu.items())},
            "components_cpu_seconds_during_run": {k: round(v - (cpu_before or {}).get(k, 0.0), 2)
                                                  for k, v in sorted(cpu.items())},
            "launchers": {"count": len(launchers), "sum_mib": round(sum(launchers) / 1024, 1),
                          "cpu_seconds_sum": round(sum(launcher_cpu), 1),
                          "cpu_seconds_mean": round(statistics.mean(launcher_cpu), 2) if launcher_cpu else 0.0,
                          "mean_mib": round(statistics.mean(launchers) / 1024, 1) if launchers else 0.0,
                          "pss_sum_mib": round(sum(launcher_pss) / 1024, 1),
                          "pss_mean_mib": round(statistics.mean(launcher_pss) / 1024, 1) if launcher_pss else 0.0},
            "other_mib": {k: round(sum(v) / 1024, 1) for k, v in sorted(others.items())}}


def start_stack(data_dir: Path, nodes: int, node_args: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    log = open(data_dir / "up.log", "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen([str(VENV_BIN / "virt-local"), "up", "--data-dir", str(data_dir), "--hypervisor", "test",
                             "--nodes", str(nodes), *node_args], stdout=subprocess.PIPE, stderr=log,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log.close()
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(b"ready "):
            return proc
    proc.kill()
    raise SystemExit(f"virt-local up did not become ready; see {data_dir / 'up.log'}")


async def revision(client: KubeClient) -> int:
    listed = await client.list(NAMESPACES, limit=1)
    return int(listed["metadata"]["resourceVersion"])


TRACED: tuple[ResourceRef, ...] = (VMIS, PODS, EVENTS, NODES, LEASES)


def _changed(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """A short description of what one write changed: the top-level paths (two levels deep) that differ."""
    if old is None:
        return "create"
    paths = []
    for top in sorted(set(old) | set(new)):
        a, b = old.get(top), new.get(top)
        if top == "metadata" and isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if k not in ("resourceVersion", "managedFields", "generation") and a.get(k) != b.get(k):
                    paths.append(f"metadata.{k}")
        elif isinstance(a, dict) and isinstance(b, dict):
            paths.extend(f"{top}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        elif a != b:
            paths.append(top)
    phase = (new.get("status") or {}).get("phase")
    return ",".join(paths) + (f" [{phase}]" if phase and "status.phase" in paths else "")


async def lease_write_revisions(client: KubeClient, start_rv: str, stop: asyncio.Event) -> list[int]:
    """Revisions of the Lease writes (node heartbeats, leader election) from `start_rv` on, until a moment
    after `stop`: they follow a timer, not the VMIs."""
    revisions: list[int] = []

    async def watch() -> None:
        async for ev in client.watch(LEASES, None, resource_version=start_rv):
            if ev.type != "BOOKMARK":
                revisions.append(int(ev.object["metadata"]["resourceVersion"]))
    task = asyncio.create_task(watch())
    await stop.wait()
    await asyncio.sleep(0.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return revisions


async def trace_writes(client: KubeClient, start_rv: str, stop: asyncio.Event) -> list[tuple[int, str, str]]:
    """Every write from `start_rv` on, as (revision, kind, what changed), from watches on the traced kinds."""
    seen: list[tuple[int, str, str]] = []
    last: dict[tuple[str, str], dict[str, Any]] = {}

    async def one(ref: ResourceRef) -> None:
        async for ev in client.watch(ref, None, resource_version=start_rv):
            if ev.type == "BOOKMARK":
                continue
            md = ev.object.get("metadata") or {}
            key = (ref.kind, f"{md.get('namespace')}/{md.get('name')}")
            what = "delete" if ev.type == "DELETED" else _changed(last.get(key), ev.object)
            if ref is EVENTS:
                what = f"create {ev.object.get('reason')}" if ev.type == "ADDED" else f"update {ev.object.get('reason')}"
            last[key] = ev.object
            seen.append((int(md.get("resourceVersion") or 0), ref.kind, what))

    tasks = [asyncio.create_task(one(ref)) for ref in TRACED]
    await stop.wait()
    await asyncio.sleep(1.0)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sorted(seen)


async def run_bench(kubeconfig: Path, count: int, timeout_s: float, trace: bool = False,
                    unschedulable: bool = False, interval: float = 0.0) -> dict[str, Any]:
    """Create `count` VMIs and wait until all run (or, `unschedulable`, until all have a launcher Pod)."""
    goal = "Scheduling" if unschedulable else "Running"
    client = await KubeClient.from_kubeconfig(str(kubeconfig), qps=1000, burst=2000, user_agent="density-bench")
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    failed: dict[str, str] = {}
    try:
        rv0 = await revision(client)
        start_rv = str(rv0)
        all_done = asyncio.Event()

        async def watch() -> None:
            rv = start_rv
            while not all_done.is_set():
                try:
                    async for ev in client.watch(VMIS, "default", resource_version=rv, label_selector="bench=density"):
                        obj = ev.object
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        name = obj.get("metadata", {}).get("name", "")
                        ph = (obj.get("status") or {}).get("phase")
                        if ph == goal and name not in running:
                            running[name] = time.monotonic()
                        elif ph == "Failed" and name not in failed:
                            failed[name] = json.dumps((obj.get("status") or {}).get("conditions") or [])[:300]
                        if len(running) + len(failed) >= count:
                            all_done.set()
                            return
                except (ApiError, TransportError):
                    await asyncio.sleep(0.2)

        sem = asyncio.Semaphore(50)

        async def create(i: int) -> None:
            name = f"density-{i:05d}"
            async with sem:
                await client.create(VMIS, vmi(name, unschedulable), "default")
                created[name] = time.monotonic()

        watcher = asyncio.create_task(watch())
        tracer = asyncio.create_task(trace_writes(client, start_rv, all_done)) if trace else None
        leases = asyncio.create_task(lease_write_revisions(client, start_rv, all_done))
        t0 = time.monotonic()
        if interval > 0:
            pending = []
            for i in range(count):
                pending.append(asyncio.create_task(create(i)))
                await asyncio.sleep(interval)
            await asyncio.gather(*pending)
        else:
            await asyncio.gather(*(create(i) for i in range(count)))
        t_created = time.monotonic() - t0
        try:
            await asyncio.wait_for(all_done.wait(), timeout_s)
        except TimeoutError:
            pass
        wall = time.monotonic() - t0
        watcher.cancel()
        rv1 = await revision(client)
        traced = await tracer if tracer is not None else []
        lease_writes = sum(1 for rv in await leases if rv <= rv1)
    finally:
        await client.close()
    lat = sorted(running[n] - created[n] for n in running if n in created)

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else float("nan")
    return {"vmis": count, "running": len(running), "failed": len(failed), "first_failures": list(failed.items())[:3],
            "create_seconds": round(t_created, 2), "all_running_seconds": round(wall, 2) if len(running) == count else None,
            "latency_seconds": {"p50": pct(0.50), "p95": pct(0.95), "max": round(lat[-1], 2) if lat else None},
            "api_writes": rv1 - rv0, "api_writes_per_vmi": round((rv1 - rv0) / count, 2),
            "system_writes_per_vmi": round((rv1 - rv0 - count) / count, 2),
            "lease_writes": lease_writes,
            "system_writes_per_vmi_without_leases": round((rv1 - rv0 - count - lease_writes) / count, 2),
            "writes_by_kind": _tally(traced, count)}


def _tally(traced: list[tuple[int, str, str]], count: int) -> dict[str, float]:
    """Traced writes per VMI by kind and change (VMI create by the user included)."""
    tally: dict[str, int] = {}
    for _, kind, what in traced:
        label = f"{kind}: {what}"
        tally[label] = tally.get(label, 0) + 1
    return {k: round(v / count, 2) for k, v in sorted(tally.items(), key=lambda kv: -kv[1])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--large", action="store_true", help="1,000 VMIs")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--node-cpu", type=int, default=None,
                   help="CPUs each simulated node advertises (launcher Pods request 100m each; default: the machine's)")
    p.add_argument("--max-pods", type=int, default=None, help="Pods each node takes (default 110)")
    p.add_argument("--interval", type=float, default=0.1,
                   help="seconds between two creates (default 0.1, as upstream's density test); 0 creates them all "
                        "at once, 50 in flight")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for all VMIs to run")
    p.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temporary directory")
    p.add_argument("--json", action="store_true")
    p.add_argument("--unschedulable", action="store_true",
                   help="VMIs no node can take: wait until each has its launcher Pod (phase Scheduling) and measure "
                        "the control plane with that many VMIs and Pods, without running launchers")
    p.add_argument("--trace-writes", action="store_true",
                   help="watch VMIs, Pods, Events, Nodes and Leases and break the writes down by what they changed")
    args = p.parse_args()
    count = 1000 if args.large else args.count
    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="density-")
        data_dir = Path(tmp.name)
    else:
        data_dir = args.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
    node_args: tuple[str, ...] = ()
    if args.node_cpu:
        node_args += ("--node-cpu", str(args.node_cpu))
    if args.max_pods:
        node_args += ("--max-pods", str(args.max_pods))
    proc = start_stack(data_dir, args.nodes, node_args)
    try:
        cpu_before = cpu_snapshot(proc.pid)
        result = asyncio.run(run_bench(data_dir / "kubeconfig", count, args.timeout, args.trace_writes,
                                     args.unschedulable, args.interval))
        result["interval_seconds"] = args.interval
        result["memory"] = memory_report(proc.pid, cpu_before)
        result["nodes"] = args.nodes
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if tmp is not None:
            tmp.cleanup()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"VMIs: {result['running']}/{count} {'Scheduling' if args.unschedulable else 'Running'} ({result['failed']} Failed) on {args.nodes} node(s)")
    pacing = f"one every {args.interval}s" if args.interval > 0 else "all at once, 50 in flight"
    print(f"creates ({pacing}) took {result['create_seconds']}s; all Running after {result['all_running_seconds']}s")
    print(f"creation→Running: p50 {result['latency_seconds']['p50']}s, p95 {result['latency_seconds']['p95']}s, "
          f"max {result['latency_seconds']['max']}s")
    print(f"API writes: {result['api_writes']} ({result['api_writes_per_vmi']} per VMI; "
          f"{result['system_writes_per_vmi']} per VMI by the system, the user's create left out; "
          f"{result['system_writes_per_vmi_without_leases']} without the {result['lease_writes']} Lease renewals, "
          f"which follow a timer)")
    mem = result["memory"]
    for name, mib in mem["components_mib"].items():
        print(f"RSS {name}: {mib} MiB (CPU {mem['components_cpu_seconds'].get(name, 0.0)} s, "
              f"{mem['components_cpu_seconds_during_run'].get(name, 0.0)} s of it during the run)")
    print(f"RSS virt-launcher: {mem['launchers']['count']} processes, {mem['launchers']['sum_mib']} MiB total, "
          f"{mem['launchers']['mean_mib']} MiB each (PSS {mem['launchers']['pss_sum_mib']} MiB total, "
          f"{mem['launchers']['pss_mean_mib']} MiB each); CPU {mem['launchers']['cpu_seconds_sum']} s total, "
          f"{mem['launchers']['cpu_seconds_mean']} s each")
    for name, mib in mem["other_mib"].items():
        print(f"RSS {name} (in launcher Pods): {mib} MiB")
    for what, per_vmi in result["writes_by_kind"].items():
        print(f"  {per_vmi:5.2f} per VMI  {what}")
    for name, why in result["first_failures"]:
        print(f"failed: {name}: {why}")


if __name__ == "__main__":
    main()
