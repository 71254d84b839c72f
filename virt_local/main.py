"""`virt-local`: the embedded single-machine control plane.

Subcommands: `apiserver` runs only the API server. Configuration is parsed here once and passed
down as typed settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="virt-local", description="Run KubeVirt on one machine, without a cluster.")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("apiserver", help="run only the embedded Kubernetes API server")
    a.add_argument("--data-dir", required=True, type=Path, help="where state, certificates and kubeconfig live")
    a.add_argument("--port", type=int, default=6443, help="HTTPS port (0 picks a free one)")
    a.add_argument("--address", default="127.0.0.1", help="listen address")
    a.add_argument("--service", action="append", default=[], metavar="NS/NAME:PORT=HOST:PORT",
                   help="map a Service port to a local address (for APIServices and webhooks)")
    a.add_argument("--watch-history", type=int, default=10000,
                   help="watch events kept for resuming watches; older resourceVersions get 410 Gone")
    a.add_argument("-v", "--verbose", action="store_true")
    return p


def _service_map(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, target = item.partition("=")
        if not sep or "/" not in key or ":" not in key or ":" not in target:
            raise SystemExit(f"virt-local: --service {item!r}: expected NAMESPACE/NAME:PORT=HOST:PORT")
        out[key] = target
    return out


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.command == "apiserver":
        from .apiserver.server import Settings, run

        settings = Settings(data_dir=args.data_dir.resolve(), address=args.address, port=args.port,
                            watch_history=args.watch_history, service_map=_service_map(args.service))

        def ready(url: str) -> None:
            print(f"ready {url}", flush=True)
        try:
            import uvloop
            uvloop.install()
        except ImportError:
            pass
        try:
            asyncio.run(run(settings, ready))
        except KeyboardInterrupt:
            pass
