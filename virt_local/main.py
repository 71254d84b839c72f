"""`virt-local`: the embedded single-machine control plane.

Subcommands: `apiserver` runs only the API server; `up` runs the whole stack (API server, nodes,
scheduler, pod runners, volumes, KubeVirt components); `images import|list` manage the local image
store. Configuration is parsed here once and passed down as typed settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .nodes import NodeCapacity


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
    u = sub.add_parser("up", help="run the whole stack: API server, nodes, scheduler, pod runners, KubeVirt")
    u.add_argument("--data-dir", type=Path, default=Path(".virt-local"), help="state directory (default .virt-local)")
    u.add_argument("--nodes", type=int, default=1, help="number of simulated nodes (node-1, node-2, ...)")
    u.add_argument("--hypervisor", choices=("auto", "kvm", "emulation", "test"), default="auto",
                   help="auto picks kvm only when a test guest really boots with it")
    u.add_argument("--port", type=int, default=0, help="API server port (default: the one used before, else free)")
    u.add_argument("--image-map", action="append", default=[], metavar="NAME=COMMAND",
                   help="run containers of image NAME as COMMAND (NAME may end in *; repeatable)")
    u.add_argument("--no-kubevirt", action="store_true",
                   help="run only the Kubernetes side: no CRDs, no KubeVirt components (install them as on a "
                        "cluster: kubectl apply -k manifests/, see docs/operations.md)")
    u.add_argument("--manifests", type=Path, default=None, help="manifests directory (default: the project's)")
    u.add_argument("--launcher-image", default=None, help="virt-launcher image rendered into launcher Pods")
    u.add_argument("--node-cpu", type=int, default=None, metavar="N",
                   help="CPUs each node advertises (default: this machine's); more than the machine has simulates "
                        "bigger nodes, e.g. for density tests with the test hypervisor")
    u.add_argument("--node-memory", default=None, metavar="QUANTITY",
                   help="memory each node advertises, e.g. 64Gi (default: this machine's)")
    u.add_argument("--max-pods", type=int, default=110, metavar="N", help="Pods each node takes (default 110)")
    u.add_argument("--restart-backoff-max", type=float, default=30.0, metavar="SECONDS",
                   help="longest wait before a component that exited is started again (default 30; the wait "
                        "doubles from 1 s with each exit within a minute of its start)")
    u.add_argument("--shutdown-grace-period", type=float, default=None, metavar="SECONDS",
                   help="on Ctrl-C, the longest any Pod's containers get to stop (default 300); "
                        "a second Ctrl-C kills them at once")
    u.add_argument("-v", "--verbose", action="store_true")
    i = sub.add_parser("images", help="the local image store (containerDisks, kernelBoot images)")
    isub = i.add_subparsers(dest="images_command", required=True)
    imp = isub.add_parser("import", help="import a disk image (or --dir a directory) as NAME[:TAG]")
    imp.add_argument("name", metavar="NAME[:TAG]")
    imp.add_argument("path", type=Path, metavar="FILE")
    imp.add_argument("--dir", action="store_true", help="FILE is a directory to pack as the image root")
    imp.add_argument("--data-dir", type=Path, default=Path(".virt-local"))
    ls = isub.add_parser("list", help="list the imported images")
    ls.add_argument("--data-dir", type=Path, default=Path(".virt-local"))
    return p


def _images(args: argparse.Namespace) -> int:
    from .errors import ImageError
    from .images import ImageStore

    store = ImageStore(args.data_dir.resolve() / "images")
    if args.images_command == "import":
        try:
            image = store.import_dir(args.name, args.path) if args.dir else store.import_file(args.name, args.path)
        except (ImageError, OSError) as e:
            print(f"virt-local images import: {e}", file=sys.stderr)
            return 1
        print(f"imported {image.name} {image.digest} ({image.size} bytes)")
        return 0
    rows = [("NAME", "DIGEST", "SIZE", "CREATED")]
    rows += [(im.name, im.digest[:19], str(im.size), im.created) for im in store.list()]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        print("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _up(args: argparse.Namespace) -> None:
    from virt_client.api.constants import DEFAULT_LAUNCHER_IMAGE

    from .podrunner.imagemap import parse_entry
    from .up import DEFAULT_MANIFESTS, UpSettings, run

    try:
        extra = tuple(parse_entry(item) for item in args.image_map)
    except ValueError as e:
        raise SystemExit(f"virt-local: {e}") from None
    if args.nodes < 1:
        raise SystemExit("virt-local: --nodes must be at least 1")
    capacity = _capacity(args)
    settings = UpSettings(data_dir=args.data_dir.resolve(), nodes=args.nodes, hypervisor=args.hypervisor,
                          port=args.port, image_map=extra, kubevirt=not args.no_kubevirt,
                          manifests=(args.manifests or DEFAULT_MANIFESTS).resolve(),
                          launcher_image=args.launcher_image or DEFAULT_LAUNCHER_IMAGE,
                          log_level="debug" if args.verbose else "info", capacity=capacity,
                          restart_backoff_max=args.restart_backoff_max,
                          **({} if args.shutdown_grace_period is None
                             else {"shutdown_grace": max(0.0, args.shutdown_grace_period)}))

    def ready(message: str) -> None:
        print(message, flush=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(run(settings, ready))


def _capacity(args: argparse.Namespace) -> NodeCapacity:
    from virt_client.api.quantity import Quantity, QuantityError

    from .nodes import NodeCapacity

    machine = NodeCapacity.of_machine()
    if args.node_cpu is not None and args.node_cpu < 1:
        raise SystemExit("virt-local: --node-cpu must be at least 1")
    if args.max_pods < 1:
        raise SystemExit("virt-local: --max-pods must be at least 1")
    memory = machine.memory_bytes
    if args.node_memory is not None:
        try:
            memory = Quantity.parse(args.node_memory).to_bytes()
        except QuantityError as e:
            raise SystemExit(f"virt-local: --node-memory {args.node_memory!r}: {e}") from None
        if memory < 1 << 20:
            raise SystemExit("virt-local: --node-memory must be at least 1Mi")
    return NodeCapacity(cpu=args.node_cpu or machine.cpu, memory_bytes=memory, pods=args.max_pods)


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
    if args.command == "images":
        sys.exit(_images(args))
    if args.command == "up":
        _up(args)
        return
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
