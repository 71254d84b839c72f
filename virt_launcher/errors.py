"""Errors raised by virt-launcher; each says what was wrong and, where it helps, what to do."""

from __future__ import annotations


class LauncherError(Exception):
    """Base of all launcher errors. `reason` is a short CamelCase word for events and responses."""

    reason = "LauncherError"


class InvalidVMI(LauncherError):
    """The VMI cannot be turned into a domain: a field has a value we cannot use."""

    reason = "InvalidVMI"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnsupportedField(InvalidVMI):
    """The VMI sets a field this launcher does not implement; it is refused rather than dropped."""

    reason = "UnsupportedField"

    def __init__(self, field: str, detail: str = "") -> None:
        message = "is not supported by this virt-launcher" + (f" ({detail})" if detail else "")
        message += "; remove the field or set it to its default"
        super().__init__(field, message)


class DiskPreparationFailed(LauncherError):
    """A disk image (overlay, empty disk, cloud-init ISO) could not be created."""

    reason = "DiskPreparationFailed"


class DaemonFailed(LauncherError):
    """The private libvirt daemon could not be started or died and could not be restarted."""

    reason = "DaemonFailed"


class DomainError(LauncherError):
    """libvirt refused an operation on the domain."""

    reason = "LibvirtError"


class NoDomain(LauncherError):
    """An operation needs a domain and there is none."""

    reason = "NoDomain"
