"""`virt-api`: the composition root. `virt-api [flags]` serves; `virt-api certs ...` manages certificates.

`run(settings)` owns one TaskGroup: the uvicorn server (TLS with the reloading context and the
protocol subclasses that expose the client certificate), the refresher of the requestheader
ConfigMap, and the SIGTERM handler. On SIGTERM, as upstream: report unready, wait
`--shutdown-delay` seconds, then stop accepting and finish in-flight requests (5 s at most).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Generator, Sequence

import uvicorn

from virt_client import tls_alerts
from virt_client.errors import ApiError, TransportError
from virt_client.kube import KubeClient
from virt_client.logs import setup_logging

from .app import create_app
from .handler import HandlerConnector
from .settings import Settings, parse_args
from .state import ApiState
from .tlsserve import ReloadingContext, TLSHttpToolsProtocol, TLSWebSocketsProtocol

log = logging.getLogger("virt_api")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: `run` owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _wait_for_auth(state: ApiState, limit: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        try:
            await state.refresh_auth()
            return
        except (ApiError, TransportError, ValueError) as e:
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit(f"virt-api: cannot read the requestheader configuration: {e}") from None
            log.warning("waiting for kube-system/extension-apiserver-authentication: %s", e)
            await asyncio.sleep(1.0)


async def _refresh_loop(state: ApiState, period: float) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            await state.refresh_auth()
        except (ApiError, TransportError, ValueError) as e:
            log.warning("cannot refresh the requestheader configuration: %s", e)


async def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT."""
    assert settings.tls_cert is not None and settings.tls_key is not None
    kube = await KubeClient.from_environment(settings.kubeconfig, qps=settings.qps, burst=settings.burst,
                                             user_agent="virt-api")
    review_kube = await KubeClient.from_environment(settings.kubeconfig, qps=settings.qps, burst=settings.burst,
                                                    user_agent="virt-api-reviews")
    handlers = HandlerConnector(kube, addresses=settings.handler_addresses, tls=settings.handler_tls,
                                namespace=settings.namespace, timeout=settings.handler_timeout)
    state = ApiState(kube=kube, handlers=handlers, settings=settings, review_kube=review_kube,
                     server_version=lambda: kube.request("GET", "/version"))
    try:
        await _wait_for_auth(state)
        tls = ReloadingContext(settings.tls_cert, settings.tls_key, state.client_ca)
        config = uvicorn.Config(
            create_app(state), host=settings.address, port=settings.port, http=TLSHttpToolsProtocol,
            ws=TLSWebSocketsProtocol, ws_ping_interval=1.0, ws_ping_timeout=60.0, lifespan="off",
            ssl_context_factory=lambda _cfg, _default: tls.server_context(), timeout_graceful_shutdown=5,
            log_config=None, access_log=False,
            # Nothing reads the client address, so X-Forwarded-* need not be parsed on every request.
            proxy_headers=False, server_header=False)
        server = _Server(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        async def shutdown() -> None:
            await stop.wait()
            state.ready = False
            log.info("shutting down in %.1fs", settings.shutdown_delay)
            await asyncio.sleep(settings.shutdown_delay)
            server.should_exit = True

        async with asyncio.TaskGroup() as tg:
            refresher = tg.create_task(_refresh_loop(state, settings.auth_refresh))
            stopper = tg.create_task(shutdown())
            await server.serve()
            refresher.cancel()
            stopper.cancel()
    finally:
        await handlers.close()
        await review_kube.close()
        await kube.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["certs"]:
        from .certs import main as certs_main

        certs_main(args[1:])
        return
    settings = parse_args(args)
    setup_logging("virt-api", settings.log_level)
    tls_alerts.run(run(settings))  # a refused client certificate gets its TLS alert


if __name__ == "__main__":
    main()
