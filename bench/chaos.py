"""The chaos suite's counts: runs `tests/chaos` and prints what its ledger recorded.

    faults injected N (by kind)
    processes leaked 0
    writes lost 0
    guests rebooted when they should not have been 0

Usage: .venv/bin/python bench/chaos.py [-k EXPR] [PYTEST ARGS...]
Exits with pytest's status; the counts are printed even when a test failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "chaos.json"
        res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "chaos",
                              str(ROOT / "tests" / "chaos"), *sys.argv[1:]],
                             cwd=ROOT, env={**os.environ, "CHAOS_REPORT": str(report)})
        if not report.exists():
            print("no chaos test ran", file=sys.stderr)
            return res.returncode or 1
        counts = json.loads(report.read_text())
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(counts["faults"].items()))
    print()
    print(f"chaos: {counts['tests']} tests")
    print(f"faults injected {counts['faults_injected']}" + (f" ({kinds})" if kinds else ""))
    print(f"processes leaked {counts['processes_leaked']}")
    print(f"writes lost {counts['writes_lost']}")
    print(f"guests rebooted when they should not have been {counts['guests_rebooted']}")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
