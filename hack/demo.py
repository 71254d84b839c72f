#!/usr/bin/env python3
"""The README demo: a VM boots on KubeVirt-in-Python, on this machine, in about a minute.

Steps: build (or reuse) the tiny guest with hack/build_guest.py; `virt-local up --hypervisor auto` in a
temporary data dir (KVM when a test boot proves it works, else emulation; the verdict is kept in
~/.cache/kubevirt-py/demo/ so the probe runs once); import the guest as
`kubevirt-py/tiny-guest-kernel:latest`; create the VM of examples/vm-kernelboot.yaml stopped; start it
(`virtctl start`, or the runStrategy when virtctl is missing); show `kubectl get vm,vmi`; print the
serial console (read through virt-api's websocket, as `virtctl console` does) up to `GUEST-BOOTED`;
stop it (ACPI power button); Ctrl-C virt-local; report the timings. Exits 0 only if every step
worked and no process was left behind.

Usage: `hack/setup.sh && .venv/bin/python hack/demo.py [--keep-data-dir]`
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "kubevirt-py" / "demo"
IMAGE = "kubevirt-py/tiny-guest-kernel:latest"
MARKER = "GUEST-BOOTED"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run(*argv: str, env: dict[str, str] | None = None, input: str | None = None) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, input=input, env=env, timeout=600)
    if res.returncode != 0:
        raise SystemExit(f"demo: {' '.join(argv[:3])} failed:\n{res.stdout}{res.stderr}")
    return res.stdout


def wait_for(what: str, check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"demo: timed out after {seconds:.0f}s waiting for {what}")


class Console(threading.Thread):
    """Reads a VMI's serial console through virt-api until the marker, from the moment it exists."""

    def __init__(self, kubeconfig: Path, vmi: str, seconds: float) -> None:
        super().__init__(daemon=True)
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        self.url = (cluster["server"].replace("https://", "wss://") +
                    f"/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/{vmi}/console")
        self.token = cfg["users"][0]["user"]["token"]
        self.ssl = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.ssl.check_hostname = False
        self.deadline = time.monotonic() + seconds
        self.output = b""
        self.marker_at: float | None = None

    def run(self) -> None:
        while time.monotonic() < self.deadline and self.marker_at is None:
            try:
                with connect(self.url, ssl=self.ssl, subprotocols=["plain.kubevirt.io"],  # type: ignore[list-item]
                             additional_headers={"Authorization": f"Bearer {self.token}"}, open_timeout=10) as ws:
                    while time.monotonic() < self.deadline:
                        frame = ws.recv(timeout=max(0.1, self.deadline - time.monotonic()))
                        self.output += frame if isinstance(frame, bytes) else frame.encode()
                        if self.marker_at is None and MARKER.encode() in self.output:
                            self.marker_at = time.monotonic()
                            self.deadline = min(self.deadline, self.marker_at + 2)  # the rest of its line
                        if self.marker_at is not None and b"\n" in self.output.split(MARKER.encode(), 1)[1]:
                            return
            except (InvalidStatus, ConnectionClosed, OSError, TimeoutError):
                time.sleep(0.2)


def read_ready(proc: subprocess.Popen[bytes], seconds: float) -> str:
    assert proc.stdout is not None
    buf = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and b"\nready " not in b"\n" + buf and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            buf += os.read(proc.stdout.fileno(), 4096)
    return buf.decode(errors="replace")


def leftovers(needles: list[str]) -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            if cmd and any(n in cmd for n in needles):
                found[int(entry.name)] = cmd
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-data-dir", action="store_true", help="keep the temporary data dir (logs)")
    args = parser.parse_args()
    timings: dict[str, float] = {}

    step("building (or reusing) the tiny guest: hack/build_guest.py")
    t = time.monotonic()
    guest = json.loads(run(sys.executable, str(REPO / "hack" / "build_guest.py")))
    timings["guest build/reuse"] = time.monotonic() - t
    print(f"guest kernel and initrd in {guest['kernel_boot_dir']}")

    data_dir = Path(tempfile.mkdtemp(prefix="kubevirt-py-demo-"))
    verdict = CACHE / "hypervisor.json"
    if verdict.exists():
        shutil.copy(verdict, data_dir / "hypervisor.json")
    kubeconfig = data_dir / "kubeconfig"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(data_dir / "kubecache")}
    step(f"virt-local up --hypervisor auto --data-dir {data_dir}")
    t = time.monotonic()
    with open(data_dir / "up.log", "wb") as log:
        up = subprocess.Popen([str(BIN / "virt-local"), "up", "--data-dir", str(data_dir), "--hypervisor", "auto"],
                              stdout=subprocess.PIPE, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    uid = ""
    ok = False
    try:
        out = read_ready(up, 180)
        if "ready " not in out:
            raise SystemExit(f"demo: virt-local up did not start; see {data_dir / 'up.log'}")
        timings["virt-local up → ready"] = time.monotonic() - t
        print(out.strip())
        if (data_dir / "hypervisor.json").exists():
            CACHE.mkdir(parents=True, exist_ok=True)
            shutil.copy(data_dir / "hypervisor.json", verdict)

        step(f"virt-local images import {IMAGE} <guest>/kernel-boot --dir")
        print(run(str(BIN / "virt-local"), "images", "import", IMAGE, guest["kernel_boot_dir"], "--dir",
                  "--data-dir", str(data_dir)).strip())

        step("kubectl apply -f examples/vm-kernelboot.yaml (created stopped: runStrategy Halted)")
        vm = yaml.safe_load((REPO / "examples" / "vm-kernelboot.yaml").read_text())
        vm["spec"]["runStrategy"] = "Halted"
        print(run("kubectl", "apply", "-f", "-", input=json.dumps(vm), env=env).strip())

        virtctl = BIN / "virtctl"
        use_virtctl = virtctl.exists() and subprocess.run([str(virtctl), "start", "--help"],
                                                          capture_output=True).returncode == 0
        step("virtctl start tiny" if use_virtctl else "kubectl patch vm tiny runStrategy=Always")
        console = Console(kubeconfig, "tiny", 120)
        t = time.monotonic()
        if use_virtctl:
            print(run(str(virtctl), "start", "tiny", env=env).strip())
        else:
            run("kubectl", "patch", "vm", "tiny", "--type", "merge", "-p", '{"spec":{"runStrategy":"Always"}}', env=env)
        console.start()

        def vmi_phase() -> str:
            res = subprocess.run(["kubectl", "get", "vmi", "tiny", "-o", "json"], capture_output=True, text=True,
                                 env=env)
            if res.returncode != 0:
                return ""
            nonlocal uid
            obj = json.loads(res.stdout)
            uid = obj["metadata"]["uid"]
            return str((obj.get("status") or {}).get("phase") or "")

        wait_for("VMI tiny Running", lambda: vmi_phase() == "Running", 120)
        timings["start → VMI Running"] = time.monotonic() - t
        print(run("kubectl", "get", "vm,vmi", env=env).rstrip())

        step(f"serial console of tiny (through virt-api), up to {MARKER}")
        console.join()
        if console.marker_at is None:
            raise SystemExit(f"demo: no {MARKER} on the console; got:\n{console.output.decode(errors='replace')}")
        timings[f"start → {MARKER} on the console"] = console.marker_at - t
        text = console.output.decode(errors="replace")
        print(text[: text.index(MARKER) + len(MARKER)] + text[text.index(MARKER) + len(MARKER):].split("\n")[0])

        step("virtctl stop tiny (ACPI power button)" if use_virtctl else "kubectl patch vm tiny runStrategy=Halted")
        t = time.monotonic()
        if use_virtctl:
            print(run(str(virtctl), "stop", "tiny", env=env).strip())
        else:
            run("kubectl", "patch", "vm", "tiny", "--type", "merge", "-p", '{"spec":{"runStrategy":"Halted"}}', env=env)
        phases: list[str] = []

        def stopped() -> bool:
            phase = vmi_phase() or "gone"
            if not phases or phases[-1] != phase:
                phases.append(phase)
            return phase == "gone"

        wait_for("VMI tiny to stop", stopped, 120)
        timings["stop → VMI gone"] = time.monotonic() - t
        print(f"VMI phases: {' → '.join(phases)}")
        print(run("kubectl", "get", "vm", env=env).rstrip())
        ok = "Failed" not in phases
    finally:
        step("Ctrl-C virt-local up")
        t = time.monotonic()
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(120)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
        if up.stdout is not None:
            up.stdout.close()
        timings["Ctrl-C → virt-local stopped"] = time.monotonic() - t
        left = leftovers([str(data_dir)] + ([uid] if uid else []))
        for pid, cmd in left.items():
            print(f"left behind: {pid} {cmd[:150]}")
        print("no process left behind" if not left else f"{len(left)} process(es) left behind")
        ok = ok and not left
        if args.keep_data_dir or not ok:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    step("timings")
    for name, seconds in timings.items():
        print(f"  {name:<34} {seconds:6.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
