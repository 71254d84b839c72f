"""Ctrl-C of `virt-local up` while a Pod is being deleted and its container ignores SIGTERM: the
container's processes are killed anyway once the shutdown grace period is over, or at once on a
second Ctrl-C (nothing may outlive virt-local)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.support.process import kill_all, processes_mentioning
from tests.support.virtlocal import start_virt_local
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow

POD = """
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 600
  containers: [{name: main, image: test/stubborn:v1}]
"""


def test_stop_kills_a_terminating_container_that_ignores_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.sh"
    marker = f"stubborn-{tmp_path.name}"
    script.write_text(f"#!/bin/sh\n# {marker}\ntrap '' TERM\nwhile :; do sleep 1; done\n")
    script.chmod(0o755)
    vl = start_virt_local(tmp_path / "d", "test", "--no-kubevirt", "--image-map", f"test/stubborn={script}",
                          "--shutdown-grace-period", "3")
    try:
        vl.kubectl("apply", "-f", "-", input=POD)
        wait_for(lambda: vl.phase("pod", "stubborn") == "Running", timeout=30, message="Pod stubborn Running")
        assert processes_mentioning([str(script)])
        vl.kubectl("delete", "pod", "stubborn", "--wait=false")
        wait_for(lambda: ((vl.get("pod", "stubborn") or {}).get("metadata") or {}).get("deletionTimestamp"), timeout=30, message="Pod stubborn terminating")
    finally:
        left = vl.stop()
        left.update(processes_mentioning([str(script)]))
        kill_all(left)
    assert not left, f"processes left behind: {json.dumps(left, indent=1)}"


def test_a_second_ctrl_c_kills_the_pods_at_once(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.sh"
    script.write_text(f"#!/bin/sh\n# stubborn-{tmp_path.name}\ntrap '' TERM\nwhile :; do sleep 1; done\n")
    script.chmod(0o755)
    vl = start_virt_local(tmp_path / "d", "test", "--no-kubevirt", "--image-map", f"test/stubborn={script}")
    try:
        vl.kubectl("apply", "-f", "-", input=POD)
        wait_for(lambda: vl.phase("pod", "stubborn") == "Running", timeout=30, message="Pod stubborn Running")
        vl.process.proc.send_signal(signal.SIGINT)
        log = tmp_path / "d-up.log"
        wait_for(lambda: "stopping Pods" in log.read_text(), timeout=30, message="up to wait for the Pod's grace period")
        vl.process.proc.send_signal(signal.SIGINT)
        # Without the second Ctrl-C, up would wait the shutdown grace period (300 s) before killing the Pod.
        wait_for(lambda: vl.process.proc.poll() is not None, timeout=60, message="up to exit")
    finally:
        left = vl.stop()
        left.update(processes_mentioning([str(script)]))
        kill_all(left)
    assert not left, f"processes left behind: {json.dumps(left, indent=1)}"
