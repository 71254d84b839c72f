"""`kubectl apply`-like create-or-update of manifest objects, with kinds resolved by discovery.

`Applier.apply(obj)` creates the object, or on AlreadyExists replaces it (keeping the stored
resourceVersion, and the stored status of objects that have one). Kinds are mapped to REST resources
through the server's discovery documents, cached per group/version, so CRD-defined kinds work once
their CRD is established.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from virt_client.errors import AlreadyExists, Conflict, NotFound
from virt_client.kube import KubeClient
from virt_client.resources import ResourceRef

from .errors import VirtLocalError


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind")]


class Applier:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._refs: dict[tuple[str, str], ResourceRef] = {}

    async def ref_for(self, api_version: str, kind: str) -> ResourceRef:
        key = (api_version, kind)
        if key not in self._refs:
            group, _, version = api_version.rpartition("/")
            prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
            doc = await self.client.request("GET", prefix)
            for r in doc.get("resources") or []:
                if "/" not in r["name"]:
                    self._refs[(api_version, r["kind"])] = ResourceRef(group, version, r["name"], r["namespaced"],
                                                                       r["kind"])
            if key not in self._refs:
                raise VirtLocalError(f"the API server does not serve kind {kind} in {api_version}")
        return self._refs[key]

    async def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        ref = await self.ref_for(str(obj["apiVersion"]), str(obj["kind"]))
        md = obj.get("metadata") or {}
        ns = (md.get("namespace") or "default") if ref.namespaced else None
        for _ in range(5):
            try:
                return await self.client.create(ref, obj, ns)
            except AlreadyExists:
                pass
            try:
                cur = await self.client.get(ref, md["name"], ns)
            except NotFound:
                continue
            new = dict(obj)
            new["metadata"] = {**md, "resourceVersion": cur["metadata"]["resourceVersion"]}
            if "status" in cur:
                new["status"] = cur["status"]
            try:
                return await self.client.update(ref, new, ns)
            except Conflict:
                await asyncio.sleep(0.1)
        raise VirtLocalError(f"could not apply {obj['kind']} {md.get('name')}: it keeps changing")
