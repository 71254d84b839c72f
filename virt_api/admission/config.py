"""What the admission functions need to know about the cluster, passed in as one frozen object."""

from __future__ import annotations

from dataclasses import dataclass, field

from virt_client.api.constants import DEFAULT_MACHINE_TYPE


@dataclass(frozen=True)
class AdmissionConfig:
    """Cluster settings and identities the webhooks decide with."""

    kubevirt_users: frozenset[str] = frozenset()
    #: Upstream's default is bridge; this product defaults to masquerade (as HCO configures it)
    #: because bridge on the pod network is not implemented (see `permit_bridge_interface_on_pod_network`).
    default_network_interface: str = "masquerade"
    #: Upstream's `permitBridgeInterfaceOnPodNetwork`; False here: the launcher cannot hand the Pod's
    #: address to the guest.
    permit_bridge_interface_on_pod_network: bool = False
    machine_type: str = DEFAULT_MACHINE_TYPE
    architecture: str = "amd64"
    cpu_model: str = "host-model"
    disk_bus: str = "sata"
    feature_gates: frozenset[str] = field(default_factory=frozenset)

    def is_kubevirt(self, username: str) -> bool:
        """Whether a user is one of KubeVirt's own service accounts."""
        return username in self.kubevirt_users
