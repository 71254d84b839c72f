"""Controller expectations: do not act twice on a cache that has not caught up with our writes.

After a controller creates two Pods for a key, its informer may not show them yet; a second
reconcile in that window would create two more. The controller records what it expects
(`expect_creations(key, 2)`), the informer handlers lower it as the objects appear
(`creation_observed(key)`), and reconcile only acts when `satisfied(key)`.

Invariants (as KubeVirt's and Kubernetes' ControllerExpectations):
- A key with no record is satisfied; so is one whose counts are both ≤ 0.
- A record older than `ttl` (5 minutes) is satisfied: a lost watch event must not wedge a key.
- `UIDTrackingExpectations` counts deletions by UID, so observing the same deletion twice (watch
  event, then relist) lowers the count once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from virt_client.clock import Clock, RealClock

DEFAULT_TTL = 300.0


@dataclass
class _Record:
    add: int
    delete: int
    timestamp: float


class Expectations:
    """Pending creations and deletions per controller key."""

    def __init__(self, *, clock: Clock | None = None, ttl: float = DEFAULT_TTL) -> None:
        self._clock = clock or RealClock()
        self._ttl = ttl
        self._records: dict[str, _Record] = {}

    def set_expectations(self, key: str, add: int = 0, delete: int = 0) -> None:
        """Replace the key's record (and restart its expiry)."""
        self._records[key] = _Record(add, delete, self._clock.monotonic())

    def expect_creations(self, key: str, count: int) -> None:
        self.set_expectations(key, add=count)

    def expect_deletions(self, key: str, count: int) -> None:
        self.set_expectations(key, delete=count)

    def raise_expectations(self, key: str, add: int = 0, delete: int = 0) -> None:
        """Add to the key's counts, creating the record if needed."""
        record = self._records.get(key)
        if record is None:
            self.set_expectations(key, add, delete)
        else:
            record.add += add
            record.delete += delete

    def lower_expectations(self, key: str, add: int = 0, delete: int = 0) -> None:
        record = self._records.get(key)
        if record is not None:
            record.add -= add
            record.delete -= delete

    def creation_observed(self, key: str) -> None:
        self.lower_expectations(key, add=1)

    def deletion_observed(self, key: str) -> None:
        self.lower_expectations(key, delete=1)

    def satisfied(self, key: str) -> bool:
        """True when the cache may be trusted for `key`."""
        record = self._records.get(key)
        if record is None:
            return True
        if record.add <= 0 and record.delete <= 0:
            return True
        return self._clock.monotonic() - record.timestamp > self._ttl

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected."""
        record = self._records.get(key)
        return (record.add, record.delete) if record else (0, 0)

    def delete_expectations(self, key: str) -> None:
        """Forget the key (its object is gone)."""
        self._records.pop(key, None)


class UIDTrackingExpectations:
    """Expectations whose deletions are tracked by the UIDs being deleted."""

    def __init__(self, *, clock: Clock | None = None, ttl: float = DEFAULT_TTL) -> None:
        self.counts = Expectations(clock=clock, ttl=ttl)
        self._uids: dict[str, set[str]] = {}

    def expect_deletions(self, key: str, uids: Iterable[str]) -> None:
        pending = set(uids)
        self._uids[key] = pending
        self.counts.expect_deletions(key, len(pending))

    def expect_creations(self, key: str, count: int) -> None:
        self.counts.expect_creations(key, count)

    def creation_observed(self, key: str) -> None:
        self.counts.creation_observed(key)

    def deletion_observed(self, key: str, uid: str) -> None:
        pending = self._uids.get(key)
        if pending is not None and uid in pending:
            pending.discard(uid)
            self.counts.deletion_observed(key)

    def pending_deletions(self, key: str) -> frozenset[str]:
        return frozenset(self._uids.get(key, ()))

    def satisfied(self, key: str) -> bool:
        return self.counts.satisfied(key)

    def delete_expectations(self, key: str) -> None:
        self._uids.pop(key, None)
        self.counts.delete_expectations(key)
