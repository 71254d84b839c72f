"""A program for the warm-start tests: reports what it was started with, then exits as told.

It prints one JSON line (argv, environment, working directory, process name, session leader or not,
mount namespace, and whether `PROBE_CHECK_PATH` exists) and exits with `PROBE_EXIT` (default 0); with
`PROBE_SLEEP` it first sleeps that many seconds; with `PROBE_RAISE` it raises instead of exiting.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path


def main() -> None:
    check = os.environ.get("PROBE_CHECK_PATH")
    print(json.dumps({
        "argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd(),
        "comm": Path("/proc/self/comm").read_text().strip(), "sid_is_pid": os.getsid(0) == os.getpid(),
        "mntns": os.readlink("/proc/self/ns/mnt"), "check": bool(check) and Path(check or "/").exists(),
        "stdin": os.read(0, 10).decode(),
        "signals": {name: str(signal.getsignal(getattr(signal, name))) for name in ("SIGINT", "SIGPIPE", "SIGTERM")},
    }), flush=True)
    if os.environ.get("PROBE_SLEEP"):
        time.sleep(float(os.environ["PROBE_SLEEP"]))
    if os.environ.get("PROBE_RAISE"):
        raise RuntimeError(os.environ["PROBE_RAISE"])
    sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
