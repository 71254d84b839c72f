"""The launcher's only door to disk tools (`qemu-img`, `genisoimage`) and image files.

Carries out the `storage.DiskAction`s the converter asked for and resolves containerDisk images to
their disk file. Blocking; run it in a worker thread.

Invariants: an action is idempotent (an existing overlay or ISO is kept, so a repeated `sync` does not
wipe the guest's writes); files are written next to their final path and renamed into place.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from virt_launcher.errors import DiskPreparationFailed, InvalidVMI
from virt_launcher.storage import (
    CreateCloudInitIso,
    CreateEmptyDisk,
    CreateOverlay,
    CreateRawDiskIfMissing,
    DiskAction,
    RequireFile,
)

QEMU_IMG = "qemu-img"
GENISOIMAGE = "genisoimage"
_QCOW2_MAGIC = b"QFI\xfb"


def _run(*argv: str) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DiskPreparationFailed(f"cannot run {argv[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise DiskPreparationFailed(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


def image_format(path: str) -> str:
    with open(path, "rb") as f:
        return "qcow2" if f.read(4) == _QCOW2_MAGIC else "raw"


def resolve_container_disk(root: str, path: str, field: str) -> str:
    """The disk file of a containerDisk mounted at root: `path` inside it, or the single file under /disk."""
    if path:
        candidate = os.path.join(root, path.lstrip("/"))
        if not os.path.isfile(candidate):
            raise InvalidVMI(f"{field}.path", f"{candidate} does not exist")
        return candidate
    disk_dir = os.path.join(root, "disk")
    try:
        files = sorted(e.path for e in os.scandir(disk_dir) if e.is_file())
    except OSError as exc:
        raise InvalidVMI(field, f"containerDisk not mounted: {disk_dir}: {exc.strerror}") from exc
    if len(files) != 1:
        raise InvalidVMI(field, f"expected exactly one file under {disk_dir}, found {len(files)}; set path")
    return files[0]


def prepare(actions: Iterable[DiskAction]) -> None:
    for action in actions:
        if isinstance(action, RequireFile):
            if not os.path.exists(action.path):
                raise DiskPreparationFailed(f"{action.field}: disk image {action.path} does not exist")
            continue
        if os.path.exists(action.path):
            continue
        Path(action.path).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(action, CreateOverlay):
            _run(QEMU_IMG, "create", "-q", "-f", "qcow2", "-b", action.backing,
                 "-F", image_format(action.backing), action.path)
        elif isinstance(action, CreateEmptyDisk):
            _run(QEMU_IMG, "create", "-q", "-f", "qcow2", action.path, str(action.size))
        elif isinstance(action, CreateRawDiskIfMissing):
            with open(action.path, "wb") as f:
                f.truncate(action.size)
        elif isinstance(action, CreateCloudInitIso):
            _make_iso(action)


def _make_iso(action: CreateCloudInitIso) -> None:
    import tempfile  # only cloud-init volumes need it; tempfile pulls in random and shutil for every VM otherwise

    parent = Path(action.path).parent
    with tempfile.TemporaryDirectory(dir=parent, prefix=".iso-") as tmp:
        names = []
        for name, data in action.files:
            (Path(tmp) / name).write_bytes(data)
            names.append(str(Path(tmp) / name))
        staged = str(Path(tmp) / "out.iso")
        _run(GENISOIMAGE, "-quiet", "-output", staged, "-volid", "cidata", "-joliet", "-rock", *names)
        os.rename(staged, action.path)
