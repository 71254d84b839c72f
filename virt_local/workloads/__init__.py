"""virt-local's workload controllers (the kube-controller-manager part): Deployments, ReplicaSets,
DaemonSets and Endpoints. Each module holds a pure plan over plain objects and a thin controller."""
