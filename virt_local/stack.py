"""The cluster side of virt-local, run inside `virt-local up`: node agents, the scheduler, the workload
controllers (Deployments, ReplicaSets, DaemonSets, Endpoints), one pod runner per node and the volume
provisioner, sharing one API client.

`start()` registers the nodes and the default StorageClass (so both exist before anything is
scheduled); `run()` runs everything until cancelled; `stop()` ends every Pod's processes, reports them
and marks the nodes as no longer posting status. Node `i` is `node-<i>` with its root directory at
`<data-dir>/nodes/node-<i>/root`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from virt_client.kube import KubeClient

from .images import ImageStore
from .nodes import NodeAgent, NodeCapacity, node_name
from .podrunner.backend import ApiBackend
from .podrunner.imagemap import ImageMap
from .podrunner.runner import PodRunner
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
        self.runners = [PodRunner(NodeContext(client=client, backend=backend, node_name=n,
                                              node_root=node_root(data_dir, n), pods_dir=data_dir / "pods",
                                              images=self.images, image_map=settings.image_map,
                                              api_port=settings.api_port, allocatable=alloc, warm=self.warm))
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

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.runners))
        await self.warm.close()
        for agent in self.agents:
            await agent.mark_stopped()
