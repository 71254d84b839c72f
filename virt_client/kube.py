"""`KubeClient`: async access to built-in and custom resources, as plain JSON dicts.

kubernetes_asyncio is the base: it loads kubeconfig or in-cluster configuration, resolves
credentials (tokens, exec plugins, client certificates) and owns the TLS-configured aiohttp
session. Requests bypass its generated model classes: bodies are encoded and decoded with orjson,
which is what makes listing thousands of objects cheap.

Invariants:
- Every request takes a token from the client's QPS/burst bucket first (watches included).
- A non-2xx answer raises exactly one `virt_client.errors.ApiError` subclass; a failure to reach
  the server raises `TransportError`. Nothing else escapes from a request.
- Returned dicts are fresh and owned by the caller; bodies may be dicts or read-only cached objects.
- Every write verb takes `dry_run` (server-side `?dryRun=All`). The verbs are the `KubeApi`
  protocol (`kube_api.py`), which the in-memory fake (`kube_fake.py`) implements too.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
import orjson
import yarl
from kubernetes_asyncio.client.api_client import ApiClient
from kubernetes_asyncio.client.configuration import Configuration
from kubernetes_asyncio.config import incluster_config, kube_config

from virt_client.clock import Clock
from virt_client.errors import ClientError, TransportError, error_from_response, error_from_status
from virt_client.indexer import json_default
from virt_client.metrics import CLIENT_LATENCY, CLIENT_REQUESTS
from virt_client.rate_limiter import TokenBucket
from virt_client.resources import ResourceRef

JSON = "application/json"
PatchType = Literal["merge", "json", "strategic"]
PATCH_CONTENT_TYPES: Mapping[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
Query = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch stream: ADDED, MODIFIED, DELETED or BOOKMARK, and its object."""

    type: str
    object: dict[str, Any]


def encode(body: Any) -> bytes:
    """JSON-encode a request body (bytes pass through; cached read-only objects are unwrapped)."""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return orjson.dumps(body, default=json_default)


def escape_pointer(segment: str) -> str:
    """Escape one JSON-pointer segment (RFC 6901), e.g. a label key containing '/'."""
    return segment.replace("~", "~0").replace("/", "~1")


def patch_test(path: str, value: Any) -> dict[str, Any]:
    """A JSON-patch `test` operation, the optimistic-concurrency guard of a patch."""
    return {"op": "test", "path": path, "value": value}


def patch_replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def patch_add(path: str, value: Any) -> dict[str, Any]:
    return {"op": "add", "path": path, "value": value}


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy")


def _skip_empty_environment_lookups(session: aiohttp.ClientSession) -> None:
    """Stop aiohttp from looking up proxy variables and ~/.netrc on every request when neither exists.

    With `trust_env` aiohttp resolves both per request in the default thread pool, two executor round
    trips that more than halve a component's request rate; when there is nothing to find, skip them.
    """
    names = {k.lower() for k in os.environ}
    netrc = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    if names.isdisjoint(PROXY_VARIABLES) and not os.path.exists(netrc):
        session._trust_env = False  # noqa: SLF001 - aiohttp has no public setter


class KubeClient:
    """An API client with a client-side rate limit. Use `from_kubeconfig` or `in_cluster`."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        qps: float = 50.0,
        burst: int = 100,
        clock: Clock | None = None,
        user_agent: str = "virt-client",
    ) -> None:
        self.api_client = api_client
        self.configuration: Configuration = api_client.configuration
        self.host = str(self.configuration.host).rstrip("/")
        self.limiter = TokenBucket(qps=qps, burst=burst, clock=clock)
        self._rest = api_client.rest_client
        self._session: aiohttp.ClientSession = self._rest.pool_manager
        self._user_agent = user_agent
        _skip_empty_environment_lookups(self._session)

    @classmethod
    async def from_kubeconfig(
        cls, path: str | None = None, context: str | None = None, **kwargs: Any
    ) -> KubeClient:
        """A client for a kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."""
        configuration = Configuration()
        await kube_config.load_kube_config(
            config_file=path, context=context, client_configuration=configuration, persist_config=False
        )
        return cls(ApiClient(configuration), **kwargs)

    @classmethod
    async def in_cluster(cls, **kwargs: Any) -> KubeClient:
        """A client for the service account of the Pod this process runs in."""
        configuration = Configuration()
        incluster_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return cls(ApiClient(configuration), **kwargs)

    @classmethod
    async def from_environment(cls, kubeconfig: str | None = None, **kwargs: Any) -> KubeClient:
        """Kubeconfig if one is named, in-cluster inside a Pod, else the default kubeconfig."""
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            return await cls.in_cluster(**kwargs)
        return await cls.from_kubeconfig(kubeconfig, **kwargs)

    async def close(self) -> None:
        await self.api_client.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- raw requests -------------------------------------------------------------------------

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": JSON, "User-Agent": self._user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        for setting in (await self.configuration.auth_settings()).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        return headers

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: bytes | None = None,
        content_type: str | None = None,
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        await self.limiter.wait()
        url = self.host + path + ("?" + urlencode(list(query)) if query else "")
        extra: dict[str, Any] = {}
        if self._rest.proxy:
            extra["proxy"] = self._rest.proxy
        if self._rest.server_hostname:
            extra["server_hostname"] = self._rest.server_hostname
        started = time.monotonic()
        try:
            resp = await self._session.request(
                method,
                yarl.URL(url, encoded=True),
                data=body,
                headers=await self._headers(content_type if body is not None else None),
                timeout=client_timeout or aiohttp.ClientTimeout(total=60),
                **extra,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            CLIENT_REQUESTS.labels(method, "<error>").inc()
            raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from e
        CLIENT_LATENCY.labels(method).observe(time.monotonic() - started)
        CLIENT_REQUESTS.labels(method, str(resp.status)).inc()
        if resp.status >= 400:
            try:
                data = await resp.read()
            except (aiohttp.ClientError, OSError, TimeoutError):
                data = b""
            finally:
                resp.release()
            raise error_from_response(resp.status, data)
        return resp

    async def request_bytes(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Any = None,
        content_type: str = JSON,
        request_timeout: float | None = None,
    ) -> bytes:
        """Send a request; return the raw body of a 2xx answer."""
        data = None if body is None else encode(body)
        ct = aiohttp.ClientTimeout(total=request_timeout) if request_timeout else None
        resp = await self._send(method, path, query=query, body=data, content_type=content_type, client_timeout=ct)
        try:
            return await resp.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise TransportError(f"{method} {path}: reading the answer: {e}") from e
        finally:
            resp.release()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Any = None,
        content_type: str = JSON,
        request_timeout: float | None = None,
    ) -> Any:
        """Send a request to any path; return the decoded JSON answer (None when empty)."""
        raw = await self.request_bytes(
            method, path, query=query, body=body, content_type=content_type, request_timeout=request_timeout
        )
        return orjson.loads(raw) if raw else None

    # -- typed verbs --------------------------------------------------------------------------

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", ref.path(namespace, name))
        return result

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
        """One page of a list, undecoded (the informer decodes it itself)."""
        query: list[tuple[str, str]] = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if limit:
            query.append(("limit", str(limit)))
        if continue_token:
            query.append(("continue", continue_token))
        if resource_version is not None:
            query.append(("resourceVersion", resource_version))
        return await self.request_bytes("GET", ref.path(namespace), query=query, request_timeout=request_timeout)

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
        """A list object (`items`, `metadata.resourceVersion`, `metadata.continue`)."""
        raw = await self.list_bytes(
            ref,
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
        )
        result: dict[str, Any] = orjson.loads(raw)
        return result

    async def watch(
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
        """Stream watch events; an ERROR event is raised as its `ApiError` (410 → `Gone`)."""
        query: list[tuple[str, str]] = [("watch", "1")]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if allow_bookmarks:
            query.append(("allowWatchBookmarks", "true"))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if timeout_seconds:
            query.append(("timeoutSeconds", str(timeout_seconds)))
        read_timeout = timeout_seconds + 60 if timeout_seconds else None
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=read_timeout)
        resp = await self._send("GET", ref.path(namespace), query=query, client_timeout=timeout)
        try:
            while True:
                try:
                    line = await resp.content.readline()
                except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
                    raise TransportError(f"watch {ref}: {type(e).__name__}: {e}") from e
                if not line:
                    return
                if not line.strip():
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise TransportError(f"watch {ref}: undecodable event: {e}") from e
                etype = event.get("type")
                obj = event.get("object") or {}
                if etype == "ERROR":
                    raise error_from_status(int(obj.get("code") or 500), obj)
                yield WatchEvent(str(etype), obj)
        finally:
            resp.close()

    async def create(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        path = ref.path(_namespace(ref, namespace, body))
        result: dict[str, Any] = await self.request("POST", path, query=_dry_run(dry_run), body=body)
        return result

    async def update(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """PUT the whole object; its `metadata.resourceVersion` makes the write conditional."""
        path = ref.path(_namespace(ref, namespace, body), _name(body))
        result: dict[str, Any] = await self.request("PUT", path, query=_dry_run(dry_run), body=body)
        return result

    async def update_status(
        self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """PUT to the `status` subresource."""
        path = ref.path(_namespace(ref, namespace, body), _name(body), "status")
        result: dict[str, Any] = await self.request("PUT", path, query=_dry_run(dry_run), body=body)
        return result

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
        content_type = PATCH_CONTENT_TYPES[patch_type]
        path = ref.path(namespace, name, subresource)
        result: dict[str, Any] = await self.request(
            "PATCH", path, query=_dry_run(dry_run), body=patch, content_type=content_type
        )
        return result

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
        """Delete; `uid`/`resource_version` become preconditions. Returns the object or Status."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            options["preconditions"] = preconditions
        path = ref.path(namespace, name)
        result: dict[str, Any] | None = await self.request("DELETE", path, query=_dry_run(dry_run), body=options)
        return result

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
        path = ref.path(_namespace(ref, namespace, body), name, subresource)
        result: dict[str, Any] | None = await self.request("POST", path, query=_dry_run(dry_run), body=body)
        return result


def _dry_run(dry_run: bool) -> Query:
    """The query of a server-side dry run: admitted and validated, nothing stored."""
    return (("dryRun", "All"),) if dry_run else ()


def _name(body: Mapping[str, Any]) -> str:
    name = (body.get("metadata") or {}).get("name")
    if not name:
        raise ClientError("the object has no metadata.name")
    return str(name)


def _namespace(ref: ResourceRef, namespace: str | None, body: Mapping[str, Any]) -> str | None:
    if not ref.namespaced:
        return None
    ns = namespace or (body.get("metadata") or {}).get("namespace")
    if not ns:
        raise ClientError(f"{ref} is namespaced: give a namespace or metadata.namespace")
    return str(ns)
