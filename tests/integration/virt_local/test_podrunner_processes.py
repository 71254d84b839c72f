"""Every process of a Pod ends with it, as under a container runtime, on `virt-local up --no-kubevirt`:
processes a container started in sessions of their own (as the launcher's libvirtd starts QEMU) are
killed when its main process exits and when the Pod is deleted, before the container's end is
reported; a memory limit is enforced and reported as `OOMKilled`; failures are Warning events with
the kubelet's reasons and messages; Ctrl-C gives a Pod its whole grace period."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import kill_all, processes_mentioning
from tests.support.virtlocal import VirtLocal, start_virt_local
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtLocal]:
    data_dir = tmp_path_factory.mktemp("virt-local") / "data"
    s = start_virt_local(data_dir, "test", "--no-kubevirt", "--image-map", "test/sh=sh", seconds=60)
    try:
        yield s
    finally:
        left = s.stop(60)
        kill_all(left)
    assert not left, f"processes left behind: {json.dumps(left, indent=1)}"


def detached_child(directory: Path, name: str) -> Path:
    """A script that, started with `setsid`, runs in a session of its own, outside the container's
    process group (what libvirtd does with QEMU); its path marks its processes."""
    script = directory / f"{name}-{directory.name}.sh"
    script.write_text("#!/bin/sh\nwhile :; do sleep 1; done\n")
    script.chmod(0o755)
    return script


def running(script: Path) -> dict[int, str]:
    """The processes of `script` (not the container's shell, whose command line names it too)."""
    return {pid: cmd for pid, cmd in processes_mentioning([str(script)]).items() if cmd.startswith("/bin/sh ")}


def pod(name: str, command: str, *, restart: str = "Never", extra: str = "") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  restartPolicy: {restart}\n"
            f"  terminationGracePeriodSeconds: 5\n{extra}"
            f"  containers:\n  - name: main\n    image: test/sh\n    command: [sh, -c, {json.dumps(command)}]\n")


def terminated(stack: VirtLocal, name: str) -> dict[str, Any] | None:
    obj = stack.get("pod", name) or {}
    for cs in (obj.get("status") or {}).get("containerStatuses") or []:
        state = (cs.get("state") or {}).get("terminated")
        if state:
            return dict(state)
    return None


def test_processes_a_container_detached_end_when_its_main_process_exits(stack: VirtLocal, tmp_path: Path) -> None:
    script = detached_child(tmp_path, "detached")
    ready = tmp_path / "started"
    stack.kubectl("apply", "-f", "-", input=pod(
        "leaves-a-child", f"setsid {script} & setsid sh -c '{script} &' ; touch {ready}; "
                          f"while [ ! -e {tmp_path}/go ]; do sleep 0.1; done; exit 3"))
    wait_for(lambda: ready.exists() and len(running(script)) == 2, message="the container to start its detached children")
    (tmp_path / "go").touch()
    state = wait_for(lambda: terminated(stack, "leaves-a-child"), timeout=30, message="the container to be reported terminated")
    assert (state["exitCode"], state["reason"]) == (3, "Error")
    # Its end is reported only once nothing of it runs.
    assert running(script) == {}


def test_deleting_a_pod_kills_the_processes_its_container_detached(stack: VirtLocal, tmp_path: Path) -> None:
    script = detached_child(tmp_path, "deleted")
    stack.kubectl("apply", "-f", "-", input=pod("deleted-with-child", f"setsid {script} & exec sleep 1000"))
    wait_for(lambda: running(script), timeout=30, message="the detached child")
    stack.kubectl("delete", "pod", "deleted-with-child", "--wait=true", "--timeout=30s")
    assert running(script) == {}


@pytest.mark.skipif(not Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists(),
                    reason="needs the cgroup v1 memory controller")
def test_memory_limit_is_enforced_and_reported_as_oom_killed(stack: VirtLocal) -> None:
    hog = "python3 -c 'import time; b = b\"x\" * (512 << 20); time.sleep(60)'"
    stack.kubectl("apply", "-f", "-", input=pod("hog", hog).replace(
        "    command:", "    resources: {limits: {memory: 64Mi}}\n    command:"))
    state = wait_for(lambda: terminated(stack, "hog"), timeout=30, message="the hog to be terminated")
    assert (state["exitCode"], state["reason"]) == (137, "OOMKilled")
    assert stack.phase("pod", "hog") == "Failed"


def test_a_pod_sharing_a_claim_starts_only_once_the_old_pods_processes_are_gone(stack: VirtLocal) -> None:
    # The old Pod needs 3 s to stop (and leaves a detached child); the new one is created meanwhile.
    old = ("trap 'sleep 3; echo old-ended >> /pvc/log; exit 0' TERM; setsid sh -c 'sleep 1000' & "
           "echo old-started >> /pvc/log; while :; do sleep 0.2; done")
    mount = "    volumeMounts: [{name: d, mountPath: /pvc}]\n    command:"
    volumes = "  volumes: [{name: d, persistentVolumeClaim: {claimName: shared}}]\n"
    stack.kubectl("apply", "-f", "-", input=(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: shared}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n---\n"
        + pod("old-user", old, extra=volumes).replace("    command:", mount)))
    pvc = wait_for(lambda: (p := stack.get("pvc", "shared")) and
                   p["status"].get("phase") == "Bound" and p, message="the claim to bind")
    log = stack.data_dir / "volumes" / pvc["spec"]["volumeName"] / "log"
    wait_for(lambda: log.exists() and "old-started" in log.read_text(), timeout=30, message="the old Pod to run")
    stack.kubectl("delete", "pod", "old-user", "--wait=false")
    stack.kubectl("apply", "-f", "-", input=pod("new-user", "echo new-started >> /pvc/log",
                                                 extra=volumes).replace("    command:", mount))

    def waiting_message() -> str:
        for cs in ((stack.get("pod", "new-user") or {}).get("status") or {}).get("containerStatuses") or []:
            return str(((cs.get("state") or {}).get("waiting") or {}).get("message") or "")
        return ""
    message = wait_for(lambda: "old-user" in waiting_message() and
                       waiting_message(), timeout=30, message="the new Pod to wait for the old one")
    assert 'persistentvolumeclaim "shared" is still used by pod default/old-user' in message
    wait_for(lambda: stack.phase("pod", "new-user") == "Succeeded", timeout=30, message="the new Pod to succeed")
    assert log.read_text().split() == ["old-started", "old-ended", "new-started"]
    stack.kubectl("delete", "pod", "new-user", "--wait=false")


def events_of(stack: VirtLocal, name: str) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"]) for e in stack.list("events", "--field-selector",
                                                                       f"involvedObject.name={name}")]


def test_failures_are_warning_events_with_the_kubelets_reasons(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: no-image}\nspec:\n"
        "  containers: [{name: main, image: quay.io/nope/missing:1}]\n---\n"
        + pod("no-config", "true", extra="  volumes: [{name: cfg, configMap: {name: absent}}]\n").replace(
            "    command:", "    volumeMounts: [{name: cfg, mountPath: /cfg}]\n    command:")
        + "---\n" + pod("crashes", "exit 1", restart="Always")
        + "---\n" + pod("no-command", "true").replace("[sh, -c, \"true\"]", "[/nonexistent/program]")))
    uid = wait_for(lambda: stack.get("pod", "crashes"), message="crashes")["metadata"]["uid"]
    wanted = {
        "no-image": ("Warning", "Failed", 'Failed to pull image "quay.io/nope/missing:1": virt-local runs only'),
        "no-config": ("Warning", "FailedMount",
                      'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found'),
        "crashes": ("Warning", "BackOff", f"Back-off restarting failed container main in pod crashes_default({uid})"),
        "no-command": ("Warning", "Failed", "Error: failed to start the container process: "),
    }
    for name, (kind, reason, prefix) in wanted.items():
        wait_for(lambda n=name, k=kind, r=reason, p=prefix: [  # type: ignore[misc]
            e for e in events_of(stack, n) if e[:2] == (k, r) and e[2].startswith(p)], timeout=40, message=f"a {reason} event on {name}")
    assert ("Warning", "Failed", "Error: ErrImagePull") in events_of(stack, "no-image")
    stack.kubectl("delete", "pod", "no-image", "no-config", "crashes", "no-command", "--wait=false")


def test_ctrl_c_gives_a_pod_its_grace_period(tmp_path: Path) -> None:
    done = tmp_path / "stopped-cleanly"
    script = tmp_path / "slow-stop.sh"
    # Needs 6 s to stop: more than the 5 s virt-local used to give, less than the Pod's 20 s.
    script.write_text(f"#!/bin/sh\ntrap 'sleep 6; echo done > {done}; exit 0' TERM\n"
                      f"touch {tmp_path}/running\nwhile :; do sleep 0.2; done\n")
    script.chmod(0o755)
    vl = start_virt_local(tmp_path / "d", "test", "--no-kubevirt", "--image-map", f"test/slow={script}")
    try:
        vl.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Pod\nmetadata: {name: slow}\nspec:\n"
                   "  terminationGracePeriodSeconds: 20\n  containers: [{name: main, image: test/slow}]\n")
        wait_for(lambda: (tmp_path / "running").exists(), timeout=30, message="Pod slow running")
    finally:
        left = vl.stop(90)
        left.update(processes_mentioning([str(script)]))
        kill_all(left)
    assert not left, f"processes left behind: {json.dumps(left, indent=1)}"
    assert done.exists(), "the container was killed before it finished stopping"
