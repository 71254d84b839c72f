"""Child processes of `virt-local up`: started, watched, restarted with backoff, stopped in order.

A `Child` runs one command with its output appended to a log file. `supervise()` restarts it when it
dies (1 s, doubling to 30 s; back to 1 s after a minute of uptime), logging every exit and restart.
Children get `PR_SET_PDEATHSIG=SIGTERM`, so even a `kill -9` of virt-local does not leave them behind,
and their own session, so a Ctrl-C in the terminal reaches only virt-local, which stops them in order.
`stop()` sends SIGTERM and SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

log = logging.getLogger("virt_local.up")

PR_SET_PDEATHSIG = 1
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0
STABLE_SECONDS = 60.0


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Child:
    def __init__(self, name: str, argv: Sequence[str], log_file: Path, *, env: dict[str, str] | None = None,
                 ready: Callable[[Child], Awaitable[bool]] | None = None, capture_stdout: bool = False,
                 backoff_max: float = BACKOFF_MAX) -> None:
        self.name = name
        self.backoff_max = backoff_max
        self.argv = list(argv)
        self.log_file = log_file
        self.env = env
        self.ready_check = ready
        self.capture_stdout = capture_stdout
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.stopping = False
        self.started = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.returncode is None else None

    def _log_fd(self) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def start(self) -> asyncio.subprocess.Process:
        out = self._log_fd()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if self.capture_stdout else out, stderr=out,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})},
                start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            os.close(out)
        return self.proc

    async def wait_ready(self, seconds: float) -> bool:
        """True once the readiness check passes (or the process is still alive after 1 s without one)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            if self.proc is None or self.proc.returncode is not None:
                return False
            if self.ready_check is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self.proc.wait()
                return self.proc.returncode is None
            if await self.ready_check(self):
                return True
            await asyncio.sleep(0.2)
        return False

    async def supervise(self) -> None:
        """Keep the child running until `stop()`; the first start has already happened."""
        loop = asyncio.get_running_loop()
        backoff = min(BACKOFF_INITIAL, self.backoff_max)
        while True:
            assert self.proc is not None
            started = loop.time()
            code = await self.proc.wait()
            if self.stopping:
                return
            if loop.time() - started > STABLE_SECONDS:
                backoff = min(BACKOFF_INITIAL, self.backoff_max)
            log.warning("%s exited with code %s; restarting in %.0fs (log: %s)", self.name, code, backoff,
                        self.log_file)
            await asyncio.sleep(backoff)
            if self.stopping:
                return
            backoff = min(backoff * 2, self.backoff_max)
            self.restarts += 1
            await self.start()
            log.info("%s restarted (pid %s, restart #%d)", self.name, self.pid, self.restarts)

    async def stop(self, grace: float = 10.0) -> None:
        self.stopping = True
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await proc.wait()
        except TimeoutError:
            log.warning("%s did not stop in %.0fs: SIGKILL", self.name, grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left in its session
