"""Which Pods of this virt-local hold which PersistentVolumeClaims, so that no Pod's containers start
while another Pod's processes still have the same claim (a replacement launcher's QEMU must not open a
disk the old one still writes to; QEMU's image lock would refuse it at best).

A worker registers its Pod's claims before it starts containers and says when its processes are gone;
a Pod whose claims are held by another Pod that still has processes waits, `ContainerCreating`, with
the holder named in its message. One `VolumeUsers` is shared by every node of the process, since a
local volume's directory is reachable from all of them. `blockers` is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: how often a waiting Pod looks again even without a notification (a holder's processes can also
#: end without its worker noticing at once, e.g. one adopted after a restart)
RECHECK_SECONDS = 1.0


def claims(pod: Mapping[str, Any]) -> frozenset[str]:
    """`namespace/claim` of every persistentVolumeClaim volume of the Pod."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    out = set()
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            out.add(f"{namespace}/{claim}")
    return frozenset(out)


@dataclass(frozen=True)
class Use:
    uid: str
    pod: str  # namespace/name, for messages
    claims: frozenset[str]
    alive: Callable[[], bool]


def blockers(uid: str, wanted: frozenset[str], uses: Iterable[Use]) -> list[Use]:
    """Other Pods that share a claim with `wanted` and still have processes."""
    return [u for u in uses if u.uid != uid and u.claims & wanted and u.alive()]


class VolumeUsers:
    def __init__(self) -> None:
        self._uses: dict[str, Use] = {}
        self._changed = asyncio.Event()

    def register(self, use: Use) -> None:
        self._uses[use.uid] = use

    def release(self, uid: str) -> None:
        self._uses.pop(uid, None)
        self.notify()

    def notify(self) -> None:
        """Some Pod's processes ended: waiting Pods look again."""
        self._changed.set()
        self._changed = asyncio.Event()

    def blockers(self, uid: str, wanted: frozenset[str]) -> list[Use]:
        return blockers(uid, wanted, list(self._uses.values())) if wanted else []

    async def wait_for_change(self, seconds: float = RECHECK_SECONDS) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._changed.wait()
