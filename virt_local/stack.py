"""The cluster side of virt-local, run inside `virt-local up`: node agents, the scheduler, the workload
controllers (Deployments, ReplicaSets, DaemonSets, Endpoints), one pod runner per node and the volume
provisioner, sharing one API client.

`start()` registers the nodes and the default StorageClass (so both exist before anything is
scheduled); `run()` runs everything until cancelled; `stop()` ends every Pod's processes (each Pod
within its grace period; `kill_now()` cuts them short), reports them, removes the Pod cgroups and marks
the nodes as no longer posting status. Node `i` is `node-<i>` with its root directory at
`<data-dir>/nodes/node-<i>/root`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from virt_client.events import EventRecorder
from virt_client.kube import KubeClient

from .images import ImageStore
from .nodes import NodeAgent, NodeCapacity, node_name
from .podrunner.backend import ApiBackend
from .podrunner.cgroups import CgroupRoot
from .podrunner.imagemap import ImageMap
from .podrunner.runner import PodRunner
from .podrunner.termination import DEFAULT_SHUTDOWN_GRACE_SECONDS
from .podrunner.volume_users import VolumeUsers
from .podrunner.warmstart import WarmStarter
from .podrunner.worker import NodeContext
from .provisioner import Provisioner
from .scheduler import Scheduler
from .workloads.manager import WorkloadControllers


@dataclass(frozen=True)
class StackSettings:
    data_dir: Path
    nodes: int
    image_map: ImageMap
    api_port: int
    capacity: NodeCapacity
    #: the longest a Pod's containers are given when virt-local stops
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE_SECONDS


def node_root(data_dir: Path, name: str) -> Path:
    return data_dir / "nodes" / name / "root"


class NodeStack:
    def __init__(self, client: KubeClient, settings: StackSettings) -> None:
        self.settings = settings
        data_dir = settings.data_dir
        self.images = ImageStore(data_dir / "images")
        backend = ApiBackend(client, self.images)
        names = [node_name(i) for i in range(1, settings.nodes + 1)]
        self.agents = [NodeAgent(client, name=n, root=node_root(data_dir, n), capacity=settings.capacity)
                       for n in names]
        alloc = settings.capacity.as_resources()
        self.warm = WarmStarter()
        self.cgroups = CgroupRoot.for_data_dir(data_dir)
        volume_users = VolumeUsers()
        self.runners = [PodRunner(NodeContext(client=client, backend=backend, node_name=n,
                                              node_root=node_root(data_dir, n), pods_dir=data_dir / "pods",
                                              images=self.images, image_map=settings.image_map,
                                              api_port=settings.api_port, allocatable=alloc, warm=self.warm,
                                              cgroups=self.cgroups, volume_users=volume_users,
                                              events=EventRecorder(client, component="kubelet", host=n),
                                              shutdown_grace=settings.shutdown_grace))
                        for n in names]
        self.scheduler = Scheduler(client)
        self.provisioner = Provisioner(client, data_dir / "volumes")
        self.workloads = WorkloadControllers(client)

    @property
    def node_names(self) -> list[str]:
        return [a.name for a in self.agents]

    async def start(self) -> None:
        for agent in self.agents:
            await agent.register()
        await self.provisioner.ensure_storage_class()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.scheduler.run())
            tg.create_task(self.provisioner.run())
            tg.create_task(self.workloads.run())
            for agent in self.agents:
                tg.create_task(agent.run())
            for runner in self.runners:
                tg.create_task(runner.run())

    def kill_now(self) -> None:
        """Cut the grace periods of a stop short: every Pod's processes are killed at once."""
        for runner in self.runners:
            runner.kill_now()

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.runners))
        await self.warm.close()
        await asyncio.to_thread(self.cgroups.base.remove)
        for agent in self.agents:
            await agent.mark_stopped()
