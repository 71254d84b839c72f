"""Volumes and disks of a VMI → libvirt `<disk>` elements plus the disk files to prepare. Pure.

Where each volume lives (the launcher's view, after virt-handler has mounted things into place):

| volume | libvirt source | prepared by the launcher |
| --- | --- | --- |
| containerDisk | `<ephemeral>/disk-data/<vol>/disk.qcow2` (qcow2) | overlay backed by the image's disk file |
| persistentVolumeClaim, dataVolume | `<pvcs>/<vol>/disk.img` (raw) | nothing; the file must exist |
| hostDisk | `path` (raw) | `DiskOrCreate`: a sparse raw file of `capacity` if missing |
| emptyDisk | `<ephemeral>/empty-disks/<vol>.qcow2` (qcow2) | a sparse qcow2 of `capacity` |
| ephemeral | `<ephemeral>/disk-data/<vol>/disk.qcow2` (qcow2) | overlay backed by `<pvcs>/<vol>/disk.img` |
| cloudInitNoCloud | `<ephemeral>/cloud-init/<vol>/noCloud.iso` (raw) | an ISO 9660 `cidata` volume |

Target names follow upstream: virtio → vda, vdb…; sata, scsi and usb → sda, sdb…, counted per prefix in
the order of `spec.domain.devices.disks`. Every disk gets the user alias `ua-<disk name>`.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from virt_launcher import vmi_fields as f
from virt_launcher.errors import InvalidVMI, UnsupportedField


@dataclasses.dataclass(frozen=True)
class StoragePaths:
    ephemeral_dir: str
    pvc_dir: str
    container_disk_dir: str
    #: volume name → the image's disk file, resolved by the shell (the single file under `/disk`).
    container_disk_files: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CreateOverlay:
    path: str
    backing: str


@dataclasses.dataclass(frozen=True)
class CreateEmptyDisk:
    path: str
    size: int


@dataclasses.dataclass(frozen=True)
class CreateRawDiskIfMissing:
    path: str
    size: int


@dataclasses.dataclass(frozen=True)
class RequireFile:
    path: str
    field: str


@dataclasses.dataclass(frozen=True)
class CreateCloudInitIso:
    path: str
    files: tuple[tuple[str, bytes], ...]


DiskAction = CreateOverlay | CreateEmptyDisk | CreateRawDiskIfMissing | RequireFile | CreateCloudInitIso

BUSES = ("virtio", "sata", "scsi", "usb")
CACHE_MODES = ("none", "writethrough", "writeback")
IO_MODES = ("native", "threads")
ERROR_POLICIES = {"stop": "stop", "report": "report", "ignore": "ignore", "enospace": "enospace"}
DISK_FIELDS = ("name", "disk", "cdrom", "bootOrder", "serial", "cache", "io", "errorPolicy", "shareable")
VOLUME_KINDS = ("containerDisk", "persistentVolumeClaim", "dataVolume", "hostDisk", "emptyDisk",
                "ephemeral", "cloudInitNoCloud")


def device_name(prefix: str, index: int) -> str:
    """vda…vdz, vdaa… (index from 0)."""
    letters = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return prefix + letters


@dataclasses.dataclass(frozen=True)
class _Source:
    path: str
    fmt: str
    actions: tuple[DiskAction, ...]
    readonly: bool = False
    shareable: bool = False


def _volume_source(volume: dict[str, Any], path: str, vmi: dict[str, Any], paths: StoragePaths) -> _Source:
    name = volume["name"]
    kinds = [k for k in volume if k != "name"]
    supported = [k for k in kinds if k in VOLUME_KINDS]
    for k in kinds:
        if k not in VOLUME_KINDS and volume[k] not in (None, False):
            raise UnsupportedField(f"{path}.{k}", "volume type")
    if len(supported) != 1:
        raise InvalidVMI(path, f"volume {name!r} must have exactly one source, found {supported or 'none'}")
    kind = supported[0]
    src = f.child(volume, kind, path)
    spath = f"{path}.{kind}"
    if kind == "containerDisk":
        f.check_fields(src, spath, ("path",), ignored=("image", "imagePullSecret", "imagePullPolicy"))
        backing = paths.container_disk_files.get(name)
        if not backing:
            raise InvalidVMI(spath, f"no disk image found for containerDisk {name!r} under "
                                    f"{paths.container_disk_dir}/{name}")
        overlay = f"{paths.ephemeral_dir}/disk-data/{name}/disk.qcow2"
        return _Source(overlay, "qcow2", (CreateOverlay(overlay, backing),))
    if kind in ("persistentVolumeClaim", "dataVolume"):
        f.check_fields(src, spath, ("claimName", "name", "readOnly"))
        image = f"{paths.pvc_dir}/{name}/disk.img"
        return _Source(image, "raw", (RequireFile(image, spath),), readonly=f.boolean(src, "readOnly", spath, False))
    if kind == "hostDisk":
        f.check_fields(src, spath, ("path", "type", "capacity", "shared"))
        image = f.string(src, "path", spath)
        if not image.startswith("/"):
            raise InvalidVMI(f"{spath}.path", "must be an absolute path")
        disk_type = f.string(src, "type", spath)
        shared = f.boolean(src, "shared", spath, False)
        if disk_type == "Disk":
            return _Source(image, "raw", (RequireFile(image, spath),), shareable=shared)
        if disk_type == "DiskOrCreate":
            if "capacity" not in src:
                raise InvalidVMI(f"{spath}.capacity", "is required for type DiskOrCreate")
            size = f.quantity_bytes(src["capacity"], f"{spath}.capacity")
            return _Source(image, "raw", (CreateRawDiskIfMissing(image, size),), shareable=shared)
        raise InvalidVMI(f"{spath}.type", f"must be Disk or DiskOrCreate, got {disk_type!r}")
    if kind == "emptyDisk":
        f.check_fields(src, spath, ("capacity",))
        if "capacity" not in src:
            raise InvalidVMI(f"{spath}.capacity", "is required")
        image = f"{paths.ephemeral_dir}/empty-disks/{name}.qcow2"
        return _Source(image, "qcow2", (CreateEmptyDisk(image, f.quantity_bytes(src["capacity"], f"{spath}.capacity")),))
    if kind == "ephemeral":
        f.check_fields(src, spath, ("persistentVolumeClaim",))
        pvc = f.child(src, "persistentVolumeClaim", spath)
        f.check_fields(pvc, f"{spath}.persistentVolumeClaim", ("claimName", "readOnly"))
        backing = f"{paths.pvc_dir}/{name}/disk.img"
        overlay = f"{paths.ephemeral_dir}/disk-data/{name}/disk.qcow2"
        return _Source(overlay, "qcow2", (RequireFile(backing, spath), CreateOverlay(overlay, backing)))
    # cloudInitNoCloud
    f.check_fields(src, spath, ("userData", "userDataBase64", "networkData", "networkDataBase64"))
    iso = f"{paths.ephemeral_dir}/cloud-init/{name}/noCloud.iso"
    return _Source(iso, "raw", (CreateCloudInitIso(iso, _nocloud_files(src, spath, vmi)),))


def _decoded(src: dict[str, Any], key: str, path: str) -> bytes | None:
    plain, encoded = src.get(key), src.get(f"{key}Base64")
    if plain is not None and encoded is not None:
        raise InvalidVMI(path, f"set only one of {key} and {key}Base64")
    if plain is not None:
        return f.string(src, key, path).encode()
    if encoded is not None:
        # imported here: only cloud-init volumes need them, and the launcher's memory is per-VM overhead
        import base64
        import binascii

        try:
            return base64.b64decode(f.string(src, f"{key}Base64", path), validate=True)
        except binascii.Error as exc:
            raise InvalidVMI(f"{path}.{key}Base64", f"is not valid base64: {exc}") from exc
    return None


def _nocloud_files(src: dict[str, Any], path: str, vmi: dict[str, Any]) -> tuple[tuple[str, bytes], ...]:
    meta = vmi.get("metadata") or {}
    spec = vmi.get("spec") or {}
    hostname = spec.get("hostname") or meta.get("name", "")
    instance_id = meta.get("uid") or f"{meta.get('namespace', '')}.{meta.get('name', '')}"
    files: list[tuple[str, bytes]] = [("meta-data", f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n".encode())]
    user = _decoded(src, "userData", path)
    if user is None:
        raise InvalidVMI(path, "needs userData or userDataBase64")
    files.append(("user-data", user))
    network = _decoded(src, "networkData", path)
    if network is not None:
        files.append(("network-config", network))
    return tuple(files)


def disks(vmi: dict[str, Any], paths: StoragePaths) -> tuple[list[ET.Element], list[DiskAction], set[str]]:
    """The `<disk>` elements, the preparation actions, and the buses that need a controller."""
    spec = vmi.get("spec") or {}
    devices = f.child(f.child(spec, "domain", "spec"), "devices", "spec.domain")
    volumes = {}
    for i, volume in enumerate(f.items(spec, "volumes", "spec")):
        vname = f.string(volume, "name", f"spec.volumes[{i}]")
        if not vname:
            raise InvalidVMI(f"spec.volumes[{i}].name", "is required")
        volumes[vname] = (i, volume)
    elements: list[ET.Element] = []
    actions: list[DiskAction] = []
    buses: set[str] = set()
    counters: dict[str, int] = {}
    used: set[str] = set()
    for i, disk in enumerate(f.items(devices, "disks", "spec.domain.devices")):
        dpath = f"spec.domain.devices.disks[{i}]"
        f.check_fields(disk, dpath, DISK_FIELDS)
        name = f.string(disk, "name", dpath)
        if name not in volumes:
            raise InvalidVMI(f"{dpath}.name", f"no volume named {name!r} in spec.volumes")
        used.add(name)
        vindex, volume = volumes[name]
        source = _volume_source(volume, f"spec.volumes[{vindex}]", vmi, paths)
        actions.extend(source.actions)
        elements.append(_disk_element(disk, dpath, source, counters, buses))
    for vname, (vindex, _volume) in volumes.items():
        if vname not in used:
            raise InvalidVMI(f"spec.volumes[{vindex}]", f"volume {vname!r} is not used by any disk "
                                                         "(volumes without a disk are not supported)")
    return elements, actions, buses


def _disk_element(disk: dict[str, Any], dpath: str, source: _Source, counters: dict[str, int],
                  buses: set[str]) -> ET.Element:
    if "cdrom" in disk and "disk" in disk:
        raise InvalidVMI(dpath, "set only one of disk and cdrom")
    device = "cdrom" if "cdrom" in disk else "disk"
    target = f.child(disk, device, dpath)
    # virt-api's mutator sets `tray: closed` on every cdrom: the only tray state implemented
    f.check_fields(target, f"{dpath}.{device}", ("bus", "readonly"), ignored=("tray",) if device == "cdrom" else ())
    if device == "cdrom" and f.string(target, "tray", f"{dpath}.cdrom", "closed") != "closed":
        raise UnsupportedField(f"{dpath}.cdrom.tray", "only a closed tray is implemented")
    bus = f.string(target, "bus", f"{dpath}.{device}", "sata" if device == "cdrom" else "virtio")
    if bus not in BUSES:
        raise InvalidVMI(f"{dpath}.{device}.bus", f"must be one of {', '.join(BUSES)}, got {bus!r}")
    if device == "cdrom" and bus == "virtio":
        raise InvalidVMI(f"{dpath}.cdrom.bus", "a cdrom cannot use the virtio bus")
    buses.add(bus)
    prefix = "vd" if bus == "virtio" else "sd"
    index = counters.get(prefix, 0)
    counters[prefix] = index + 1
    readonly = f.boolean(target, "readonly", f"{dpath}.{device}", device == "cdrom") or source.readonly

    el = ET.Element("disk", type="file", device=device)
    driver = ET.SubElement(el, "driver", name="qemu", type=source.fmt)
    cache = f.string(disk, "cache", dpath)
    io = f.string(disk, "io", dpath)
    if cache and cache not in CACHE_MODES:
        raise InvalidVMI(f"{dpath}.cache", f"must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
    if io and io not in IO_MODES:
        raise InvalidVMI(f"{dpath}.io", f"must be one of {', '.join(IO_MODES)}, got {io!r}")
    if io == "native" and cache not in ("", "none"):
        raise InvalidVMI(f"{dpath}.io", "native I/O needs cache 'none'")
    if io == "native" and not cache:
        cache = "none"
    if cache:
        driver.set("cache", cache)
    if io:
        driver.set("io", io)
    policy = f.string(disk, "errorPolicy", dpath)
    if policy:
        if policy not in ERROR_POLICIES:
            raise InvalidVMI(f"{dpath}.errorPolicy", f"must be one of {', '.join(ERROR_POLICIES)}")
        driver.set("error_policy", ERROR_POLICIES[policy])
    ET.SubElement(el, "source", file=source.path)
    ET.SubElement(el, "target", dev=device_name(prefix, index), bus=bus)
    if readonly:
        ET.SubElement(el, "readonly")
    if f.boolean(disk, "shareable", dpath, False) or source.shareable:
        ET.SubElement(el, "shareable")
    serial = f.string(disk, "serial", dpath)
    if serial:
        ET.SubElement(el, "serial").text = serial
    if "bootOrder" in disk:
        ET.SubElement(el, "boot", order=str(f.integer(disk, "bootOrder", dpath, 1, minimum=1)))
    ET.SubElement(el, "alias", name=f"ua-{f.string(disk, 'name', dpath)}")
    return el
