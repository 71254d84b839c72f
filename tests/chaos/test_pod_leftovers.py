"""`kill -9` of `virt-local up` itself: Pod processes survive it (the next `up` adopts them, cgroups
and all), but what is left of a container that ended meanwhile is killed when `up` starts again, as
are the processes of a Pod whose directory is gone (the Pod itself, still in the API, starts afresh);
and the next clean stop leaves nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.chaos.conftest import ChaosLedger
from tests.support.process import processes_mentioning
from tests.support.virtlocal import VirtLocal, start_virt_local
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow


def script(directory: Path, name: str) -> Path:
    path = directory / f"{name}-{directory.name}.sh"
    path.write_text("#!/bin/sh\nwhile :; do sleep 1; done\n")
    path.chmod(0o755)
    return path


def running(path: Path) -> dict[int, str]:
    return {pid: cmd for pid, cmd in processes_mentioning([str(path)]).items() if cmd.startswith("/bin/sh ")}


def pod(name: str, child: Path) -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  restartPolicy: Never\n"
            f"  containers:\n  - name: main\n    image: test/sh\n"
            f"    command: [sh, -c, \"setsid {child} & exec sleep 1000\"]\n")


def main_pid(vl: VirtLocal, name: str) -> int:
    uid = (vl.get("pod", name) or {})["metadata"]["uid"]
    return int((vl.data_dir / "pods" / uid / "containers" / "main" / "pid").read_text().split()[0])


def test_restart_after_kill_9_kills_leftovers_and_adopts_the_rest(tmp_path: Path, chaos: ChaosLedger) -> None:
    data = tmp_path / "d"
    dies, kept, orphan = script(tmp_path, "dies"), script(tmp_path, "kept"), script(tmp_path, "orphan")
    args = ("test", "--no-kubevirt", "--image-map", "test/sh=sh")
    vl = start_virt_local(data, *args)
    try:
        vl.kubectl("apply", "-f", "-", input="---\n".join(
            [pod("dies", dies), pod("kept", kept), pod("orphan", orphan)]))
        wait_for(lambda: running(dies) and running(kept) and running(orphan), timeout=30, message="the detached children")
        orphan_uid = (vl.get("pod", "orphan") or {})["metadata"]["uid"]
        victim = main_pid(vl, "dies")
        vl.process.kill()  # kill -9 of up: the API server and components die with it, Pods do not
        os.kill(victim, signal.SIGKILL)  # a container ends while nothing watches it
        shutil.rmtree(data / "pods" / orphan_uid)  # and a Pod directory is lost
        chaos.fault("virt-local up kill -9")
        chaos.fault("container kill -9 while virt-local is down")
        before = {path: set(running(path)) for path in (dies, kept, orphan)}
        assert all(before.values())

        vl = start_virt_local(data, *args)
        wait_for(lambda: not running(dies) and not set(running(orphan)) & before[orphan], timeout=30, message="what is left of the ended container and of the lost Pod to be killed")
        assert set(running(kept)) == before[kept], "a running Pod's processes were killed instead of adopted"
        state = wait_for(lambda: next(
            (cs["state"]["terminated"] for cs in ((vl.get("pod", "dies") or {}).get("status") or {}).get(
                "containerStatuses") or [] if cs["state"].get("terminated")), None), timeout=30, message="dies to be reported terminated")
        assert state["exitCode"] == 137
    finally:
        left = vl.stop()
        for path in (dies, kept, orphan):
            left.update(running(path))
        chaos.leaked(left)
    assert not left, f"processes left behind: {json.dumps(left, indent=1)}"
