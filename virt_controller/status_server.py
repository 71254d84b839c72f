"""The HTTP endpoint of virt-controller: `/healthz`, `/leader` and Prometheus `/metrics`.

`/leader` answers 200 while this replica holds the lease and 503 otherwise (as upstream, so a
Service or a person can find the active replica). Everything else is virt_client's metrics server.
"""

from __future__ import annotations

from collections.abc import Callable

from virt_client.metrics import MetricsServer


class StatusServer(MetricsServer):
    """`MetricsServer` plus `/leader`."""

    def __init__(self, *, address: str, port: int, is_leader: Callable[[], bool]) -> None:
        super().__init__(address=address, port=port)
        self._is_leader = is_leader

    def _respond(self, path: str) -> tuple[str, str, bytes]:
        if path == "/leader":
            if self._is_leader():
                return "200 OK", "text/plain", b"leader"
            return "503 Service Unavailable", "text/plain", b"standby"
        return super()._respond(path)
