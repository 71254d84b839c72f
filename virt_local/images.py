"""The local image store: an OCI image layout in `<data-dir>/images/` holding containerDisk and
kernelBoot images, and their unpacked layers.

Layout: `oci-layout`, `index.json` (one manifest per image, named by the annotation
`io.containerd.image.name`, with the tag also in `org.opencontainers.image.ref.name`) and
`blobs/sha256/<digest>` (config, manifest and one uncompressed tar layer). `import_file` wraps a disk as
upstream's `ADD --chown=107:107 disk.img /disk/` does; `import_dir` packs a directory as the image root
(e.g. `boot/vmlinuz`, `boot/initrd.gz`). Layers are unpacked once, on first use, into
`unpacked/<layer-digest>/` (published with an atomic rename) and shared read-only by every Pod.

Invariants: blobs are content-addressed and written before `index.json` names them; `index.json` is
replaced atomically under a lock, so imports while `virt-local up` runs are safe and readers never see
a partial index.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from virt_client.api.times import now_rfc3339

from .errors import ImageError

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
QEMU_UID = 107


def normalize(reference: str) -> str:
    """`name[:tag]` with the default registry prefixes dropped and `:latest` added when untagged."""
    ref = reference.strip()
    for prefix in ("docker.io/library/", "docker.io/", "localhost/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else ref + ":latest"


@dataclass(frozen=True)
class Image:
    name: str
    digest: str  # of the manifest
    layers: tuple[str, ...]
    size: int
    created: str


class _HashingWriter:
    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        return self.f.write(data)


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.unpacked_dir = root / "unpacked"

    # ---- layout ------------------------------------------------------------------------------
    def _init(self) -> None:
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.unpacked_dir.mkdir(parents=True, exist_ok=True)
        layout = self.root / "oci-layout"
        if not layout.exists():
            layout.write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        if not (self.root / "index.json").exists():
            self._write_index({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                               "manifests": []})

    @contextlib.contextmanager
    def _lock(self, name: str = ".lock") -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _read_index(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.root / "index.json").read_text())
            return data
        except FileNotFoundError:
            return {"schemaVersion": 2, "manifests": []}

    def _write_index(self, index: dict[str, Any]) -> None:
        tmp = self.root / "index.json.tmp"
        tmp.write_text(json.dumps(index, indent=2))
        tmp.replace(self.root / "index.json")

    def _put_blob(self, data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        path = self.blobs / digest
        if not path.exists():
            tmp = self.blobs / f".{digest}.tmp"
            tmp.write_bytes(data)
            tmp.replace(path)
        return f"sha256:{digest}", len(data)

    def blob(self, digest: str) -> Path:
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or not hexd:
            raise ImageError(f"unsupported digest {digest!r}")
        return self.blobs / hexd

    # ---- import ------------------------------------------------------------------------------
    def _write_layer(self, add: Any) -> tuple[str, int]:
        self._init()
        fd, tmp_name = tempfile.mkstemp(dir=self.blobs, prefix=".layer-")
        try:
            with os.fdopen(fd, "wb") as f:
                w = _HashingWriter(f)
                with tarfile.open(fileobj=w, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                    add(tar)
            digest = w.h.hexdigest()
            os.replace(tmp_name, self.blobs / digest)
            return f"sha256:{digest}", w.size
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    def import_file(self, reference: str, disk: Path) -> Image:
        """Wrap a disk image as a containerDisk: the file under `/disk/`, owned by qemu (107)."""
        if not disk.is_file():
            raise ImageError(f"{disk}: not a file; give a disk image (qcow2 or raw), or use --dir for a directory")

        def add(tar: tarfile.TarFile) -> None:
            d = tarfile.TarInfo("disk")
            d.type, d.mode, d.uid, d.gid, d.mtime = tarfile.DIRTYPE, 0o555, QEMU_UID, QEMU_UID, int(time.time())
            tar.addfile(d)
            info = tar.gettarinfo(str(disk), arcname=f"disk/{disk.name}")
            info.uid = info.gid = QEMU_UID
            info.uname = info.gname = ""
            info.mode = 0o440
            with disk.open("rb") as f:
                tar.addfile(info, f)
        return self._import(reference, self._write_layer(add))

    def import_dir(self, reference: str, directory: Path) -> Image:
        """Pack a directory as the image root (e.g. a kernelBoot image with `boot/vmlinuz`)."""
        if not directory.is_dir():
            raise ImageError(f"{directory}: not a directory")

        def add(tar: tarfile.TarFile) -> None:
            for path in sorted(directory.rglob("*")):
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(directory)))
                info.uname = info.gname = ""
                if info.isfile():
                    with path.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        return self._import(reference, self._write_layer(add))

    def _import(self, reference: str, layer: tuple[str, int]) -> Image:
        name = normalize(reference)
        if "@" in name:
            raise ImageError(f"{reference}: give a name and tag to import, not a digest")
        created = now_rfc3339()
        config = {"created": created, "architecture": "amd64", "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": [layer[0]]}}
        cdigest, csize = self._put_blob(json.dumps(config).encode())
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                    "config": {"mediaType": CONFIG_TYPE, "digest": cdigest, "size": csize},
                    "layers": [{"mediaType": LAYER_TYPE, "digest": layer[0], "size": layer[1]}]}
        mdigest, msize = self._put_blob(json.dumps(manifest).encode())
        with self._lock():
            index = self._read_index()
            index["manifests"] = [m for m in index.get("manifests") or []
                                  if (m.get("annotations") or {}).get(NAME_ANNOTATION) != name]
            index["manifests"].append({"mediaType": MANIFEST_TYPE, "digest": mdigest, "size": msize,
                                       "annotations": {NAME_ANNOTATION: name,
                                                       REF_ANNOTATION: name.rsplit(":", 1)[-1],
                                                       "org.opencontainers.image.created": created}})
            self._write_index(index)
        return Image(name=name, digest=mdigest, layers=(layer[0],), size=layer[1], created=created)

    # ---- queries -----------------------------------------------------------------------------
    def list(self) -> list[Image]:
        out = []
        for m in self._read_index().get("manifests") or []:
            ann = m.get("annotations") or {}
            name = ann.get(NAME_ANNOTATION) or ann.get(REF_ANNOTATION) or ""
            try:
                manifest = json.loads(self.blob(m["digest"]).read_text())
            except (OSError, ValueError, ImageError):
                continue
            layers = tuple(layer["digest"] for layer in manifest.get("layers") or [])
            size = sum(int(layer.get("size") or 0) for layer in manifest.get("layers") or [])
            out.append(Image(name=name, digest=m["digest"], layers=layers, size=size,
                             created=ann.get("org.opencontainers.image.created", "")))
        return sorted(out, key=lambda i: i.name)

    def resolve(self, reference: str) -> Image | None:
        want = normalize(reference)
        images = self.list()
        if "@" in want:
            digest = want.split("@", 1)[1]
            return next((i for i in images if i.digest == digest), None)
        return next((i for i in images if i.name == want), None)

    def unpacked(self, image: Image) -> Path:
        """The image's root filesystem, unpacked once (single-layer images share the layer's dir)."""
        key = image.layers[0] if len(image.layers) == 1 else image.digest
        target = self.unpacked_dir / key.replace("sha256:", "")
        if target.is_dir():
            return target
        self._init()
        with self._lock(".unpack.lock"):
            if target.is_dir():
                return target
            tmp = Path(tempfile.mkdtemp(dir=self.unpacked_dir, prefix=".unpack-"))
            try:
                for layer in image.layers:
                    with tarfile.open(self.blob(layer), mode="r:*") as tar:
                        _extract(tar, tmp)
                tmp.chmod(0o755)
                tmp.rename(target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return target


def _extract(tar: tarfile.TarFile, dest: Path) -> None:
    for member in tar.getmembers():
        if member.name.startswith("/") or ".." in Path(member.name).parts:
            raise ImageError(f"layer member {member.name!r} escapes the image root")
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="fully_trusted")
    else:  # pragma: no cover - Python without extraction filters
        tar.extractall(dest)
