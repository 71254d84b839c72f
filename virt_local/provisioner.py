"""The local volume provisioner: PersistentVolumeClaims of virt-local's StorageClass become
directories in the data dir.

At start it creates the StorageClass `local` (provisioner `virt-local.kubevirt.io/local`, binding
mode Immediate, reclaim policy Delete) annotated as the default class if no default exists. A pending
claim of that class (or with no class, which means the default) gets a PersistentVolume
`pvc-<claim-uid>` whose `local.path` is `<data-dir>/volumes/<pv-name>/`, holding a sparse `disk.img` of
exactly the requested size (so a disk can never grow past the claim: its capacity is enforced by the
file's size); then the claim is bound (`spec.volumeName`, Bound status with capacity and access modes)
and the volume too (`claimRef`, Bound). A released volume (its claim deleted) is deleted with its
directory. Block-mode claims are left Pending with a warning in the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from virt_client.api.quantity import Quantity, QuantityError
from virt_client.errors import AlreadyExists, ApiError, Conflict, NotFound, TransportError
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient
from virt_client.resources import PVCS, PVS, ResourceRef

log = logging.getLogger("virt_local.provisioner")

STORAGE_CLASSES = ResourceRef("storage.k8s.io", "v1", "storageclasses", False, "StorageClass")
PROVISIONER = "virt-local.kubevirt.io/local"
CLASS_NAME = "local"
DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def storage_class(default: bool) -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_ANNOTATION: "true" if default else "false"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": False}


def render_pv(pvc: Mapping[str, Any], path: Path, size: str) -> dict[str, Any]:
    md = pvc["metadata"]
    spec = pvc.get("spec") or {}
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{md['uid']}",
                     "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {"capacity": {"storage": size}, "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": CLASS_NAME,
                 "volumeMode": spec.get("volumeMode") or "Filesystem", "local": {"path": str(path)},
                 "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": md["namespace"],
                              "name": md["name"], "uid": md["uid"]}},
    }


def create_disk(directory: Path, size_bytes: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    disk = directory / "disk.img"
    if not disk.exists():
        with open(disk, "wb") as f:
            f.truncate(size_bytes)
    os.chmod(directory, 0o777)


class Provisioner:
    def __init__(self, client: KubeClient, volumes_dir: Path) -> None:
        self.client = client
        self.volumes_dir = volumes_dir
        self.pvcs = Informer(client, PVCS)
        self.pvs = Informer(client, PVS)
        self.classes = Informer(client, STORAGE_CLASSES)
        self._wake = asyncio.Event()
        wake = EventHandler(on_add=lambda o: self._wake.set(), on_update=lambda o, n: self._wake.set(),
                            on_delete=lambda o: self._wake.set())
        for inf in (self.pvcs, self.pvs, self.classes):
            inf.add_handler(wake)

    async def ensure_storage_class(self) -> None:
        classes = (await self.client.list(STORAGE_CLASSES)).get("items") or []
        if any(c["metadata"]["name"] == CLASS_NAME for c in classes):
            return
        has_default = any((c["metadata"].get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true" for c in classes)
        try:
            await self.client.create(STORAGE_CLASSES, storage_class(not has_default))
            log.info("created StorageClass %s%s", CLASS_NAME, "" if has_default else " (default)")
        except AlreadyExists:
            pass

    def _default_class(self) -> str | None:
        for c in self.classes.store.objects():
            if (c["metadata"].get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true":
                return str(c["metadata"]["name"])
        return None

    def _ours(self, pvc: Mapping[str, Any]) -> bool:
        cls = (pvc.get("spec") or {}).get("storageClassName")
        cls = self._default_class() if cls is None else cls
        return cls == CLASS_NAME

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for inf in (self.pvcs, self.pvs, self.classes):
                tg.create_task(inf.run())
            tg.create_task(self._loop())

    async def _loop(self) -> None:
        for inf in (self.pvcs, self.pvs, self.classes):
            await inf.wait_for_synced()
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.sync()
            except (ApiError, TransportError) as e:
                log.warning("provisioning pass failed: %s", e)
                await asyncio.sleep(1)
                self._wake.set()

    async def sync(self) -> None:
        pvs_by_claim = {}
        for pv in self.pvs.store.objects():
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if ref.get("uid"):
                pvs_by_claim[ref["uid"]] = pv
        claims = {p["metadata"]["uid"]: p for p in self.pvcs.store.objects()}
        for uid, pvc in claims.items():
            if (pvc.get("status") or {}).get("phase") == "Bound" or pvc["metadata"].get("deletionTimestamp"):
                continue
            if not self._ours(pvc) or (pvc.get("spec") or {}).get("volumeName"):
                continue
            await self._provision(pvc, pvs_by_claim.get(uid))
        for claim_uid, pv in pvs_by_claim.items():
            annotations = pv["metadata"].get("annotations") or {}
            if claim_uid not in claims and annotations.get("pv.kubernetes.io/provisioned-by") == PROVISIONER:
                await self._reclaim(pv)

    async def _provision(self, pvc: Mapping[str, Any], pv: Mapping[str, Any] | None) -> None:
        md = pvc["metadata"]
        spec = pvc.get("spec") or {}
        if (spec.get("volumeMode") or "Filesystem") == "Block":
            log.warning("claim %s/%s: Block volumes are not supported by virt-local; use volumeMode Filesystem",
                        md["namespace"], md["name"])
            return
        request = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        try:
            size = Quantity.parse(request or "0").to_bytes()
        except QuantityError:
            size = 0
        if size <= 0:
            log.warning("claim %s/%s: no valid storage request (%r)", md["namespace"], md["name"], request)
            return
        name = f"pvc-{md['uid']}"
        path = self.volumes_dir / name
        await asyncio.to_thread(create_disk, path, size)
        if pv is None:
            try:
                pv = await self.client.create(PVS, render_pv(pvc, path, str(request)))
            except AlreadyExists:
                pv = await self.client.get(PVS, name)
            log.info("provisioned %s for claim %s/%s (%s at %s)", name, md["namespace"], md["name"], request, path)
        if (pv.get("status") or {}).get("phase") != "Bound":
            await self.client.patch(PVS, name, {"status": {"phase": "Bound"}}, subresource="status")
        try:
            await self.client.patch(PVCS, md["name"], {
                "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                             "pv.kubernetes.io/bound-by-controller": "yes",
                                             "volume.kubernetes.io/storage-provisioner": PROVISIONER}},
                "spec": {"volumeName": name}}, md["namespace"])
            await self.client.patch(PVCS, md["name"], {"status": {
                "phase": "Bound", "capacity": {"storage": str(request)},
                "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"])}}, md["namespace"],
                subresource="status")
        except (NotFound, Conflict) as e:
            log.info("claim %s/%s changed while binding: %s", md["namespace"], md["name"], e)

    async def _reclaim(self, pv: Mapping[str, Any]) -> None:
        name = pv["metadata"]["name"]
        path = Path(((pv.get("spec") or {}).get("local") or {}).get("path") or self.volumes_dir / name)
        if path.parent == self.volumes_dir:
            await asyncio.to_thread(shutil.rmtree, path, True)
        try:
            await self.client.delete(PVS, name)
            log.info("deleted %s: its claim is gone", name)
        except NotFound:
            pass
