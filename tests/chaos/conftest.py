"""The chaos suite: faults injected into real processes, and the damage they must not do.

Every test under `tests/chaos/` is marked `chaos` (run with `-m chaos`, or as part of the whole suite).
Tests share one ledger (the `chaos` fixture): each fault injected is recorded as it is injected
(`chaos.fault("apiserver kill -9")`), and each check records what it found: processes leaked (left
after their Pod, VMI or `up` ended), acknowledged writes lost, guests rebooted when they should not
have been. A test asserts its own findings are zero; the ledger makes the totals visible. At the
end of the session the totals are printed, and written as JSON to the file `CHAOS_REPORT` names (what
`bench/chaos.py` reads).
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@dataclass
class ChaosLedger:
    faults: Counter[str] = field(default_factory=Counter)
    processes_leaked: int = 0
    writes_lost: int = 0
    guests_rebooted: int = 0
    tests: int = 0

    def fault(self, kind: str, count: int = 1) -> None:
        """Record `count` faults of `kind` injected."""
        self.faults[kind] += count

    def leaked(self, processes: Mapping[int, str]) -> None:
        """Record processes found running that should have ended; they are killed so nothing outlives
        the test. The caller asserts `processes` is empty."""
        self.processes_leaked += len(processes)
        for pid in processes:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def lost(self, names: Collection[str]) -> None:
        """Record acknowledged writes that were not found afterwards."""
        self.writes_lost += len(names)

    def rebooted(self, count: int) -> None:
        """Record guests that rebooted although nothing asked them to."""
        self.guests_rebooted += count

    def summary(self) -> dict[str, Any]:
        return {"tests": self.tests, "faults_injected": sum(self.faults.values()), "faults": dict(self.faults),
                "processes_leaked": self.processes_leaked, "writes_lost": self.writes_lost,
                "guests_rebooted": self.guests_rebooted}

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.faults.items()))
        return [f"faults injected {sum(self.faults.values())}" + (f" ({kinds})" if kinds else ""),
                f"processes leaked {self.processes_leaked}",
                f"writes lost {self.writes_lost}",
                f"guests rebooted when they should not have been {self.guests_rebooted}"]


LEDGER = ChaosLedger()


@pytest.fixture(scope="session")
def chaos_ledger() -> ChaosLedger:
    """The ledger itself, for fixtures wider than one test (a stack shared by a module)."""
    return LEDGER


@pytest.fixture
def chaos(chaos_ledger: ChaosLedger) -> ChaosLedger:
    """The ledger, counting the test that uses it."""
    chaos_ledger.tests += 1
    return chaos_ledger


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.chaos)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not LEDGER.tests:
        return
    terminalreporter.section("chaos")
    for line in LEDGER.lines():
        terminalreporter.write_line(line)
    report = os.environ.get("CHAOS_REPORT")
    if report:
        Path(report).write_text(json.dumps(LEDGER.summary(), indent=1) + "\n")
