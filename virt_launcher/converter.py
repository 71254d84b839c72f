"""VMI (plain camelCase dict) → libvirt domain XML. Pure: no I/O, no clock, no libvirt.

Follows upstream's converter (reference §3.7) for the fields we support; every other field is refused
with its path (see `vmi_fields.check_fields`). The result also lists the disk files the shell must
prepare before defining the domain (`storage.DiskAction`).

Invariants: the same VMI and context always give byte-identical XML (golden tests rely on it); the
domain name is `<namespace>_<name>`; the VMI uid and grace period travel in the kubevirt metadata.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from enum import StrEnum
from typing import Any

from virt_launcher import network, storage
from virt_launcher import vmi_fields as f
from virt_launcher.errors import InvalidVMI

KUBEVIRT_NS = "http://kubevirt.io"
ET.register_namespace("kubevirt", KUBEVIRT_NS)

#: Used under emulation for host-model / host-passthrough: TCG cannot provide the host's CPU.
TCG_CPU_MODEL = "qemu64"
DEFAULT_GRACE_PERIOD = 30
BALLOON_STATS_PERIOD = 10

SPEC_FIELDS = ("domain", "volumes", "terminationGracePeriodSeconds", "hostname", "architecture")
#: Spec fields that concern scheduling, the Pod or virt-handler; the launcher has nothing to do for them.
SPEC_IGNORED = ("priorityClassName", "nodeSelector", "affinity", "schedulerName", "serviceAccountName",
                "tolerations", "topologySpreadConstraints", "evictionStrategy", "startStrategy", "subdomain",
                "dnsPolicy", "dnsConfig", "livenessProbe", "readinessProbe")
DOMAIN_FIELDS = ("resources", "cpu", "memory", "machine", "firmware", "features", "clock", "devices",
                 "rebootPolicy")
DEVICES_FIELDS = ("disks", "interfaces", "inputs", "watchdog", "rng", "autoattachSerialConsole", "logSerialConsole",
                  "autoattachGraphicsDevice", "autoattachInputDevice", "autoattachMemBalloon")


class Hypervisor(StrEnum):
    KVM = "kvm"
    EMULATION = "emulation"
    TEST = "test"

    @property
    def domain_type(self) -> str:
        return {"kvm": "kvm", "emulation": "qemu", "test": "test"}[self.value]


@dataclasses.dataclass(frozen=True)
class ConverterContext:
    hypervisor: Hypervisor
    private_dir: str
    storage: storage.StoragePaths
    kernel_boot_dir: str
    emulator: str = "/usr/bin/qemu-system-x86_64"
    ovmf_code: str = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    ovmf_vars: str = "/usr/share/OVMF/OVMF_VARS_4M.fd"
    ovmf_secure_code: str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
    ovmf_secure_vars: str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"


@dataclasses.dataclass(frozen=True)
class DomainSpec:
    name: str
    uuid: str
    xml: str
    actions: tuple[storage.DiskAction, ...]
    start_paused: bool
    grace_period: int


def domain_name(vmi: dict[str, Any]) -> str:
    meta = vmi.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}_{meta.get('name', '')}"


def convert(vmi: dict[str, Any], ctx: ConverterContext) -> DomainSpec:
    meta = vmi.get("metadata") or {}
    if not meta.get("name"):
        raise InvalidVMI("metadata.name", "is required")
    spec = f.child(vmi, "spec", "")
    f.check_fields(spec, "spec", SPEC_FIELDS, ignored=SPEC_IGNORED + ("networks",))
    arch = f.string(spec, "architecture", "spec", "amd64")
    if arch != "amd64":
        raise InvalidVMI("spec.architecture", f"only amd64 is supported, got {arch!r}")
    dom = f.child(spec, "domain", "spec")
    f.check_fields(dom, "spec.domain", DOMAIN_FIELDS)
    grace = f.integer(spec, "terminationGracePeriodSeconds", "spec", DEFAULT_GRACE_PERIOD)
    start_strategy = f.string(spec, "startStrategy", "spec")
    if start_strategy not in ("", "Paused"):
        raise InvalidVMI("spec.startStrategy", f"must be Paused or unset, got {start_strategy!r}")

    root = ET.Element("domain", type=ctx.hypervisor.domain_type)
    name = domain_name(vmi)
    ET.SubElement(root, "name").text = name
    firmware = f.child(dom, "firmware", "spec.domain")
    f.check_fields(firmware, "spec.domain.firmware", ("uuid", "serial", "bootloader", "kernelBoot"))
    dom_uuid = _uuid(firmware, meta, name)
    ET.SubElement(root, "uuid").text = dom_uuid
    _metadata(root, meta, grace)
    _memory(root, dom)
    cpu = _cpu(dom, ctx)
    ET.SubElement(root, "vcpu", placement="static").text = str(cpu[0])
    serial = f.string(firmware, "serial", "spec.domain.firmware")
    if serial:
        sysinfo = ET.SubElement(root, "sysinfo", type="smbios")
        ET.SubElement(ET.SubElement(sysinfo, "system"), "entry", name="serial").text = serial
    _os(root, dom, firmware, ctx, name, bool(serial))
    _features(root, dom, firmware)
    root.append(cpu[1])
    _clock(root, dom)
    reboot_policy = f.string(dom, "rebootPolicy", "spec.domain", "Reboot")
    if reboot_policy not in ("Reboot", "Terminate"):
        raise InvalidVMI("spec.domain.rebootPolicy", f"must be Reboot or Terminate, got {reboot_policy!r}")
    ET.SubElement(root, "on_poweroff").text = "destroy"
    ET.SubElement(root, "on_reboot").text = "restart" if reboot_policy == "Reboot" else "destroy"
    ET.SubElement(root, "on_crash").text = "destroy"
    actions = _devices(root, vmi, dom, ctx)
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode") + "\n"
    return DomainSpec(name=name, uuid=dom_uuid, xml=xml, actions=tuple(actions),
                      start_paused=start_strategy == "Paused", grace_period=grace)


def _uuid(firmware: dict[str, Any], meta: dict[str, Any], name: str) -> str:
    value = f.string(firmware, "uuid", "spec.domain.firmware")
    if not value:
        # Upstream's mutator always sets firmware.uuid; derive a stable one when a caller did not.
        return _uuid5(_NAMESPACE_URL, f"kubevirt.io/{meta.get('uid') or name}")
    digits = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
    if len(digits) != 32 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise InvalidVMI("spec.domain.firmware.uuid", f"{value!r} is not a UUID")
    return _dashed(digits.lower())


#: RFC 4122 name-based UUIDs (what `uuid.uuid5` computes), without the `uuid` module and the hash
#: modules it loads: the launcher's memory is per-VM overhead.
_NAMESPACE_URL = bytes.fromhex("6ba7b8119dad11d180b400c04fd430c8")


def _uuid5(namespace: bytes, name: str) -> str:
    try:
        from _sha1 import sha1  # CPython's built-in SHA-1; hashlib would load every hash module
    except ImportError:  # pragma: no cover - other interpreters
        from hashlib import sha1
    raw = bytearray(sha1(namespace + name.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    return _dashed(raw.hex())


def _dashed(digits: str) -> str:
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _metadata(root: ET.Element, meta: dict[str, Any], grace: int) -> None:
    kv = ET.SubElement(ET.SubElement(root, "metadata"), f"{{{KUBEVIRT_NS}}}kubevirt")
    ET.SubElement(kv, f"{{{KUBEVIRT_NS}}}uid").text = str(meta.get("uid", ""))
    period = ET.SubElement(kv, f"{{{KUBEVIRT_NS}}}graceperiod")
    ET.SubElement(period, f"{{{KUBEVIRT_NS}}}deletionGracePeriodSeconds").text = str(grace)


def _memory(root: ET.Element, dom: dict[str, Any]) -> None:
    memory = f.child(dom, "memory", "spec.domain")
    f.check_fields(memory, "spec.domain.memory", ("guest",))
    resources = f.child(dom, "resources", "spec.domain")
    f.check_fields(resources, "spec.domain.resources", ("requests", "limits"), ignored=("overcommitGuestOverhead",))
    if "guest" in memory:
        size = f.quantity_bytes(memory["guest"], "spec.domain.memory.guest")
    elif "memory" in f.child(resources, "limits", "spec.domain.resources"):
        size = f.quantity_bytes(resources["limits"]["memory"], "spec.domain.resources.limits.memory")
    elif "memory" in f.child(resources, "requests", "spec.domain.resources"):
        size = f.quantity_bytes(resources["requests"]["memory"], "spec.domain.resources.requests.memory")
    else:
        raise InvalidVMI("spec.domain.memory.guest", "set it or spec.domain.resources.requests.memory")
    ET.SubElement(root, "memory", unit="b").text = str(size)


def _cpu(dom: dict[str, Any], ctx: ConverterContext) -> tuple[int, ET.Element]:
    cpu = f.child(dom, "cpu", "spec.domain")
    f.check_fields(cpu, "spec.domain.cpu", ("sockets", "cores", "threads", "model"))
    sockets, cores, threads = (f.integer(cpu, k, "spec.domain.cpu", 1, minimum=1) for k in ("sockets", "cores", "threads"))
    model = f.string(cpu, "model", "spec.domain.cpu", "host-model")
    el = ET.Element("cpu")
    if ctx.hypervisor is Hypervisor.EMULATION and model in ("host-model", "host-passthrough"):
        model = TCG_CPU_MODEL
    if ctx.hypervisor is Hypervisor.TEST:
        pass
    elif model in ("host-model", "host-passthrough"):
        el.set("mode", model)
    else:
        el.set("mode", "custom")
        el.set("match", "exact")
        ET.SubElement(el, "model", fallback="allow").text = model
    ET.SubElement(el, "topology", sockets=str(sockets), dies="1", cores=str(cores), threads=str(threads))
    return sockets * cores * threads, el


def _machine(dom: dict[str, Any]) -> str:
    machine = f.child(dom, "machine", "spec.domain")
    f.check_fields(machine, "spec.domain.machine", ("type",))
    value = f.string(machine, "type", "spec.domain.machine", "q35")
    if not (value == "q35" or value.startswith("pc-q35-")):
        raise InvalidVMI("spec.domain.machine.type", f"only q35 machines are supported, got {value!r}")
    return value


def _os(root: ET.Element, dom: dict[str, Any], firmware: dict[str, Any], ctx: ConverterContext,
        name: str, smbios: bool) -> None:
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine=_machine(dom)).text = "hvm"
    bootloader = f.child(firmware, "bootloader", "spec.domain.firmware")
    f.check_fields(bootloader, "spec.domain.firmware.bootloader", ("bios", "efi"))
    if "bios" in bootloader and "efi" in bootloader:
        raise InvalidVMI("spec.domain.firmware.bootloader", "set only one of bios and efi")
    if "efi" in bootloader:
        efi = f.child(bootloader, "efi", "spec.domain.firmware.bootloader")
        f.check_fields(efi, "spec.domain.firmware.bootloader.efi", ("secureBoot",))
        secure = f.boolean(efi, "secureBoot", "spec.domain.firmware.bootloader.efi", True)
        ET.SubElement(os_el, "loader", readonly="yes", secure="yes" if secure else "no",
                      type="pflash").text = ctx.ovmf_secure_code if secure else ctx.ovmf_code
        ET.SubElement(os_el, "nvram", template=ctx.ovmf_secure_vars if secure else ctx.ovmf_vars).text = \
            f"{ctx.private_dir}/nvram/{name}_VARS.fd"
    else:
        bios = f.child(bootloader, "bios", "spec.domain.firmware.bootloader")
        f.check_fields(bios, "spec.domain.firmware.bootloader.bios", ("useSerial",))
        if f.boolean(bios, "useSerial", "spec.domain.firmware.bootloader.bios", False):
            ET.SubElement(os_el, "bios", useserial="yes")
    kernel_boot = f.child(firmware, "kernelBoot", "spec.domain.firmware")
    if kernel_boot:
        kpath = "spec.domain.firmware.kernelBoot"
        f.check_fields(kernel_boot, kpath, ("kernelArgs", "container"))
        container = f.child(kernel_boot, "container", kpath)
        f.check_fields(container, f"{kpath}.container", ("kernelPath", "initrdPath"),
                       ignored=("image", "imagePullSecret", "imagePullPolicy"))
        kernel = f.string(container, "kernelPath", f"{kpath}.container")
        initrd = f.string(container, "initrdPath", f"{kpath}.container")
        if not kernel and not initrd:
            raise InvalidVMI(f"{kpath}.container", "needs kernelPath or initrdPath")
        if kernel:
            ET.SubElement(os_el, "kernel").text = f"{ctx.kernel_boot_dir}/{kernel.lstrip('/')}"
        if initrd:
            ET.SubElement(os_el, "initrd").text = f"{ctx.kernel_boot_dir}/{initrd.lstrip('/')}"
        args = f.string(kernel_boot, "kernelArgs", kpath)
        if args:
            ET.SubElement(os_el, "cmdline").text = args
    if smbios:
        ET.SubElement(os_el, "smbios", mode="sysinfo")


def _enabled(features: dict[str, Any], key: str, default: bool) -> bool:
    if key not in features:
        return default
    feature = f.child(features, key, "spec.domain.features")
    return f.boolean(feature, "enabled", f"spec.domain.features.{key}", True)


def _features(root: ET.Element, dom: dict[str, Any], firmware: dict[str, Any]) -> None:
    features = f.child(dom, "features", "spec.domain")
    f.check_fields(features, "spec.domain.features", ("acpi", "apic", "smm"))
    for key in ("acpi", "apic", "smm"):
        f.check_fields(f.child(features, key, "spec.domain.features"), f"spec.domain.features.{key}", ("enabled",))
    el = ET.SubElement(root, "features")
    if _enabled(features, "acpi", True):
        ET.SubElement(el, "acpi")
    if _enabled(features, "apic", True):
        ET.SubElement(el, "apic")
    efi = f.child(f.child(firmware, "bootloader", "spec.domain.firmware"), "efi", "spec.domain.firmware.bootloader")
    secure_boot = "efi" in f.child(firmware, "bootloader", "spec.domain.firmware") and efi.get("secureBoot", True)
    if _enabled(features, "smm", False) or secure_boot:
        ET.SubElement(el, "smm", state="on")


def _clock(root: ET.Element, dom: dict[str, Any]) -> None:
    clock = f.child(dom, "clock", "spec.domain")
    f.check_fields(clock, "spec.domain.clock", ("utc", "timezone"))
    if "timezone" in clock:
        ET.SubElement(root, "clock", offset="timezone", timezone=f.string(clock, "timezone", "spec.domain.clock"))
        return
    utc = f.child(clock, "utc", "spec.domain.clock")
    f.check_fields(utc, "spec.domain.clock.utc", ("offsetSeconds",))
    if "offsetSeconds" in utc:
        adjustment = utc["offsetSeconds"]
        if not isinstance(adjustment, int) or isinstance(adjustment, bool):
            raise InvalidVMI("spec.domain.clock.utc.offsetSeconds", "must be an integer")
        ET.SubElement(root, "clock", offset="variable", adjustment=str(adjustment), basis="utc")
    else:
        ET.SubElement(root, "clock", offset="utc")


def _devices(root: ET.Element, vmi: dict[str, Any], dom: dict[str, Any], ctx: ConverterContext) -> list[storage.DiskAction]:
    devices = f.child(dom, "devices", "spec.domain")
    dpath = "spec.domain.devices"
    f.check_fields(devices, dpath, DEVICES_FIELDS, ignored=("autoattachPodInterface",))
    el = ET.SubElement(root, "devices")
    if ctx.hypervisor is not Hypervisor.TEST:
        ET.SubElement(el, "emulator").text = ctx.emulator
    disk_elements, actions, buses = storage.disks(vmi, ctx.storage)
    el.extend(disk_elements)
    if "scsi" in buses:
        ET.SubElement(el, "controller", type="scsi", index="0", model="virtio-scsi")
    el.extend(network.interfaces(f.child(vmi, "spec", ""), devices))
    if f.boolean(devices, "autoattachSerialConsole", dpath, True):
        serial = ET.SubElement(el, "serial", type="unix")
        ET.SubElement(serial, "source", mode="bind", path=f"{ctx.private_dir}/serial0")
        if f.boolean(devices, "logSerialConsole", dpath, True):
            ET.SubElement(serial, "log", file=f"{ctx.private_dir}/serial0.log", append="on")
        ET.SubElement(serial, "target", port="0")
        ET.SubElement(serial, "alias", name="ua-serial0")
    _inputs(el, devices)
    if f.boolean(devices, "autoattachGraphicsDevice", dpath, True):
        graphics = ET.SubElement(el, "graphics", type="vnc")
        ET.SubElement(graphics, "listen", type="socket", socket=f"{ctx.private_dir}/vnc")
        video = ET.SubElement(el, "video")
        ET.SubElement(video, "model", type="vga", heads="1", vram="16384")
    _watchdog(el, devices)
    if "rng" in devices:
        f.check_fields(f.child(devices, "rng", dpath), f"{dpath}.rng", ())
        rng = ET.SubElement(el, "rng", model="virtio")
        ET.SubElement(rng, "backend", model="random").text = "/dev/urandom"
    if f.boolean(devices, "autoattachMemBalloon", dpath, True):
        balloon = ET.SubElement(el, "memballoon", model="virtio")
        ET.SubElement(balloon, "stats", period=str(BALLOON_STATS_PERIOD))
    else:
        ET.SubElement(el, "memballoon", model="none")
    return actions


def _inputs(el: ET.Element, devices: dict[str, Any]) -> None:
    inputs = f.items(devices, "inputs", "spec.domain.devices")
    for i, item in enumerate(inputs):
        ipath = f"spec.domain.devices.inputs[{i}]"
        f.check_fields(item, ipath, ("name", "type", "bus"))
        kind = f.string(item, "type", ipath, "tablet")
        bus = f.string(item, "bus", ipath, "usb")
        if kind != "tablet":
            raise InvalidVMI(f"{ipath}.type", f"only tablet is supported, got {kind!r}")
        if bus not in ("usb", "virtio"):
            raise InvalidVMI(f"{ipath}.bus", f"must be usb or virtio, got {bus!r}")
        ET.SubElement(ET.SubElement(el, "input", type="tablet", bus=bus), "alias",
                      name=f"ua-{f.string(item, 'name', ipath, f'tablet{i}')}")


def _watchdog(el: ET.Element, devices: dict[str, Any]) -> None:
    if "watchdog" not in devices:
        return
    wpath = "spec.domain.devices.watchdog"
    watchdog = f.child(devices, "watchdog", "spec.domain.devices")
    f.check_fields(watchdog, wpath, ("name", "i6300esb"))
    model = f.child(watchdog, "i6300esb", wpath)
    f.check_fields(model, f"{wpath}.i6300esb", ("action",))
    action = f.string(model, "action", f"{wpath}.i6300esb", "reset")
    if action not in ("poweroff", "reset", "shutdown"):
        raise InvalidVMI(f"{wpath}.i6300esb.action", f"must be poweroff, reset or shutdown, got {action!r}")
    ET.SubElement(ET.SubElement(el, "watchdog", model="i6300esb", action=action), "alias",
                  name=f"ua-{f.string(watchdog, 'name', wpath, 'watchdog')}")
