"""The SubjectAccessReview decision cache: reuse within the TTL, per key, bounded."""

from __future__ import annotations

import pytest

from virt_api.authn import UserInfo
from virt_api.review_cache import CacheTTL, ReviewCache, review_key
from virt_client.clock import FakeClock

ATTRS = {"namespace": "demo", "verb": "update", "group": "subresources.kubevirt.io", "version": "v1",
         "resource": "virtualmachines", "name": "vm1", "subresource": "start"}
ALICE = UserInfo("alice", ("system:authenticated",))


@pytest.mark.parametrize(("allowed", "elapsed", "hit"), [
    (True, 9.9, True), (True, 10.0, False), (False, 9.9, True), (False, 10.0, False),
], ids=["allowed-fresh", "allowed-expired", "denied-fresh", "denied-expired"])
def test_decision_is_reused_within_its_ttl(allowed: bool, elapsed: float, hit: bool) -> None:
    clock = FakeClock()
    cache = ReviewCache(clock=clock, ttl=CacheTTL())
    cache.put(review_key(ALICE, ATTRS), allowed, "why")
    clock.advance(elapsed)
    assert cache.get(review_key(ALICE, ATTRS)) == ((allowed, "why") if hit else None)


@pytest.mark.parametrize(("user", "attrs"), [
    (UserInfo("bob", ("system:authenticated",)), ATTRS),
    (UserInfo("alice", ("system:authenticated", "admins")), ATTRS),
    (UserInfo("alice", ("system:authenticated",), uid="u1"), ATTRS),
    (UserInfo("alice", ("system:authenticated",), extra={"scopes": ("x",)}), ATTRS),
    (ALICE, {**ATTRS, "name": "vm2"}),
    (ALICE, {**ATTRS, "subresource": "stop"}),
    (ALICE, {**ATTRS, "namespace": "other"}),
], ids=["user", "groups", "uid", "extra", "name", "subresource", "namespace"])
def test_a_different_review_is_not_served_from_the_cache(user: UserInfo, attrs: dict[str, str]) -> None:
    cache = ReviewCache(clock=FakeClock(), ttl=CacheTTL())
    cache.put(review_key(ALICE, ATTRS), True, "")
    assert cache.get(review_key(user, attrs)) is None


def test_zero_ttl_turns_caching_off() -> None:
    cache = ReviewCache(clock=FakeClock(), ttl=CacheTTL(allowed=10, denied=0))
    cache.put(review_key(ALICE, ATTRS), False, "no")
    assert cache.get(review_key(ALICE, ATTRS)) is None


def test_oldest_entries_are_dropped_beyond_the_bound() -> None:
    cache = ReviewCache(clock=FakeClock(), ttl=CacheTTL(), max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(review_key(ALICE, {**ATTRS, "name": name}), True, "")
    assert cache.get(review_key(ALICE, {**ATTRS, "name": "a"})) is None
    assert cache.get(review_key(ALICE, {**ATTRS, "name": "c"})) == (True, "")
