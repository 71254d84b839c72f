#!/usr/bin/env python3
"""virt-launcher start-up and memory, side by side with the floor on an already-running daemon.

Prints, for the tiny kernelBoot guest under emulation (warm QEMU capabilities cache):
- launcher start → domain Running (spawn of `virt-launcher` until the notify stream reports Running),
- the floor: define + start of the same XML on a libvirtd that is already running and connected,
- launcher start → domain Running with the libvirt test driver (no daemon, no QEMU),
- RSS (and anonymous RSS / PSS) of the launcher process and of its libvirtd, with a running domain.

Usage: python bench/launcher.py [--runs N]. Figures only; nothing passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from virt_client import launcher_protocol as proto  # noqa: E402
from virt_launcher import converter  # noqa: E402
from virt_launcher.daemon import DaemonSettings, LibvirtDaemon  # noqa: E402
from virt_launcher.domain_manager import converter_context  # noqa: E402
from virt_launcher.libvirt_conn import Connection  # noqa: E402
from virt_launcher.settings import LauncherSettings  # noqa: E402

CAPABILITIES_CACHE = Path.home() / ".cache" / "kubevirt-py" / "qemu-capabilities"


def vmi(n: int) -> dict[str, Any]:
    return {"metadata": {"name": f"bench{n}", "namespace": "bench", "uid": f"bench-{n}"},
            "spec": {"domain": {"resources": {"requests": {"memory": "256Mi"}}, "devices": {},
                                "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 quiet panic=-1", "container": {
                                    "image": "tiny", "kernelPath": "/boot/vmlinuz", "initrdPath": "/boot/initrd.gz"}}}}}}


def memory(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()

    def field(text: str, key: str) -> float:
        return int(text.split(f"\n{key}:")[1].split()[0]) / 1024 if f"\n{key}:" in text else 0.0

    return {"rss": field(status, "VmRSS"), "anon": field(status, "RssAnon"), "pss": field("\n" + rollup, "Pss")}


async def launcher_run(work: Path, n: int, hypervisor: str, kernel_dir: str) -> tuple[float, dict[str, float], dict[str, float]]:
    d = work / f"l{hypervisor}{n}"
    notify = work / f"notify{hypervisor}{n}.sock"
    running = asyncio.Event()

    async def on_event(e: dict[str, Any]) -> None:
        if e.get("type") == "domain" and e["domain"].get("state") == "Running":
            running.set()

    server = await proto.serve_notify(str(notify), on_event)
    cd = work / "cd"
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "virt_launcher.main", "--dir", str(d), "--hypervisor", hypervisor,
        "--vmi-json", json.dumps(vmi(n)), "--notify-socket", str(notify), "--container-disk-dir", str(cd),
        "--kernel-boot-dir", kernel_dir, "--capabilities-cache", str(CAPABILITIES_CACHE),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=str(REPO))
    try:
        async with asyncio.timeout(60):
            await running.wait()
        elapsed = time.perf_counter() - start
        async with asyncio.timeout(10):
            while not (d / "launcher.sock").exists():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        client = proto.LauncherClient(str(d / "launcher.sock"))
        ping = await client.ping()
        launcher_mem = memory(proc.pid)
        daemon_mem = memory(ping["daemonPid"]) if ping.get("daemonPid") else {}
        await client.kill()
        await client.close()
        async with asyncio.timeout(60):
            await proc.communicate()
        return elapsed, launcher_mem, daemon_mem
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
        server.close()
        await server.wait_closed()


async def floor_runs(work: Path, runs: int, kernel_dir: str) -> list[float]:
    daemon = LibvirtDaemon(DaemonSettings(base_dir=work / "floor" / "libvirt", root=True,
                                          capabilities_cache=CAPABILITIES_CACHE, migration_ports=(61000, 61015)))
    await daemon.start()
    conn = await asyncio.to_thread(Connection, daemon.uri)
    settings = LauncherSettings(private_dir=work / "floor", hypervisor=converter.Hypervisor.EMULATION,
                                kernel_boot_dir=Path(kernel_dir))
    times = []
    try:
        for n in range(runs + 1):  # the first run warms the connection; not counted
            spec = converter.convert(vmi(100 + n), converter_context(settings, {}))
            conn.domain_name = spec.name
            start = time.perf_counter()
            await asyncio.to_thread(conn.define, spec.xml)
            await asyncio.to_thread(conn.start)
            if n:
                times.append(time.perf_counter() - start)
            await asyncio.to_thread(conn.destroy)
            await asyncio.to_thread(conn.undefine)
    finally:
        await asyncio.to_thread(conn.close)
        await daemon.stop()
    return times


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):6.3f} s   min {min(values):6.3f}   max {max(values):6.3f}   (n={len(values)})"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    out = subprocess.run([sys.executable, str(REPO / "hack" / "build_guest.py")], capture_output=True, text=True, check=True)  # noqa: ASYNC221
    kernel_dir = json.loads(out.stdout)["kernel_boot_dir"]
    with tempfile.TemporaryDirectory(prefix="bench-launcher-") as tmp:
        work = Path(tmp)
        await launcher_run(work, 0, "emulation", kernel_dir)  # fills the capabilities cache if it is cold
        results = [await launcher_run(work, n, "emulation", kernel_dir) for n in range(1, args.runs + 1)]
        test_results = [await launcher_run(work, n, "test", kernel_dir) for n in range(1, args.runs + 1)]
        floor = await floor_runs(work, args.runs, kernel_dir)
    print("virt-launcher start-up (tiny kernelBoot guest, emulation, warm capabilities cache)")
    print(f"  launcher start -> domain Running     {summary([r[0] for r in results])}")
    print(f"  floor: define+start on running daemon {summary(floor)}")
    print(f"  launcher start -> Running, test driver {summary([r[0] for r in test_results])}")
    print("memory with a running domain (MiB, median over runs)          rss    anon     pss")
    for label, idx, rows in (("virt-launcher process (emulation)", 1, results), ("its libvirtd", 2, results),
                             ("virt-launcher process (test driver)", 1, test_results)):
        mems: list[dict[str, float]] = [r[idx] for r in rows]  # type: ignore[misc]
        med = {k: statistics.median(m[k] for m in mems) for k in ("rss", "anon", "pss")}
        print(f"  {label:<40} {med['rss']:7.1f} {med['anon']:7.1f} {med['pss']:7.1f}")
    print("targets: start -> Running median <= 1.0 s; launcher RSS <= 35 MiB; libvirtd RSS <= 30 MiB")


if __name__ == "__main__":
    asyncio.run(main())
