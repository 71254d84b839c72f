"""`KubeApi`: the typed verbs the components call on the Kubernetes API, as a protocol.

Two implementations satisfy it: `virt_client.kube.KubeClient` (HTTP to a real API server) and
`virt_client.kube_fake.FakeKube` (in memory, for unit tests of the I/O shells). Components type
their dependency as `KubeApi`, so a reconcile shell or a request handler runs unchanged on either.

Invariants (kept by both implementations):
- Objects are plain JSON dicts; returned dicts are fresh and owned by the caller.
- A refused request raises exactly one `virt_client.errors.ApiError` subclass, chosen as for the
  real server's answer (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...).
- `dry_run=True` is server-side dry run (`?dryRun=All`): the request is validated and admitted and
  the would-be result returned, but nothing is stored and no watch event is sent.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, Protocol

from virt_client.kube import PatchType, WatchEvent
from virt_client.resources import ResourceRef

__all__ = ["KubeApi", "PatchType", "WatchEvent"]


class KubeApi(Protocol):
    """Typed access to REST collections named by a `ResourceRef`."""

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any]: ...

    async def list(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """A list object: `items`, `metadata.resourceVersion` (and `metadata.continue`)."""
        ...

    async def list_bytes(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
        request_timeout: float | None = None,
    ) -> bytes:
        """The same list, JSON-encoded (informers decode it themselves)."""
        ...

    def watch(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> AsyncGenerator[WatchEvent, None]:
        """ADDED/MODIFIED/DELETED events after `resource_version` (all objects as ADDED first when none)."""
        ...

    async def create(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]: ...

    async def update(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """PUT the whole object; its `metadata.resourceVersion`, when set, makes the write conditional."""
        ...

    async def update_status(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """PUT to the `status` subresource: only `status` changes."""
        ...

    async def patch(
        self,
        ref: ResourceRef,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Merge, JSON (a list of operations, `test` included) or strategic-merge patch."""
        ...

    async def delete(
        self,
        ref: ResourceRef,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Delete (or mark for deletion while finalizers remain); `uid`/`resource_version` are preconditions."""
        ...

    async def create_subresource(
        self,
        ref: ResourceRef,
        name: str,
        subresource: str,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """POST to a subresource, e.g. `pods/binding` or `pods/eviction`."""
        ...
