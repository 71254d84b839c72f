"""The processes of one Pod, contained in its cgroups: make a container's group before it starts,
kill what is left of it when its main process ends, and of the whole Pod when it ends.

`PodContainment` is the worker's side of `cgroups` (which only touches the file system): it waits for
groups to empty (a SIGKILLed process is gone only once the kernel has torn it down, and QEMU can take a
moment), logs what does not end, and counts the OOM kills of each container's life. Without cgroups
(`Cgroup().enabled` is False) a container's process group is killed instead, as before there were
cgroups: a process that left the group (a daemon's child in a session of its own) then survives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import cgroups, process
from .cgroups import Cgroup
from .limits import container_memory_limit, pod_memory_limit

log = logging.getLogger("virt_local.podrunner")

#: how long SIGKILLed processes may take to be gone (a process in uninterruptible sleep) before we go on
KILL_WAIT_SECONDS = 10.0


def _wait_seconds(attempt: int) -> float:
    return min(0.01 * 2.0 ** min(attempt, 10), 0.1)


async def wait_for_empty(cgroup: Cgroup, seconds: float) -> bool:  # noqa: ASYNC109
    """Wait until no process is left in `cgroup` (True), or `seconds` pass (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    attempt = 0
    while await asyncio.to_thread(cgroup.populated):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(_wait_seconds(attempt))
        attempt += 1
    return True


def kill_and_remove(cgroup: Cgroup, what: str) -> None:
    """SIGKILL everything in `cgroup`, wait (in this thread) until it is empty, remove it."""
    if cgroup.populated():
        log.info("killing the processes %s left of %s", sorted(cgroup.pids()), what)
        cgroup.kill()
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        attempt = 0
        while cgroup.populated() and time.monotonic() < deadline:
            time.sleep(_wait_seconds(attempt))
            attempt += 1
    cgroup.remove()


class PodContainment:
    def __init__(self, cgroup: Cgroup, pod_dir: Path, what: str) -> None:
        self.cgroup = cgroup
        self.pod_dir = pod_dir
        self.what = what  # "pod ns/name", for log lines
        self._oom_base: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self.cgroup.enabled

    def restore(self) -> None:
        """Use the groups an earlier virt-local recorded (it may have run in another cgroup)."""
        saved = cgroups.load(self.pod_dir / "cgroup.json")
        if saved is not None:
            self.cgroup = saved

    def make(self, pod: Mapping[str, Any], c: Mapping[str, Any]) -> Cgroup:
        """The container's group, fresh, below the Pod's (recorded in the Pod directory); blocking."""
        if not self.cgroup.enabled:
            return self.cgroup
        self.cgroup.create(pod_memory_limit(pod))
        cgroups.save(self.cgroup, self.pod_dir / "cgroup.json")
        cg = self.cgroup.child(c["name"])
        cg.kill()  # nothing of an earlier instance of the container may share it
        cg.remove()
        cg.create(container_memory_limit(c))
        self._oom_base[c["name"]] = cg.oom_kills()
        return cg

    async def kill_container(self, name: str, proc: process.ContainerProcess) -> None:
        """SIGKILL the container: every process in its group, and its process group."""
        if self.cgroup.enabled:
            await asyncio.to_thread(self.cgroup.child(name).kill)
        process.kill_group(proc)

    async def end_container(self, name: str, proc: process.ContainerProcess) -> int:
        """The container's main process ended: kill whatever it left (as a runtime kills the container's
        cgroup) and wait until nothing is left; the number of processes the kernel killed for the
        container's memory limit meanwhile."""
        cg = self.cgroup.child(name)
        if not cg.enabled:
            process.kill_group(proc)
            return 0
        if await asyncio.to_thread(cg.populated):
            await asyncio.to_thread(cg.kill)
            if not await wait_for_empty(cg, KILL_WAIT_SECONDS):
                log.warning("%s: processes %s of container %s did not end after SIGKILL", self.what,
                            sorted(cg.pids()), name)
        oom = await asyncio.to_thread(cg.oom_kills) - self._oom_base.pop(name, 0)
        await asyncio.to_thread(cg.remove)
        return oom

    async def kill_leftovers(self, names: Iterable[str]) -> None:
        """Kill what is left of containers that are not running (their main process ended while
        virt-local was not watching, e.g. a launcher whose QEMU lived on)."""
        if not self.cgroup.enabled:
            return
        for name in names:
            cg = self.cgroup.child(name)
            if await asyncio.to_thread(cg.populated):
                log.info("%s: killing what is left of container %s", self.what, name)
                await asyncio.to_thread(cg.kill)
                await wait_for_empty(cg, KILL_WAIT_SECONDS)
                await asyncio.to_thread(cg.remove)

    async def end_pod(self) -> None:
        """Nothing of the Pod may outlive it: kill what is left in its group and remove the group."""
        if not self.cgroup.enabled or not await asyncio.to_thread(self.cgroup.exists):
            return
        if await asyncio.to_thread(self.cgroup.populated):
            log.info("%s: killing the processes left in its cgroup", self.what)
            await asyncio.to_thread(self.cgroup.kill)
            if not await wait_for_empty(self.cgroup, KILL_WAIT_SECONDS):
                log.warning("%s: processes %s did not end after SIGKILL", self.what, sorted(self.cgroup.pids()))
        await asyncio.to_thread(self.cgroup.remove)

    def populated(self) -> bool:
        return self.cgroup.populated()
