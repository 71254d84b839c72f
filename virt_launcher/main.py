"""`virt-launcher` console script: parse the command line, then run the launcher.

The launcher's memory is the product's per-VM overhead. It never speaks TLS, so before anything imports
asyncio the `ssl` module is marked unavailable (asyncio then skips it): that keeps OpenSSL out of the
process, about 5 MiB of RSS. `_hashlib` likewise (hashlib falls back to its built-in hashes; 0.5 MiB of
libcrypto initialisation). This happens only here, in the process entry point, never on import of the
package, so tests and other processes importing `virt_launcher` modules are unaffected.
"""

from __future__ import annotations

import signal
import sys


def _without_tls() -> None:
    for name in ("ssl", "_hashlib"):
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]


def preload() -> None:
    """Import everything `main` runs, and run nothing: for a process that forks launchers ready-made
    (virt-local's pod runner does, see `virt_local/podrunner/warmstart.py`). No thread, no file, no
    connection is left behind, so a fork of this process is a clean launcher."""
    _without_tls()
    import asyncio  # noqa: F401

    import virt_launcher.launcher
    import virt_launcher.settings  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    _without_tls()
    import asyncio

    from virt_launcher import pod_log
    from virt_launcher.launcher import run
    from virt_launcher.settings import parse_args

    settings = parse_args(argv)
    pod_log.setup()
    code = asyncio.run(run(settings))
    # The domain is gone and the events are delivered; a SIGTERM now (the Pod of a final VMI being
    # deleted) must not turn a clean exit into "killed by signal" (143) during interpreter teardown.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    main()
