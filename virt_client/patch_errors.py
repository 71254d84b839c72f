"""Errors raised while applying a patch to a stored object.

Kept apart from the patch algorithms so that `patch` (JSON and merge patches) and
`strategic_merge` can both raise them without importing each other. The `message` of every
error is meant to be shown to the client inside a Kubernetes `Status` (422 Invalid for a
malformed or inapplicable patch, 409/422 for a failed `test` operation, as the caller decides).
"""

from __future__ import annotations


class PatchError(Exception):
    """A patch is malformed or cannot be applied to the document; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PatchConflict(PatchError):
    """A JSON-patch `test` operation found a different value than the patch expected."""
