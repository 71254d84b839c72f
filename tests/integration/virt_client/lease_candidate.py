"""A leader-election candidate process for the integration tests.

Usage: python lease_candidate.py KUBECONFIG IDENTITY LEASE_SECONDS RENEW_SECONDS RETRY_SECONDS
Prints "leading IDENTITY" when it acquires the lease and "released IDENTITY" after a graceful stop
(SIGTERM); exits 3 if it loses the lease.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from virt_client.kube import KubeClient
from virt_client.leader_election import LeaderElectionConfig, LeaderElector, LeaderLost


async def main(kubeconfig: str, identity: str, lease: float, renew: float, retry: float) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    async with await KubeClient.from_kubeconfig(kubeconfig) as client:
        config = LeaderElectionConfig(namespace="default", name="test-controller", identity=identity,
                                      lease_duration=lease, renew_deadline=renew, retry_period=retry)

        async def lead() -> None:
            print(f"leading {identity}", flush=True)
            await asyncio.Future()

        try:
            await LeaderElector(client, config).run(lead)
        except LeaderLost:
            print(f"lost {identity}", flush=True)
            return 3
        except asyncio.CancelledError:
            print(f"released {identity}", flush=True)
    return 0


if __name__ == "__main__":
    kubeconfig, identity, lease, renew, retry = sys.argv[1:6]
    sys.exit(asyncio.run(main(kubeconfig, identity, float(lease), float(renew), float(retry))))
