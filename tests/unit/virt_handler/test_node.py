"""Node labels and device resources the handler publishes, per hypervisor mode and health."""

from __future__ import annotations

import pytest

from virt_handler.node import device_resources, node_labels, resources_differ
from virt_handler.settings import Hypervisor, parse_args

H = Hypervisor


@pytest.mark.parametrize(("mode", "kvm_works", "schedulable", "expected"), [
    (H.KVM, True, True, {"kubevirt.io/schedulable": "true", "node.kubevirt.io/hypervisor": "kvm",
                         "node.kubevirt.io/kvm": "true"}),
    (H.KVM, False, True, {"kubevirt.io/schedulable": "true", "node.kubevirt.io/hypervisor": "kvm",
                          "node.kubevirt.io/kvm": "false"}),
    (H.EMULATION, True, True, {"kubevirt.io/schedulable": "true", "node.kubevirt.io/hypervisor": "emulation",
                               "node.kubevirt.io/kvm": "false"}),
    (H.TEST, False, False, {"kubevirt.io/schedulable": "false", "node.kubevirt.io/hypervisor": "test",
                            "node.kubevirt.io/kvm": "false"}),
], ids=["kvm", "kvm-device-unusable", "emulation", "test-unhealthy"])
def test_node_labels(mode: Hypervisor, kvm_works: bool, schedulable: bool, expected: dict[str, str]) -> None:
    assert node_labels(mode, kvm_works=kvm_works, schedulable=schedulable) == expected


@pytest.mark.parametrize(("mode", "kvm_works", "kvm"), [
    (H.KVM, True, "1000"), (H.KVM, False, "0"), (H.EMULATION, True, "0"), (H.TEST, False, "1000"),
], ids=["kvm", "kvm-device-unusable", "emulation", "test"])
def test_device_resources(mode: Hypervisor, kvm_works: bool, kvm: str) -> None:
    res = device_resources(mode, kvm_works=kvm_works, capacity=1000)
    assert res["devices.kubevirt.io/kvm"] == kvm
    assert res["devices.kubevirt.io/tun"] == res["devices.kubevirt.io/vhost-net"] == "1000"


def test_resources_differ() -> None:
    wanted = {"devices.kubevirt.io/tun": "1000"}
    assert resources_differ({"status": {}}, wanted)
    assert resources_differ({"status": {"capacity": wanted, "allocatable": {}}}, wanted)
    assert not resources_differ({"status": {"capacity": dict(wanted), "allocatable": {**wanted, "cpu": "2"}}}, wanted)


def test_settings_paths_and_defaults() -> None:
    s = parse_args(["--node-name", "n1", "--run-dir", "/r"])
    assert (s.port, s.health_port, s.hypervisor, s.serves_https) == (8186, 8185, H.KVM, False)
    assert str(s.launcher_socket("u1")) == "/r/sockets/u1/launcher.sock"
    assert str(s.notify_socket) == "/r/handler/notify.sock"


@pytest.mark.parametrize("argv", [
    ["--node-name", "n", "--tls-cert", "c"],
    ["--node-name", "n", "--tls-cert", "c", "--tls-key", "k"],
    [],
], ids=["cert-without-key", "tls-without-client-ca", "no-node-name"])
def test_settings_rejects(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
