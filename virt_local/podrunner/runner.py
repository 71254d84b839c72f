"""The pod runner of one node: a `PodWorker` per Pod bound to the node.

Watches Pods with `spec.nodeName=<node>`; a new Pod uid starts a worker, later versions are handed to
it, a deletion from the API tells it the Pod is gone. After the first list it sweeps what an earlier
virt-local left behind of Pods that no longer exist: the Pod directories this node owned (every
process in the Pod's cgroup is killed, and any process a pid file still names) and Pod cgroups with no
directory at all; then the directories and cgroups are removed. The node's Warning events are written
by its recorder (`ctx.events`), run here. `stop()` asks every worker to end its containers (each within
its grace period, capped by the shutdown grace period) and report them, waits for them, and kills
whatever is left; `kill_now()` cuts the grace periods short. The caller then cancels `run()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from virt_client.informer import EventHandler, Informer
from virt_client.resources import PODS

from . import cgroups, process
from .containment import KILL_WAIT_SECONDS, kill_and_remove
from .worker import NodeContext, PodWorker

log = logging.getLogger("virt_local.podrunner")


def _orphans(pods_dir: Path, node: str, live_uids: set[str]) -> list[Path]:
    out: list[Path] = []
    if not pods_dir.is_dir():
        return out
    for d in pods_dir.iterdir():
        if d.name in live_uids:
            continue
        try:
            owner = json.loads((d / "pod.json").read_text()).get("node")
        except (OSError, ValueError):
            continue
        if owner == node:
            out.append(d)
    return out


def _clean_orphan(d: Path) -> None:
    saved = cgroups.load(d / "cgroup.json")
    if saved is not None:
        kill_and_remove(saved, f"deleted pod {d.name}")
    for pid_file in d.glob("containers/*/pid"):
        proc = process.adopt(pid_file)
        if proc is not None:
            log.info("killing leftover process %d of deleted pod %s", proc.pid, d.name)
            process.kill_group(proc)
    shutil.rmtree(d, ignore_errors=True)


def _clean_stray_cgroups(ctx: NodeContext) -> None:
    """Pod cgroups whose Pod directory is gone: nothing can own them any more."""
    for uid in ctx.cgroups.pod_uids():
        if not (ctx.pods_dir / uid).exists():
            kill_and_remove(ctx.cgroups.pod(uid), f"pod {uid}")


class PodRunner:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.informer = Informer(ctx.client, PODS, field_selector=f"spec.nodeName={ctx.node_name}")
        self.workers: dict[str, PodWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._stopping = False
        self.informer.add_handler(EventHandler(on_add=self._on_pod, on_update=lambda old, new: self._on_pod(new),
                                               on_delete=self._on_delete))

    def _on_pod(self, pod: Mapping[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
        elif self._tg is not None and not self._stopping:
            worker = self.workers[uid] = PodWorker(self.ctx, pod)
            task = self._tasks[uid] = self._tg.create_task(self._run_worker(uid, worker))
            task.set_name(f"pod {pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}")

    def _on_delete(self, pod: Mapping[str, Any]) -> None:
        worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None:
            worker.update(None)

    async def _run_worker(self, uid: str, worker: PodWorker) -> None:
        try:
            await worker.run()
        except Exception:  # noqa: BLE001 - one Pod's failure must not stop the node
            log.exception("pod %s/%s: worker failed", worker.namespace, worker.name)
        finally:
            self.workers.pop(uid, None)
            self._tasks.pop(uid, None)

    async def run(self) -> None:
        self.ctx.pods_dir.mkdir(parents=True, exist_ok=True)
        async with asyncio.TaskGroup() as tg:
            if self.ctx.events is not None:
                tg.create_task(self.ctx.events.run())
            tg.create_task(self.informer.run())
            await self.informer.wait_for_synced()
            live = {p["metadata"]["uid"] for p in self.informer.store.objects()}
            for d in await asyncio.to_thread(_orphans, self.ctx.pods_dir, self.ctx.node_name, live):
                await asyncio.to_thread(_clean_orphan, d)
            await asyncio.to_thread(_clean_stray_cgroups, self.ctx)
            self._tg = tg
            for pod in self.informer.store.objects():
                self._on_pod(pod)

    def kill_now(self) -> None:
        """Stop waiting for grace periods: every container still running is killed."""
        for worker in list(self.workers.values()):
            worker.kill_now()

    async def stop(self) -> None:
        """End every container of this node (grace periods capped), post their status, wait for it."""
        self._stopping = True
        # A snapshot: a worker cancelled by the timeout below leaves `self.workers`, and its
        # processes must still be killed.
        workers = list(self.workers.values())
        for worker in workers:
            worker.stop()
        tasks = list(self._tasks.values())
        if tasks:
            # The grace period, the kill and the final status write: a worker that takes longer is stuck.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ctx.shutdown_grace + 2 * KILL_WAIT_SECONDS + 10):
                    await asyncio.gather(*tasks, return_exceptions=True)
        # Whatever did not end in time is killed outright: nothing may outlive virt-local.
        for worker in workers:
            for proc in list(worker.procs.values()):
                process.kill_group(proc)
            if worker.containment.enabled:
                await asyncio.to_thread(kill_and_remove, worker.containment.cgroup,
                                        f"pod {worker.namespace}/{worker.name}")
        if self.ctx.events is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.ctx.events.flush()
