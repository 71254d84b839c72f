"""The launcher's command line → LauncherSettings, and the UUIDs it derives without the uuid module."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from virt_launcher import converter, daemon
from virt_launcher.converter import Hypervisor
from virt_launcher.errors import InvalidVMI
from virt_launcher.settings import HelpRequested, UsageError, help_text, settings_from_args


@pytest.mark.parametrize(("argv", "expected"), [
    (["--dir", "/l"], {"private_dir": Path("/l"), "hypervisor": Hypervisor.KVM, "vmi": None, "domain_timeout": 240.0}),
    (["--dir=/l", "--hypervisor=test"], {"hypervisor": Hypervisor.TEST}),
    (["--dir", "/l", "--vmi-json", '{"metadata": {"name": "a"}}'], {"vmi": {"metadata": {"name": "a"}}}),
    (["--dir", "/l", "--grace-period", "0", "--domain-timeout", "0.3", "--daemon-restarts", "0"],
     {"grace_period": 0, "domain_timeout": 0.3, "daemon_restarts": 0}),
    (["--dir", "/l", "--migration-ports", "49152-49167"], {"migration_ports": (49152, 49167)}),
    (["--dir", "/l", "--capabilities-cache", "/c", "--kernel-boot-dir", "/k", "--notify-socket", "/n.sock"],
     {"capabilities_cache": Path("/c"), "kernel_boot_dir": Path("/k"), "notify_socket": "/n.sock"}),
    (["--dir", "rel"], {"private_dir": Path.cwd() / "rel"}),
], ids=["minimal", "equals-form", "vmi-json", "numbers", "port-range", "paths", "relative-dir"])
def test_command_line(argv: list[str], expected: dict[str, Any]) -> None:
    settings = settings_from_args(argv)
    assert {k: getattr(settings, k) for k in expected} == expected


@pytest.mark.parametrize(("argv", "message"), [
    ([], "--dir is required"),
    (["--dir"], "--dir needs a value"),
    (["--dir", "/l", "--bogus", "1"], "unrecognized argument '--bogus'"),
    (["--dir", "/l", "--hypervisor", "xen"], "choose from kvm, emulation, test"),
    (["--dir", "/l", "--grace-period", "soon"], "--grace-period: invalid value 'soon'"),
    (["--dir", "/l", "--vmi-json", "{}", "--vmi-file", "/v.json"], "not both"),
    (["--dir", "/l", "--vmi-json", "[1]"], "the VMI must be a JSON object"),
    (["--dir", "/l", "--vmi-json", "{"], "the VMI is not valid JSON"),
    (["--dir", "/l", "--vmi-file", "/nonexistent/vmi.json"], "--vmi-file: "),
], ids=["no-dir", "missing-value", "unknown", "bad-choice", "bad-int", "two-vmis", "not-object", "bad-json", "no-file"])
def test_command_line_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as excinfo:
        settings_from_args(argv)
    assert message in str(excinfo.value)


def test_help_lists_every_option() -> None:
    with pytest.raises(HelpRequested):
        settings_from_args(["--dir", "/l", "--help"])
    assert all(f"  {name} " in help_text() for name in ("--dir", "--vmi-file", "--migration-ports", "--libvirtd"))


def test_vmi_file(tmp_path: Path) -> None:
    (tmp_path / "vmi.json").write_text('{"metadata": {"name": "from-file"}}')
    settings = settings_from_args(["--dir", str(tmp_path), "--vmi-file", str(tmp_path / "vmi.json")])
    assert settings.vmi == {"metadata": {"name": "from-file"}}


@pytest.mark.parametrize("name", ["kubevirt.io/uid-1", "kubevirt.io/e2e-uid", "kubevirt.io/ünïcode"])
def test_derived_domain_uuid_is_uuid5(name: str) -> None:
    assert converter._uuid5(converter._NAMESPACE_URL, name) == str(uuid.uuid5(uuid.NAMESPACE_URL, name))


@pytest.mark.parametrize("value", ["6BA7B811-9DAD-11D1-80B4-00C04FD430C8", "{6ba7b811-9dad-11d1-80b4-00c04fd430c8}",
                                   "urn:uuid:6ba7b8119dad11d180b400c04fd430c8"], ids=["upper", "braces", "urn"])
def test_firmware_uuid_is_normalised_as_uuid_does(value: str) -> None:
    assert converter._uuid({"uuid": value}, {}, "n") == str(uuid.UUID(value))


@pytest.mark.parametrize("value", ["6ba7b811-9dad-11d1-80b4", "6ba7b811-9dad-11d1-80b4-00c04fd430cg"], ids=["short", "not-hex"])
def test_firmware_uuid_invalid(value: str) -> None:
    with pytest.raises(InvalidVMI, match="is not a UUID"):
        converter._uuid({"uuid": value}, {}, "n")


def test_host_uuid_is_random_version_4() -> None:
    first, second = daemon._random_uuid(), daemon._random_uuid()
    assert first != second
    assert str(uuid.UUID(first)) == first and uuid.UUID(first).version == 4
