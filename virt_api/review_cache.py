"""A short-lived cache of SubjectAccessReview decisions, as kube-apiserver's delegating authorizer keeps.

Upstream aggregated API servers cache each webhook decision (`--authorization-webhook-cache-
authorized-ttl` and `--authorization-webhook-cache-unauthorized-ttl`, 10 s each by default), so a
burst of requests from one user costs one review. The key is everything the review is about: the
user name, UID, groups, extra and the resource attributes; a change to any of them is a new review.
Only answers are cached, never failures to get one. An RBAC change takes effect within the TTL.

Invariants: an entry is served only while `clock.monotonic()` is before its expiry; the cache holds
at most `max_entries` decisions (the oldest are dropped first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from virt_client.clock import Clock

from .authn import UserInfo

ReviewKey = tuple[object, ...]


@dataclass(frozen=True)
class CacheTTL:
    """How long a decision is reused, in seconds; 0 turns caching of that kind off."""

    allowed: float = 10.0
    denied: float = 10.0


def review_key(user: UserInfo, attributes: Mapping[str, str]) -> ReviewKey:
    """Everything a SubjectAccessReview answer depends on, hashable."""
    extra = tuple(sorted((k, tuple(v)) for k, v in user.extra.items()))
    return (user.username, user.uid, tuple(user.groups), extra, tuple(sorted(attributes.items())))


class ReviewCache:
    """Decisions `(allowed, reason)` by review key, each until its TTL runs out."""

    def __init__(self, *, clock: Clock, ttl: CacheTTL, max_entries: int = 4096) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[ReviewKey, tuple[float, bool, str]] = OrderedDict()

    def get(self, key: ReviewKey) -> tuple[bool, str] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, allowed, reason = entry
        if self._clock.monotonic() >= expires:
            del self._entries[key]
            return None
        return allowed, reason

    def put(self, key: ReviewKey, allowed: bool, reason: str) -> None:
        ttl = self._ttl.allowed if allowed else self._ttl.denied
        if ttl <= 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = (self._clock.monotonic() + ttl, allowed, reason)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
