"""virt-controller: the composition root. Parses settings, builds informers and controllers, and
runs them under leader election in one `asyncio.TaskGroup`.

Informers start on every replica so a standby has warm caches; the VM, VMI and VMIRS controllers
(and the event recorder) run only while this replica holds the `virt-controller` Lease in
`--namespace`. Losing the lease ends the process (exit code 1): a controller must not act on a
world another leader now owns. SIGTERM and SIGINT cancel everything and release the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from virt_client.clock import RealClock
from virt_client.events import EventRecorder
from virt_client.informer import Informer
from virt_client.kube import KubeClient
from virt_client.leader_election import LeaderElectionConfig, LeaderElector, LeaderLost
from virt_client.logs import setup_logging
from virt_client.resources import DATAVOLUMES, PODS, PVCS, VMIRSS, VMIS, VMS
from virt_controller.ownership import (
    CREATED_BY_INDEX,
    OWNER_UID_INDEX,
    VMI_KEY_INDEX,
    by_controller_uid,
    by_created_by,
    by_vmi_key,
)
from virt_controller.settings import Settings, parse_settings
from virt_controller.status_server import StatusServer
from virt_controller.vm.reconcile import VMController
from virt_controller.vmi.reconcile import VMIController
from virt_controller.vmirs.reconcile import ReplicaSetController

log = logging.getLogger("virt_controller")
COMPONENT = "virt-controller"


async def run(settings: Settings) -> None:
    """Run virt-controller until cancelled (raises `LeaderLost` when the lease is lost)."""
    clock = RealClock()
    client = await KubeClient.from_environment(settings.kubeconfig, qps=settings.qps, burst=settings.burst,
                                               user_agent=COMPONENT)
    async with client:
        vms = Informer(client, VMS, clock=clock)
        vmis = Informer(client, VMIS, clock=clock, indexers={OWNER_UID_INDEX: by_controller_uid})
        pods = Informer(client, PODS, clock=clock, label_selector="kubevirt.io=virt-launcher",
                        indexers={CREATED_BY_INDEX: by_created_by, VMI_KEY_INDEX: by_vmi_key})
        replicasets = Informer(client, VMIRSS, clock=clock)
        datavolumes = Informer(client, DATAVOLUMES, clock=clock)
        pvcs = Informer(client, PVCS, clock=clock)
        recorder = EventRecorder(client, component=COMPONENT, host=settings.identity, clock=clock)
        controllers = (
            VMController(client=client, vms=vms, vmis=vmis, datavolumes=datavolumes, pvcs=pvcs,
                         recorder=recorder, clock=clock, workers=settings.workers),
            VMIController(client=client, vmis=vmis, pods=pods, pvcs=pvcs, recorder=recorder,
                          launcher=settings.launcher, clock=clock, workers=settings.vmi_workers),
            ReplicaSetController(client=client, replicasets=replicasets, vmis=vmis, recorder=recorder,
                                 clock=clock, workers=settings.workers),
        )
        elector = LeaderElector(client, LeaderElectionConfig(
            namespace=settings.namespace, name=settings.lease_name, identity=settings.identity,
            lease_duration=settings.lease_duration, renew_deadline=settings.renew_deadline,
            retry_period=settings.retry_period), clock=clock)
        server = StatusServer(address=settings.bind_address, port=settings.port,
                              is_leader=lambda: elector.is_leader)

        async def lead() -> None:
            log.info("leading: starting the VM, VMI and VMIRS controllers")
            async with asyncio.TaskGroup() as tg:
                tg.create_task(recorder.run(), name="events")
                for ctrl in controllers:
                    tg.create_task(ctrl.run(), name=ctrl.controller.name)

        async with asyncio.TaskGroup() as tg:
            port = await server.start()
            log.info("serving /healthz, /leader and /metrics on %s:%d", settings.bind_address, port)
            tg.create_task(_serve(server), name="status-server")
            for informer in (vms, vmis, pods, replicasets, datavolumes, pvcs):
                tg.create_task(informer.run(), name=f"informer-{informer.ref.plural}")
            await elector.run(lead)


async def _serve(server: StatusServer) -> None:
    try:
        await asyncio.Future()
    finally:
        await server.close()


async def _main(settings: Settings) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await _run_until_leader_lost(settings)
    except asyncio.CancelledError:
        log.info("virt-controller stopped")
        return 0


async def _run_until_leader_lost(settings: Settings) -> int:
    lost = False
    try:
        await run(settings)
    except* LeaderLost as eg:
        log.error("virt-controller: %s; exiting", eg.exceptions[0])
        lost = True
    return 1 if lost else 0


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(argv)
    setup_logging(COMPONENT, settings.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(_main(settings)))


if __name__ == "__main__":
    main()
