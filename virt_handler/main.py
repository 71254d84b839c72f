"""`virt-handler` console script and its composition root, `run(settings)`.

`run` wires the pieces and owns one TaskGroup: the VMI informers (this node's VMIs and migration
targets), the reconcile workers, the notify socket, the node heartbeat, the mutual-TLS server for
virt-api and the health/metrics server. SIGTERM/SIGINT end the group; on the way out the node is
marked unschedulable and every connection is closed. Launchers and their domains are left running:
a restarted handler re-adopts them.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Mapping
from typing import Any

from virt_client import tls_alerts
from virt_client.api.constants import MIGRATION_TARGET_NODE_NAME_LABEL, NODE_NAME_LABEL
from virt_client.clock import RealClock
from virt_client.controller import Controller
from virt_client.events import EventRecorder
from virt_client.informer import Informer
from virt_client.kube import KubeClient
from virt_client.metrics import REGISTRY, MetricsServer
from virt_client.resources import VMIS
from virt_handler.housekeeping import sweep_forever
from virt_handler.launchers import LauncherRegistry
from virt_handler.metrics import PhaseCollector
from virt_handler.node import NodeAgent
from virt_handler.notify import NotifyServer
from virt_handler.reconcile import VMIReconciler
from virt_handler.server import HandlerServer, reload_certificates, ssl_context
from virt_handler.settings import HandlerSettings, parse_args

log = logging.getLogger("virt_handler")


async def run(settings: HandlerSettings) -> None:
    """Run the handler until SIGTERM/SIGINT."""
    clock = RealClock()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await KubeClient.from_environment(settings.kubeconfig, user_agent="virt-handler")
    informers = tuple(
        Informer(client, VMIS, label_selector=f"{label}={settings.node_name}", resync_period=settings.resync_period,
                 clock=clock)
        for label in (NODE_NAME_LABEL, MIGRATION_TARGET_NODE_NAME_LABEL))
    launchers = LauncherRegistry(settings, clock)
    events = EventRecorder(client, component="virt-handler", host=settings.node_name, clock=clock)
    reconciler = VMIReconciler(node_name=settings.node_name, client=client, informers=informers,
                               launchers=launchers, events=events, clock=clock)
    controller = Controller(name="virt-handler-vmi", reconcile=reconciler.reconcile, workers=settings.workers,
                            informers=informers, clock=clock)
    for informer in informers:
        informer.add_handler(controller.handler())

    def on_event(event: Mapping[str, Any]) -> None:
        uid = launchers.record_event(event)
        key = reconciler.key_for_uid(uid) if uid else None
        if key is not None:
            controller.enqueue_key(key)
        elif event.get("type") == "launcher":
            # a launcher that just started does not know its VMI yet: look at the VMIs waiting for one
            for k in reconciler.keys_waiting_for_launcher():
                controller.enqueue_key(k)

    def on_disconnect(uids: set[str]) -> None:
        for uid in uids:
            if (key := reconciler.key_for_uid(uid)) is not None:
                controller.enqueue_key(key)

    notify = NotifyServer(settings.notify_socket, on_event, on_disconnect)

    def healthy() -> bool:
        return notify.serving and all(i.has_synced() for i in informers)

    node = NodeAgent(settings, client, clock, healthy)
    health = MetricsServer(address=settings.address, port=settings.health_port, healthz=healthy, readyz=healthy)
    collector = PhaseCollector(settings.node_name, lambda: [v for i in informers for v in i.store.objects()])
    REGISTRY.register(collector)
    tls = ssl_context(settings)
    server = HandlerServer(settings, reconciler, launchers, controller.enqueue_key)
    try:
        await notify.start()
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(notify.serve()), tg.create_task(health.run()), tg.create_task(controller.run()),
                     tg.create_task(events.run())]
            tasks += [tg.create_task(informer.run()) for informer in informers]
            if tls is not None:
                tasks.append(tg.create_task(server.serve(tls[0])))
                tasks.append(tg.create_task(reload_certificates(*tls)))
            else:
                log.warning("no --tls-cert/--tls-key: the server for virt-api (console, VNC, pause) is off")
            tasks.append(tg.create_task(_heartbeat_when_synced(node, informers)))
            tasks.append(tg.create_task(_sweep_when_synced(settings, informers)))
            log.info("virt-handler for node %s: run dir %s, hypervisor %s", settings.node_name,
                     settings.run_dir, settings.hypervisor)
            await stop.wait()
            log.info("stopping")
            for task in tasks:
                task.cancel()
    finally:
        REGISTRY.unregister(collector)
        await node.mark_unschedulable()
        await notify.close()
        await launchers.close()
        await client.close()


async def _sweep_when_synced(settings: HandlerSettings, informers: tuple[Informer, ...]) -> None:
    """Remove abandoned launcher directories, once the caches say which VMIs are still here."""
    for informer in informers:
        await informer.wait_for_synced()

    def live_uids() -> set[str]:
        return {str(v["metadata"].get("uid")) for i in informers for v in i.store.objects()}
    await sweep_forever(settings.sockets_dir, live_uids)


async def _heartbeat_when_synced(node: NodeAgent, informers: tuple[Informer, ...]) -> None:
    for informer in informers:
        await informer.wait_for_synced()
    await node.run()


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tls_alerts.run(run(settings))  # a refused client certificate gets its TLS alert


if __name__ == "__main__":
    main()
