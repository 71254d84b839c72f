"""The VirtualMachine controller: run strategies, state-change requests and the VM status."""
