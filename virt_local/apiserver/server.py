"""The embedded API server: wiring of storage, REST handlers, authentication, authorization,
admission, aggregation and the background controllers (garbage collector, namespaces, CRDs).

`ApiServer` is the composition root: it builds each part with the few parts it uses (no part
holds the server). `ApiServer.handle` is the request chain, in kube-apiserver's order:
authenticate → impersonate → authorize (RBAC) → non-resource documents | the aggregation proxy |
the route table of resource requests (`routes`) → admission → store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import discovery, errors, rest, routes
from .admission import AdmissionChain
from .apiservices import APIServices, ClientCertificate
from .auth import Authenticator, TokenAuthority, impersonation
from .backend_pool import BackendPools
from .builtin import FIELD_GETTERS
from .certs import ServerCertificates
from .controllers import APIServiceAvailability, Controllers
from .crd_hooks import SchemaHooksImpl, crd_before_write
from .file_modes import private_dir, restrict_data_dir
from .httpserver import HttpServer, Request, Response
from .pod_ips import PodAddresses
from .proxy import AggregationProxy
from .rbac import RbacSnapshot, RequestAttributes, UserInfo, forbidden_message
from .registry import ResourceTable
from .requestinfo import RequestInfo, parse
from .service_resolver import ServiceResolver
from .storage import Storage
from .store import Event, Store

log = logging.getLogger("virt_local.apiserver")

PUBLIC_PATHS = {"/healthz", "/livez", "/readyz", "/version"}
RBAC_PLURALS = {"roles", "rolebindings", "clusterroles", "clusterrolebindings"}


@dataclass
class Settings:
    data_dir: Path
    address: str = "127.0.0.1"
    port: int = 6443
    watch_history: int = 10000
    service_map: dict[str, str] = field(default_factory=dict)  # "<ns>/<svc>:<port>" -> "host:port"
    bookmark_interval: float = 5.0


class ApiServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        private_dir(settings.data_dir)
        self.certs = ServerCertificates(settings.data_dir, settings.address)
        self.storage = Storage(settings.data_dir / "state.db")
        self.store = Store(self.storage, history=settings.watch_history)
        self.store.field_getters.update(FIELD_GETTERS)
        self.tokens = TokenAuthority(settings.data_dir)
        restrict_data_dir(settings.data_dir)  # what an older version left readable to others
        self.authn = Authenticator(self.tokens, self._sa_uid)
        self.table = ResourceTable()
        self._rbac: RbacSnapshot | None = None
        self.pools = BackendPools()
        self.resolver = ServiceResolver(store=self.store, services_file=settings.data_dir / "services.yaml",
                                        static_map=settings.service_map)
        self.apiservices = APIServices(pools=self.pools, client_cert=ClientCertificate(
            self.certs.path("front-proxy-client.crt"), self.certs.path("front-proxy-client.key")))
        self.proxy = AggregationProxy(apiservices=self.apiservices, resolver=self.resolver)
        self.admission = AdmissionChain(store=self.store, resolver=self.resolver, pools=self.pools)
        self.schema_hooks = SchemaHooksImpl()
        self.ctx = rest.Ctx(store=self.store, admission=self.admission, schema=self.schema_hooks,
                            namespace_exists=self._namespace_phase, bookmark_interval=settings.bookmark_interval)
        self.ctx.before_write[("apiextensions.k8s.io", "customresourcedefinitions")] = crd_before_write
        self.pod_addresses = PodAddresses()
        self.ctx.before_write[("", "pods")] = self.pod_addresses.before_write
        self.controllers = Controllers(
            store=self.store, ctx=self.ctx, resources=lambda: self.table, ca_pem=self.certs.ca.cert_pem,
            front_proxy_ca_pem=self.certs.front_proxy_ca.cert_pem,
            availability=APIServiceAvailability(store=self.store, apiservices=self.apiservices,
                                                resolver=self.resolver))
        self.route_deps = routes.RouteDeps(ctx=self.ctx, resources=lambda: self.table, rbac=self.rbac,
                                           authn=self.authn, tokens=self.tokens, log_locator=self._log_locator)
        self.openapi = discovery.OpenApiDocuments()
        self.http = HttpServer(self.handle)
        self._server: asyncio.Server | None = None
        self.url = ""
        self.store.listeners.append(self._on_event)

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> str:
        n = self.store.load()
        log.info("loaded %d objects at revision %d", n, self.store.revision)
        self.pod_addresses.load(self.store)
        self.storage.start(asyncio.get_running_loop())
        self._rebuild_table()
        await self.controllers.bootstrap()
        ctx = self.certs.ssl_context()
        self._server = await self.http.serve(self.settings.address, self.settings.port, ctx)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"https://{self.settings.address}:{port}"
        self.certs.write_kubeconfig(self.url, self.tokens.admin_token)
        self.controllers.start()
        return self.url

    async def stop(self) -> None:
        await self.controllers.stop()
        if self._server is not None:
            self._server.close()
        self.store.close_all_watchers()
        await self.http.close_connections()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        self.pools.close()
        self.storage.stop()

    # ---- state helpers -------------------------------------------------------------------
    def _sa_uid(self, ns: str, name: str) -> str | None:
        e = self.store.get(("", "serviceaccounts"), ns, name)
        return e.uid if e else None

    def _namespace_phase(self, ns: str) -> str | None:
        e = self.store.get(("", "namespaces"), "", ns)
        if e is None:
            return None
        return "Terminating" if b'"deletionTimestamp"' in e.raw else "Active"

    def _log_locator(self, pod: dict[str, Any], container: str) -> Path | None:
        uid = str(pod["metadata"].get("uid", ""))
        return self.settings.data_dir / "pods" / uid / "logs" / f"{container}.log"

    def rbac(self) -> RbacSnapshot:
        if self._rbac is None:
            objs: dict[str, list[dict[str, Any]]] = {}
            for plural in RBAC_PLURALS:
                objs[plural] = [e.obj() for e in self.store.list(("rbac.authorization.k8s.io", plural), None)]
            self._rbac = RbacSnapshot(roles=objs["roles"], cluster_roles=objs["clusterroles"],
                                      role_bindings=objs["rolebindings"],
                                      cluster_role_bindings=objs["clusterrolebindings"])
        return self._rbac

    def _on_event(self, ev: Event) -> None:
        group, plural = ev.tk
        self.pod_addresses.on_event(ev)
        if group == "rbac.authorization.k8s.io":
            self._rbac = None
        elif (group, plural) in (("apiextensions.k8s.io", "customresourcedefinitions"),
                                 ("apiregistration.k8s.io", "apiservices")):
            self._rebuild_table()
        self.controllers.on_event(ev)

    def _rebuild_table(self) -> None:
        crds = [e.obj() for e in self.store.list(("apiextensions.k8s.io", "customresourcedefinitions"), None)]
        established = [c for c in crds if any(cond.get("type") == "Established" and cond.get("status") == "True"
                                              for cond in (c.get("status") or {}).get("conditions") or [])]
        apiservices = [e.obj() for e in self.store.list(("apiregistration.k8s.io", "apiservices"), None)]
        self.table = ResourceTable(established, self.apiservices.refresh(apiservices))
        self.schema_hooks.refresh(crds)

    # ---- request chain -------------------------------------------------------------------
    async def handle(self, req: Request) -> Response:
        try:
            return await self._handle(req)
        except errors.ApiError as e:
            return Response(status=e.code, body=e.body())
        except Exception as e:  # noqa: BLE001 - last resort: a Status, and the trace in the log
            log.error("internal error on %s %s: %s", req.method, req.path, traceback.format_exc())
            err = errors.internal(str(e) or type(e).__name__)
            return Response(status=500, body=err.body())

    async def _handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(body=b"ok", content_type="text/plain")
        user = self.authn.authenticate(req.headers, req.peer_cert)
        if user is None:
            if path == "/version":
                return discovery.version()
            raise errors.unauthorized()
        imp = impersonation(req.headers, req.header_list)
        if imp is not None:
            self._authorize_impersonation(user, imp)
            user = imp
        info = parse(req.method, path, req.q("watch") in ("1", "t", "T", "true", "TRUE", "True"))
        attrs = RequestAttributes(verb=info.verb, api_group=info.group, resource=info.resource,
                                  subresource=info.subresource, name=info.name, namespace=info.namespace,
                                  resource_request=info.resource_request, path=path)
        decision = self.rbac().authorize(user, attrs)
        if not decision.allowed:
            raise errors.forbidden(forbidden_message(user, attrs), resource=info.resource, group=info.group,
                                   name=info.name)
        if not info.resource_request:
            return await self._non_resource(req, path, info, user)
        if self.apiservices.handles(info.group, info.version):
            return await self.proxy.proxy(req, user)
        r = self.table.lookup(info.group, info.version, info.resource)
        if r is None or (info.namespace and not r.namespaced and info.resource != "namespaces"):
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource",
                                  details={})
        call = rest.Call(req=req, info=info, r=r, user=user)
        return await routes.resolve(call)(self.route_deps, call)

    def _authorize_impersonation(self, user: UserInfo, imp: UserInfo) -> None:
        rb = self.rbac()
        checks = [("users", imp.username, "")] + [("groups", g, "") for g in imp.groups
                                                  if g != "system:authenticated"]
        if imp.username.startswith("system:serviceaccount:") and imp.username.count(":") >= 3:
            _, _, ns, name = imp.username.split(":", 3)
            checks[0] = ("serviceaccounts", name, ns)
            checks = [c for c in checks if not c[1].startswith("system:serviceaccounts")]
        for resource, name, ns in checks:
            attrs = RequestAttributes(verb="impersonate", api_group="", resource=resource, subresource="",
                                      name=name, namespace=ns, resource_request=True, path="")
            if not rb.authorize(user, attrs).allowed:
                raise errors.forbidden(f'{resource} "{name}" is forbidden: User "{user.username}" cannot '
                                       f'impersonate resource "{resource}" in API group "" at the cluster scope')

    async def _non_resource(self, req: Request, path: str, info: RequestInfo, user: UserInfo) -> Response:
        if req.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        doc = discovery.non_resource(self.table, self.openapi, path)
        if doc is None:
            if info.api_prefix == "apis" and self.apiservices.handles(info.group, info.version):
                return await self.proxy.proxy(req, user)
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource", details={})
        return doc


async def run(settings: Settings, ready: Callable[[str], None] | None = None) -> None:
    server = ApiServer(settings)
    url = await server.start()
    if ready:
        ready(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
