"""Errors of virtctl. A `CommandError` ends the command: its text goes to stderr and the exit code is 1.

Invariant: the text is what upstream virtctl prints for the same failure, typically a prefix naming
the action followed by the server's `Status.message` (e.g. `Error starting VirtualMachine ...`).
"""

from __future__ import annotations


class CommandError(Exception):
    """A failure to report to the user; `str(error)` is the whole message."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
