"""Two virt-controller replicas: one leads; SIGKILL of the leader hands over without duplicate VMIs
or launcher Pods."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from tests.support.controller import KV, Cluster, vm_manifest
from tests.support.wait import wait_for


@pytest.mark.slow
def test_leader_failover_without_duplicates(cluster: Cluster) -> None:
    api, ns = cluster.api, cluster.namespace()
    first, second = cluster.controller(), cluster.controller()
    try:
        leader = wait_for(lambda: next((c for c in (first, second) if c.is_leader()), None), message="a leader")
        standby = second if leader is first else first
        wait_for(lambda: standby.endpoint("/healthz") == 200, message="the standby healthy")
        assert standby.endpoint("/leader") == 503
        metrics = httpx.get(f"http://127.0.0.1:{leader.port}/metrics").text
        assert 'workqueue_depth{name="vmi"}' in metrics and "controller_reconcile_duration_seconds" in metrics

        for i in range(5):
            api.call("POST", f"{KV}/{ns}/virtualmachines", vm_manifest(f"a{i}", runStrategy="Always"))
        wait_for(lambda: len(api.launcher_pods(ns)) == 5, message="5 VMIs with Pods")

        leader.kill()
        for i in range(5):
            api.call("POST", f"{KV}/{ns}/virtualmachines", vm_manifest(f"b{i}", runStrategy="Always"))
        wait_for(standby.is_leader, timeout=20, message="the standby to lead")
        wait_for(lambda: len(api.launcher_pods(ns)) >= 10, message="10 launcher Pods")
        vmis = api.vmis(ns)
        assert sorted(v["metadata"]["name"] for v in vmis) == sorted([f"a{i}" for i in range(5)]
                                                                      + [f"b{i}" for i in range(5)])
        per_vmi = Counter(p["metadata"]["labels"]["kubevirt.io/created-by"] for p in api.launcher_pods(ns))
        assert set(per_vmi) == {v["metadata"]["uid"] for v in vmis}
        assert set(per_vmi.values()) == {1}, f"duplicate launcher Pods: {per_vmi}"
    finally:
        first.stop()
        second.stop()
