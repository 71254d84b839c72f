"""The VirtualMachineInstanceReplicaSet controller: N VMIs from one template."""
