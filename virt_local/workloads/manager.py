"""The workload controllers of `virt-local up`, sharing one informer per resource (as
kube-controller-manager's shared informers): Deployment → ReplicaSets, ReplicaSet → Pods,
DaemonSet → Pods per Node, Service → Endpoints."""

from __future__ import annotations

import asyncio

from virt_client.informer import Informer
from virt_client.kube import KubeClient
from virt_client.resources import NODES, PODS, SERVICES

from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .endpoints import EndpointsController
from .refs import DAEMONSETS, DEPLOYMENTS, ENDPOINTS, REPLICASETS
from .replicaset import ReplicaSetController


class WorkloadControllers:
    def __init__(self, client: KubeClient) -> None:
        self.pods = Informer(client, PODS)
        self.nodes = Informer(client, NODES)
        self.services = Informer(client, SERVICES)
        self.endpoints = Informer(client, ENDPOINTS)
        self.replicasets = Informer(client, REPLICASETS)
        self.deployments = Informer(client, DEPLOYMENTS)
        self.daemonsets = Informer(client, DAEMONSETS)
        self.controllers = (
            DeploymentController(client, deployments=self.deployments, replicasets=self.replicasets),
            ReplicaSetController(client, replicasets=self.replicasets, pods=self.pods),
            DaemonSetController(client, daemonsets=self.daemonsets, nodes=self.nodes, pods=self.pods),
            EndpointsController(client, services=self.services, endpoints=self.endpoints, pods=self.pods),
        )

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for informer in (self.pods, self.nodes, self.services, self.endpoints, self.replicasets,
                             self.deployments, self.daemonsets):
                tg.create_task(informer.run())
            for controller in self.controllers:
                tg.create_task(controller.run())
