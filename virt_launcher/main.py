"""`virt-launcher` console script: parse the command line, then run the launcher.

The launcher's memory is the product's per-VM overhead. It never speaks TLS, so before anything imports
asyncio the `ssl` module is marked unavailable (asyncio then skips it): that keeps OpenSSL out of the
process, about 5 MiB of RSS. This happens only here, in the process entry point, never on import of the
package, so tests and other processes importing `virt_launcher` modules are unaffected.
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str] | None = None) -> None:
    for name in ("ssl", "_hashlib"):
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]
    import asyncio

    from virt_launcher.launcher import run
    from virt_launcher.settings import parse_args

    settings = parse_args(argv)
    code = asyncio.run(run(settings))
    # The domain is gone and the events are delivered; a SIGTERM now (the Pod of a final VMI being
    # deleted) must not turn a clean exit into "killed by signal" (143) during interpreter teardown.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    main()
