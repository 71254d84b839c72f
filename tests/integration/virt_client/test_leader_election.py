"""Leader election between two real candidate processes against virt-local's API server."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import RunningApiServer
from tests.support.wait import wait_for

CANDIDATE = Path(__file__).with_name("lease_candidate.py")
REPO = Path(__file__).resolve().parents[3]
LEASE, RENEW, RETRY = 4.0, 3.0, 0.5


class Candidate:
    def __init__(self, srv: RunningApiServer, identity: str) -> None:
        self.identity = identity
        self.proc = subprocess.Popen(
            [sys.executable, str(CANDIDATE), str(srv.kubeconfig), identity, str(LEASE), str(RENEW), str(RETRY)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []

    def wait_for_line(self, line: str, timeout: float) -> None:
        """Wait until the candidate prints `line`."""
        try:
            wait_for(lambda: self.has_printed(line), timeout=timeout, interval=0.05,
                     message=f"{self.identity} to print {line!r}")
        except AssertionError as e:
            raise AssertionError(f"{e}; it printed {self.lines}") from None

    def has_printed(self, line: str) -> bool:
        assert self.proc.stdout is not None
        while select.select([self.proc.stdout], [], [], 0)[0]:
            raw = self.proc.stdout.readline()
            if not raw:
                break
            self.lines.append(raw.decode().strip())
        return line in self.lines

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture
def candidates(apiserver: RunningApiServer) -> Iterator[tuple[Candidate, Candidate]]:
    a = Candidate(apiserver, "a")
    try:
        a.wait_for_line("leading a", 30)
        b = Candidate(apiserver, "b")
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


def test_leadership_moves_when_the_leader_is_killed(candidates: tuple[Candidate, Candidate]) -> None:
    a, b = candidates
    # Let b watch a renew for longer than the lease: it must not take over a live leader.
    deadline = time.monotonic() + LEASE + 2 * RETRY
    while time.monotonic() < deadline:
        assert not b.has_printed("leading b"), "b took the lease from a live leader"
        time.sleep(RETRY / 5)
    a.proc.send_signal(signal.SIGKILL)
    # How soon b takes over (one lease duration plus at most one retry period) is checked with a fake
    # clock in the unit tests; here it only has to happen.
    b.wait_for_line("leading b", LEASE + 2 * RETRY + 60)


def test_graceful_stop_releases_the_lease_at_once(candidates: tuple[Candidate, Candidate]) -> None:
    a, b = candidates
    assert not b.has_printed("leading b")
    a.proc.send_signal(signal.SIGTERM)
    a.wait_for_line("released a", 30)
    # b did not lead before (checked above) and takes over from a released lease without waiting for
    # expiry; with a fake clock the unit tests check it is at once.
    b.wait_for_line("leading b", 60)
