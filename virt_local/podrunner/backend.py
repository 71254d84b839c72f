"""What volumes and environments need from the outside: ConfigMaps, Secrets, bound PVs, tokens
(through the API) and image roots (from the local image store)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virt_client.errors import NotFound
from virt_client.kube import KubeClient
from virt_client.resources import CONFIGMAPS, PVCS, PVS, SECRETS, SERVICE_ACCOUNTS

from ..errors import ImagePullError, VolumeError
from ..images import ImageStore


@dataclass(frozen=True)
class ApiBackend:
    client: KubeClient
    images: ImageStore

    async def _get(self, ref: Any, namespace: str | None, name: str) -> Mapping[str, Any] | None:
        try:
            return await self.client.get(ref, name, namespace)
        except NotFound:
            return None

    async def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return await self._get(CONFIGMAPS, namespace, name)

    async def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return await self._get(SECRETS, namespace, name)

    async def claim_path(self, namespace: str, claim: str) -> Path:
        pvc = await self._get(PVCS, namespace, claim)
        if pvc is None:
            raise VolumeError(f'persistentvolumeclaim "{claim}" not found')
        volume = (pvc.get("spec") or {}).get("volumeName")
        if not volume or (pvc.get("status") or {}).get("phase") != "Bound":
            raise VolumeError(f'persistentvolumeclaim "{claim}" is not bound yet')
        pv = await self._get(PVS, None, volume)
        if pv is None:
            raise VolumeError(f'persistentvolume "{volume}" of claim "{claim}" not found')
        spec = pv.get("spec") or {}
        path = (spec.get("local") or {}).get("path") or (spec.get("hostPath") or {}).get("path")
        if not path:
            raise VolumeError(f'persistentvolume "{volume}" is neither a local nor a hostPath volume')
        if not await asyncio.to_thread(os.path.isdir, path):
            raise VolumeError(f'persistentvolume "{volume}": directory {path} does not exist')
        return Path(path)

    async def token(self, namespace: str, service_account: str, audience: str | None, expiration: int) -> str:
        spec: dict[str, Any] = {"expirationSeconds": expiration}
        if audience:
            spec["audiences"] = [audience]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        try:
            out = await self.client.create_subresource(SERVICE_ACCOUNTS, service_account, "token", body, namespace)
        except NotFound:
            raise VolumeError(f'serviceaccount "{service_account}" not found') from None
        return str(((out or {}).get("status") or {}).get("token") or "")

    async def image_root(self, reference: str) -> Path:
        image = self.images.resolve(reference)
        if image is None:
            raise ImagePullError(
                f'failed to pull image "{reference}": not found in the local image store ({self.images.root}); '
                f"import it with: virt-local images import {reference} DISK-FILE")
        return await asyncio.to_thread(self.images.unpacked, image)
