"""The VirtualMachineInstance controller: launcher Pods and the phases up to Scheduled."""
