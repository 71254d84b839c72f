"""Errors of virt-local's node side; each says what was wrong and what to do about it."""

from __future__ import annotations


class VirtLocalError(Exception):
    """Base class: a problem a user can act on; the message says how."""


class ImageError(VirtLocalError):
    """An image could not be imported, found or unpacked."""


class VolumeError(VirtLocalError):
    """A Pod volume could not be prepared (missing ConfigMap/Secret/PVC, bad hostPath type...)."""

    def __init__(self, message: str, *, reason: str = "FailedMount") -> None:
        super().__init__(message)
        self.reason = reason


class ImagePullError(VirtLocalError):
    """A container image is not one of ours and not in the local store."""
