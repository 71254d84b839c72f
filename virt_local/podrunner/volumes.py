"""Pod volumes as directories, and each container's bind mounts.

Every volume becomes a host path (a directory, or a file for file-typed hostPaths):

- `emptyDir` → `<pod-dir>/volumes/empty-dir/<name>/`
- `hostPath` → the same path under the node root `<data-dir>/nodes/<node>/root` (created for the
  `…OrCreate` types and when no type is given, checked for the others)
- `configMap`, `secret`, `downwardAPI`, `projected` (with `serviceAccountToken` from the TokenRequest
  API) → files written into `<pod-dir>/volumes/<kind>/<name>/`, honouring `items` and modes
- `persistentVolumeClaim` → the bound PersistentVolume's directory (`local.path` or `hostPath.path`)
- `image` → the image's unpacked root from the local image store, always read-only

`container_mounts` turns a container's `volumeMounts` (with `subPath` and `readOnly`) into the bind
mounts the container's mount namespace gets.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import VolumeError
from .env import field_value, resource_value

Obj = Mapping[str, Any]


class VolumeBackend(Protocol):
    async def configmap(self, namespace: str, name: str) -> Obj | None: ...
    async def secret(self, namespace: str, name: str) -> Obj | None: ...
    async def claim_path(self, namespace: str, claim: str) -> Path: ...
    async def token(self, namespace: str, service_account: str, audience: str | None, expiration: int) -> str: ...
    async def image_root(self, reference: str) -> Path: ...


@dataclass(frozen=True)
class PreparedVolume:
    path: Path
    read_only: bool = False


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "readOnly": self.read_only}


def host_path_under(node_root: Path, path: str) -> Path:
    return node_root / path.lstrip("/")


def _check_host_path(path: Path, kind: str) -> None:
    if kind in ("", "DirectoryOrCreate"):
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    elif kind == "Directory" and not path.is_dir():
        raise VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not path.is_file():
        raise VolumeError(f"hostPath type check failed: {path} is not a file")
    elif kind in ("Socket", "CharDevice", "BlockDevice") and not path.exists():
        raise VolumeError(f"hostPath type check failed: {path} is not a {kind}")


def _write_files(directory: Path, files: Mapping[str, tuple[bytes, int]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for rel, (data, mode) in files.items():
        target = directory / rel
        if ".." in Path(rel).parts or rel.startswith("/"):
            raise VolumeError(f"volume item path {rel!r} must be relative and may not contain '..'")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        tmp.chmod(mode)
        tmp.replace(target)


def _keyed_files(data: Mapping[str, bytes], items: list[Obj] | None, default_mode: int, what: str,
                 optional: bool) -> dict[str, tuple[bytes, int]]:
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    out = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise VolumeError(f"configuration of {what}: key {key!r} not found")
        out[item.get("path") or key] = (data[key], int(item.get("mode") or default_mode))
    return out


def _configmap_bytes(cm: Obj) -> dict[str, bytes]:
    out = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return out


def _secret_bytes(secret: Obj) -> dict[str, bytes]:
    out = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    out.update({k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    return out


async def _source_files(backend: VolumeBackend, pod: Obj, src: Obj, default_mode: int,
                        node_alloc: Mapping[str, str]) -> dict[str, tuple[bytes, int]]:
    md = pod.get("metadata") or {}
    ns = str(md.get("namespace") or "default")
    if "configMap" in src:
        ref = src["configMap"]
        cm = await backend.configmap(ns, ref.get("name", ""))
        if cm is None:
            if ref.get("optional"):
                return {}
            raise VolumeError(f'configmap "{ref.get("name")}" not found')
        return _keyed_files(_configmap_bytes(cm), ref.get("items"), int(ref.get("defaultMode") or default_mode),
                            f'configmap "{ref.get("name")}"', bool(ref.get("optional")))
    if "secret" in src:
        ref = src["secret"]
        name = ref.get("secretName") or ref.get("name") or ""
        secret = await backend.secret(ns, name)
        if secret is None:
            if ref.get("optional"):
                return {}
            raise VolumeError(f'secret "{name}" not found')
        return _keyed_files(_secret_bytes(secret), ref.get("items"), int(ref.get("defaultMode") or default_mode),
                            f'secret "{name}"', bool(ref.get("optional")))
    if "downwardAPI" in src:
        out = {}
        for item in src["downwardAPI"].get("items") or []:
            if "fieldRef" in item:
                value = field_value(pod, item["fieldRef"].get("fieldPath", ""))
            else:
                ref = item.get("resourceFieldRef") or {}
                container: Obj = next((c for c in (pod.get("spec") or {}).get("containers") or []
                                  if c.get("name") == ref.get("containerName")), {})
                value = resource_value(container, ref, node_alloc)
            out[item.get("path", "")] = (value.encode(), int(item.get("mode") or default_mode))
        return out
    if "serviceAccountToken" in src:
        ref = src["serviceAccountToken"]
        sa = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        token = await backend.token(ns, sa, ref.get("audience"), max(int(ref.get("expirationSeconds") or 3600), 600))
        return {ref.get("path") or "token": (token.encode(), default_mode)}
    if "clusterTrustBundle" in src:
        raise VolumeError("clusterTrustBundle projections are not supported by virt-local")
    return {}


async def prepare_volume(backend: VolumeBackend, pod: Obj, volume: Obj, pod_dir: Path, node_root: Path,
                         node_alloc: Mapping[str, str]) -> PreparedVolume:
    name = str(volume.get("name") or "")
    md = pod.get("metadata") or {}
    ns = str(md.get("namespace") or "default")
    # File system work runs in a thread: the node's event loop serves every Pod (and the scheduler).
    if "emptyDir" in volume:
        path = pod_dir / "volumes" / "empty-dir" / name
        await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
        return PreparedVolume(path)
    if "hostPath" in volume:
        hp = volume["hostPath"]
        path = host_path_under(node_root, str(hp.get("path") or "/"))
        await asyncio.to_thread(_check_host_path, path, str(hp.get("type") or ""))
        return PreparedVolume(path)
    if "persistentVolumeClaim" in volume:
        ref = volume["persistentVolumeClaim"]
        return PreparedVolume(await backend.claim_path(ns, str(ref.get("claimName") or "")),
                              bool(ref.get("readOnly")))
    if "image" in volume:
        return PreparedVolume(await backend.image_root(str(volume["image"].get("reference") or "")), True)
    for kind, key in (("configmap", "configMap"), ("secret", "secret"), ("downward-api", "downwardAPI")):
        if key in volume:
            spec = volume[key]
            written = await _source_files(backend, pod, {key: spec}, int(spec.get("defaultMode") or 0o644),
                                          node_alloc)
            path = pod_dir / "volumes" / kind / name
            await asyncio.to_thread(_write_files, path, written)
            return PreparedVolume(path, True)
    if "projected" in volume:
        spec = volume["projected"]
        mode = int(spec.get("defaultMode") or 0o644)
        files: dict[str, tuple[bytes, int]] = {}
        for src in spec.get("sources") or []:
            files.update(await _source_files(backend, pod, src, mode, node_alloc))
        path = pod_dir / "volumes" / "projected" / name
        await asyncio.to_thread(_write_files, path, files)
        return PreparedVolume(path, True)
    kinds = sorted(k for k in volume if k != "name")
    raise VolumeError(f"volume {name!r}: unsupported volume type {', '.join(kinds) or '(none)'}; virt-local "
                      "supports emptyDir, hostPath, configMap, secret, downwardAPI, projected, "
                      "persistentVolumeClaim and image")


def container_mounts(container: Obj, volumes: Mapping[str, PreparedVolume]) -> list[Mount]:
    out = []
    for vm in container.get("volumeMounts") or []:
        name = vm.get("name", "")
        vol = volumes.get(name)
        if vol is None:
            raise VolumeError(f"volumeMount {name!r} of container {container.get('name')!r} names no volume",
                              reason="CreateContainerConfigError")
        target = str(vm.get("mountPath") or "")
        if not target.startswith("/"):
            raise VolumeError(f"mountPath {target!r} must be absolute", reason="CreateContainerConfigError")
        source = vol.path
        sub = str(vm.get("subPath") or "")
        if sub:
            if ".." in Path(sub).parts or sub.startswith("/"):
                raise VolumeError(f"subPath {sub!r} must be relative and may not contain '..'",
                                  reason="CreateContainerConfigError")
            source = vol.path / sub
            if not source.exists() and not vol.read_only:
                source.mkdir(parents=True, exist_ok=True)
        out.append(Mount(str(source), target, bool(vm.get("readOnly")) or vol.read_only))
    out.sort(key=lambda m: m.target.count("/"))
    return out

