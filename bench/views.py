"""Figures for reading cached objects through the typed views against `(x.get(...) or {})` chains
(prints them; never pass/fail).

Each read runs over a cached VMI (a `FrozenDict` decoded from its JSON, as the informer hands it
out) and reports nanoseconds per read for the chain and for the view, and their ratio.

Usage: .venv/bin/python bench/views.py [--reads 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from virt_client.api.views import VirtualMachineInstanceView  # noqa: E402
from virt_client.indexer import freeze  # noqa: E402

VMI: dict[str, Any] = {
    "metadata": {"name": "vmi-1", "namespace": "ns", "uid": "u-1", "labels": {"kubevirt.io/nodeName": "node-a"}},
    "spec": {"domain": {"resources": {"requests": {"memory": "128Mi"}}, "devices": {"disks": [{"name": "root"}]}},
             "volumes": [{"name": "root", "containerDisk": {"image": "quay.io/x"}},
                         {"name": "data", "persistentVolumeClaim": {"claimName": "pvc-1"}}]},
    "status": {"phase": "Running", "nodeName": "node-a",
               "migrationState": {"migrationUid": "m-1", "targetNode": "node-b"}},
}


def cases(vmi: Any) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    def chain_node() -> object:
        return str((vmi.get("status") or {}).get("nodeName") or "")

    def view_node() -> object:
        return VirtualMachineInstanceView(vmi).status.node_name

    def chain_target() -> object:
        return str(((vmi.get("status") or {}).get("migrationState") or {}).get("targetNode") or "")

    def view_target() -> object:
        state = VirtualMachineInstanceView(vmi).status.migration_state
        return state.target_node if state is not None else ""

    def chain_claims() -> object:
        return [(v.get("persistentVolumeClaim") or {}).get("claimName") for v in (vmi.get("spec") or {}).get("volumes") or ()]

    def view_claims() -> object:
        return [v.claim_name for v in VirtualMachineInstanceView(vmi).spec.volumes]

    def chain_requests() -> object:
        return ((((vmi.get("spec") or {}).get("domain") or {}).get("resources") or {}).get("requests") or {}).get("memory")

    def view_requests() -> object:
        return VirtualMachineInstanceView(vmi).spec.domain.resources.requests.get("memory")

    return [("status.nodeName", chain_node, view_node),
            ("status.migrationState.targetNode", chain_target, view_target),
            ("spec.domain.resources.requests.memory", chain_requests, view_requests),
            ("spec.volumes[*] claim", chain_claims, view_claims)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    vmi = freeze(VMI)
    for name, chain, view in cases(vmi):
        assert chain() == view(), name
        t_chain = min(timeit.repeat(chain, number=args.reads, repeat=args.repeat)) / args.reads * 1e9
        t_view = min(timeit.repeat(view, number=args.reads, repeat=args.repeat)) / args.reads * 1e9
        print(f"{name:40s} chain {t_chain:7.0f} ns   view {t_view:7.0f} ns   view/chain {t_view / t_chain:4.2f}")


if __name__ == "__main__":
    main()
