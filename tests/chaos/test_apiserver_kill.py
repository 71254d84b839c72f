"""`kill -9` of the API server in the middle of a write burst, five times over.

Writers create ConfigMaps as fast as they are answered while a reader keeps listing; the server is
killed with writes in flight and restarted on the same data. Every acknowledged write must be
there afterwards, and no revision the server told a client (a list's, a written object's) may be
one it lost: a client resuming a watch from such a revision would silently miss the writes made
after the restart until their revisions passed it (a node would not see the Pods bound to it).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.chaos.conftest import ChaosLedger
from tests.support.apiserver import RunningApiServer, start_apiserver
from tests.support.wait import wait_for

CMS = "/api/v1/namespaces/default/configmaps"
WRITERS = 4
KILLS = 5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningApiServer]:
    srv = start_apiserver(tmp_path / "apiserver")
    try:
        yield srv
    finally:
        srv.stop()


def client(srv: RunningApiServer) -> httpx.Client:
    return httpx.Client(base_url=srv.url, verify=ssl.create_default_context(cafile=str(srv.ca_file)), timeout=30,
                        headers={"Authorization": f"Bearer {srv.token}"})


class Burst:
    """Writers and a lister against the server until it goes away; what it acknowledged and told."""

    def __init__(self, srv: RunningApiServer, round_: int) -> None:
        self.srv = srv
        self.round = round_
        self.acknowledged: set[str] = set()
        self.told = 0  # the highest revision the server told a client
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._write, args=(w,)) for w in range(WRITERS)]
        self.threads += [threading.Thread(target=self._list) for _ in range(2)]

    def __enter__(self) -> Burst:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self.threads:
            t.join(60)

    def _tell(self, rv: str) -> None:
        with self.lock:
            self.told = max(self.told, int(rv))

    def _write(self, w: int) -> None:
        with client(self.srv) as c:
            for i in range(100000):
                name = f"r{self.round}-w{w}-{i}"
                try:
                    resp = c.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
                except httpx.HTTPError:
                    return
                if resp.status_code == 201:
                    with self.lock:
                        self.acknowledged.add(name)
                    self._tell(resp.json()["metadata"]["resourceVersion"])

    def _list(self) -> None:
        with client(self.srv) as c:
            while True:
                try:
                    resp = c.get(CMS, params={"limit": "1"})
                except httpx.HTTPError:
                    return
                if resp.status_code == 200:
                    self._tell(resp.json()["metadata"]["resourceVersion"])


def stored_names(c: httpx.Client) -> set[str]:
    return {i["metadata"]["name"] for i in c.get(CMS).json()["items"]}


def events_since(c: httpx.Client, rv: int) -> tuple[int, list[str]]:
    """(HTTP status, names of the events) of a watch from `rv` that ends after a second."""
    with c.stream("GET", CMS, params={"watch": "1", "resourceVersion": str(rv), "timeoutSeconds": "1"}) as resp:
        if resp.status_code != 200:
            return resp.status_code, []
        events = [orjson.loads(line) for line in resp.iter_lines() if line.strip()]
    if any(e["type"] == "ERROR" for e in events):
        return 410, []
    return 200, [e["object"]["metadata"]["name"] for e in events]


def test_acknowledged_writes_and_told_revisions_survive_kill_9(server: RunningApiServer, chaos: ChaosLedger) -> None:
    acknowledged: set[str] = set()
    for round_ in range(KILLS):
        with Burst(server, round_) as burst:
            wait_for(lambda: len(burst.acknowledged) >= 200, timeout=60, message="a burst of acknowledged writes")
            server.kill()
            chaos.fault("apiserver kill -9 during writes")
        acknowledged |= burst.acknowledged
        server.start()
        with client(server) as c:
            revision = int(c.get(CMS, params={"limit": "1"}).json()["metadata"]["resourceVersion"])
            found = stored_names(c)
            missing = acknowledged - found
            chaos.lost(missing)
            assert not missing, f"round {round_}: {len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
            assert burst.told <= revision, (
                f"round {round_}: the server told a client revision {burst.told}, then restarted at {revision}: "
                f"it advertised a revision it had not committed")
            # the consequence: a watch resumed from the last revision told must see the next write
            name = f"after-{round_}"
            assert c.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
                          ).status_code == 201
            acknowledged.add(name)
            code, seen = events_since(c, burst.told)
            assert code in (200, 410, 504), code
            assert code != 200 or name in seen, (
                f"round {round_}: a watch resumed from revision {burst.told} (told before the kill) "
                f"missed {name}, written after the restart")
