"""Admission: the built-in ServiceAccount plugin for Pods (`sa_admission`), then webhooks: mutating,
then validating, called with AdmissionReview v1.

Webhook configurations are read from the store; a webhook is called when its rules (operations,
groups, versions, resources incl. subresources, scope), namespaceSelector and objectSelector match.
Mutating webhooks run one after another and their JSONPatch responses are applied in order;
validating webhooks run concurrently. `failurePolicy` decides what an unreachable or failing
webhook means; dry-run requests reach only webhooks declaring no side effects. Calls travel over
keep-alive connections pooled per webhook address and CA bundle (`backend_pool`); a webhook's
Service resolves as the aggregation proxy's do (`service_resolver`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import uuid
from typing import Any
from urllib.parse import urlsplit

import orjson

from virt_client.patches import PatchError, apply_json_patch
from virt_client.selectors import SelectorError, label_selector_from_dict

from . import errors
from .backend_pool import BackendError, BackendPool, BackendPools
from .rbac import UserInfo
from .resources import ResourceInfo
from .sa_admission import admit_pod
from .service_resolver import ServiceResolver
from .store import Store

log = logging.getLogger("virt_local.apiserver.admission")

WEBHOOK_CONFIG_PLURALS = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations")


def _matches_list(values: list[str] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)  # type: ignore[operator]


def rule_matches(rule: dict[str, Any], operation: str, r: ResourceInfo, subresource: str) -> bool:
    ops = rule.get("operations") or []
    if "*" not in ops and operation not in ops:
        return False
    if not _matches_list(rule.get("apiGroups"), r.group) or not _matches_list(rule.get("apiVersions"), r.version):
        return False
    scope = rule.get("scope", "*")
    if scope == "Cluster" and r.namespaced or scope == "Namespaced" and not r.namespaced:
        return False
    want = f"{r.plural}/{subresource}" if subresource else r.plural
    for res in rule.get("resources") or []:
        if res == "*/*" or res == want:
            return True
        if res == "*" and not subresource:
            return True
        if "/" in res:
            a, b = res.split("/", 1)
            if subresource and (a == "*" and b == subresource or a == r.plural and b == "*"):
                return True
    return False


def _webhook_ssl(ca_bundle: str) -> ssl.SSLContext:
    """Verify with `ca_bundle` when given, else with the system CAs."""
    if not ca_bundle:
        return ssl.create_default_context()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=base64.b64decode(ca_bundle).decode())
    return ctx


class AdmissionChain:
    def __init__(self, *, store: Store, resolver: ServiceResolver, pools: BackendPools) -> None:
        self._store = store
        self._resolver = resolver
        self._pools = pools

    def _webhooks(self, plural: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for e in self._store.list(("admissionregistration.k8s.io", plural), None):
            cfg = e.obj()
            for wh in cfg.get("webhooks") or []:
                out.append((cfg["metadata"]["name"], wh))
        return out

    def _selected(self, wh: dict[str, Any], r: ResourceInfo, namespace: str, obj: dict[str, Any] | None,
                  old: dict[str, Any] | None) -> bool:
        try:
            nsel = wh.get("namespaceSelector")
            if nsel and (nsel.get("matchLabels") or nsel.get("matchExpressions")):
                ns_name = namespace or ((obj or old or {}).get("metadata", {}).get("name", "")
                                        if r.plural == "namespaces" and not r.group else "")
                if ns_name:
                    ns = self._store.get(("", "namespaces"), "", ns_name)
                    labels = ns.labels if ns else {}
                    if not label_selector_from_dict(nsel).matches(labels):
                        return False
            osel = wh.get("objectSelector")
            if osel and (osel.get("matchLabels") or osel.get("matchExpressions")):
                sel = label_selector_from_dict(osel)
                if not any(sel.matches((o.get("metadata") or {}).get("labels") or {}) for o in (obj, old) if o):
                    return False
        except SelectorError:
            return False
        return True

    def _applicable(self, plural: str, operation: str, r: ResourceInfo, subresource: str, namespace: str,
                    obj: dict[str, Any] | None, old: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
        if r.group == "admissionregistration.k8s.io" and r.plural in WEBHOOK_CONFIG_PLURALS:
            return []
        return [(cfg, wh) for cfg, wh in self._webhooks(plural)
                if any(rule_matches(rule, operation, r, subresource) for rule in wh.get("rules") or [])
                and self._selected(wh, r, namespace, obj, old)]

    async def admit(self, *, operation: str, r: ResourceInfo, subresource: str, obj: dict[str, Any] | None,
                    old: dict[str, Any] | None, user: UserInfo, dry_run: bool, namespace: str, name: str,
                    options: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, list[str]]:
        warnings: list[str] = []
        if operation == "CREATE" and not r.group and r.plural == "pods" and not subresource and obj is not None:
            obj = self._service_account(obj, namespace)
        mutating = self._applicable("mutatingwebhookconfigurations", operation, r, subresource, namespace, obj, old)
        validating = self._applicable("validatingwebhookconfigurations", operation, r, subresource, namespace,
                                      obj, old)
        if not mutating and not validating:
            return obj, warnings
        for _, wh in mutating:
            resp = await self._call(wh, operation, r, subresource, obj, old, user, dry_run, namespace, name, options)
            if resp is None:
                continue
            warnings += resp.get("warnings") or []
            self._raise_if_denied(wh, resp)
            patch_b64 = resp.get("patch")
            if patch_b64 and obj is not None:
                try:
                    ops = orjson.loads(base64.b64decode(patch_b64))
                    patched = apply_json_patch(obj, ops)
                except (PatchError, ValueError, orjson.JSONDecodeError) as e:
                    raise errors.internal(f'admission webhook "{wh.get("name")}" returned an invalid patch: '
                                          f"{e}") from None
                if isinstance(patched, dict):
                    obj = patched
        results = await asyncio.gather(*[
            self._call(wh, operation, r, subresource, obj, old, user, dry_run, namespace, name, options)
            for _, wh in validating])
        for (_, wh), resp in zip(validating, results, strict=True):
            if resp is None:
                continue
            warnings += resp.get("warnings") or []
            self._raise_if_denied(wh, resp)
        return obj, warnings

    def _service_account(self, pod: dict[str, Any], namespace: str) -> dict[str, Any]:
        spec = pod.get("spec")
        name = (spec.get("serviceAccountName") or spec.get("serviceAccount") or "default") \
            if isinstance(spec, dict) else "default"
        sa = self._store.get(("", "serviceaccounts"), namespace, name) if isinstance(name, str) else None
        return admit_pod(pod, sa.obj() if sa is not None else None)

    @staticmethod
    def _raise_if_denied(wh: dict[str, Any], resp: dict[str, Any]) -> None:
        if resp.get("allowed"):
            return
        st = resp.get("status") or {}
        msg = f'admission webhook "{wh.get("name")}" denied the request'
        if st.get("message"):
            msg += f": {st['message']}"
        code = int(st.get("code") or 400)
        if code < 400:
            code = 400
        raise errors.ApiError(code, st.get("reason") or ("BadRequest" if code == 400 else "Invalid"), msg,
                              details=st.get("details"))

    def _pool(self, url: str, sni: str, ca_bundle: str) -> tuple[BackendPool, str]:
        """The keep-alive pool for a webhook URL (verified with `ca_bundle`, else the system CAs), and the
        request target."""
        u = urlsplit(url)
        if u.scheme != "https" or not u.hostname:
            raise ValueError(f"webhook URL {url!r} is not an https URL with a host")
        pool = self._pools.get(f"webhook|{ca_bundle}", u.hostname, u.port or 443, sni or u.hostname,
                               lambda: _webhook_ssl(ca_bundle))
        return pool, (u.path or "/") + (f"?{u.query}" if u.query else "")

    @staticmethod
    async def _post(pool: BackendPool, target: str, body: bytes) -> tuple[int, bytes]:
        resp = await pool.request("POST", target, [("Content-Type", "application/json"),
                                                   ("Accept", "application/json")], body)
        return resp.status, await resp.read()

    async def _call(self, wh: dict[str, Any], operation: str, r: ResourceInfo, subresource: str,
                    obj: dict[str, Any] | None, old: dict[str, Any] | None, user: UserInfo, dry_run: bool,
                    namespace: str, name: str, options: dict[str, Any] | None) -> dict[str, Any] | None:
        wname = wh.get("name", "")
        fail_open = wh.get("failurePolicy", "Fail") == "Ignore"
        if dry_run and wh.get("sideEffects") not in ("None", "NoneOnDryRun"):
            if fail_open:
                return None
            raise errors.bad_request(f'admission webhook "{wname}" does not support dry run')
        cc = wh.get("clientConfig") or {}
        try:
            url, sni = self._resolver.webhook_url(cc)
        except errors.ApiError as e:
            if fail_open:
                return None
            raise errors.internal(f'failed calling webhook "{wname}": {e.message}') from None
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        gvr = {"group": r.group, "version": r.version, "resource": r.plural}
        review_req: dict[str, Any] = {
            "uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": name, "namespace": namespace, "operation": operation,
            "userInfo": {"username": user.username, "uid": user.uid, "groups": list(user.groups),
                         "extra": {k: list(v) for k, v in user.extra.items()}},
            "object": obj, "oldObject": old, "dryRun": dry_run,
            "options": options or {"kind": f"{operation.capitalize()}Options", "apiVersion": "meta.k8s.io/v1"},
        }
        if subresource:
            review_req["subResource"] = subresource
            review_req["requestSubResource"] = subresource
        body = orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": review_req})
        timeout = float(wh.get("timeoutSeconds") or 10)
        try:
            pool, target = self._pool(url, sni, str(cc.get("caBundle") or ""))
            status, content = await asyncio.wait_for(self._post(pool, target, body), timeout)
            if status != 200:
                raise ValueError(f"expected response code 200, got {status}")
            review = orjson.loads(content)
            out = review.get("response") if isinstance(review, dict) else None
            if not isinstance(out, dict) or out.get("uid") != review_req["uid"]:
                raise ValueError("expected response.uid to match the request uid")
            return out
        except (BackendError, TimeoutError, ValueError, OSError, ssl.SSLError) as e:
            if fail_open:
                log.warning("webhook %s failed, ignored by failurePolicy: %s", wname, e)
                return None
            if isinstance(e, TimeoutError):
                raise errors.timeout(f'failed calling webhook "{wname}": context deadline exceeded') from None
            raise errors.internal(f'failed calling webhook "{wname}": failed to call webhook: {e}') from None
