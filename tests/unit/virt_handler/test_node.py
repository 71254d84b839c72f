"""Node labels and device resources the handler publishes, per hypervisor mode and health; the heartbeat
shell against the in-memory API (what the Node shows after a beat)."""

from __future__ import annotations

from pathlib import Path

import pytest

from virt_client.clock import FakeClock
from virt_client.kube_fake import FakeKube
from virt_client.resources import NODES
from virt_handler.node import NodeAgent, device_resources, node_labels, resources_differ
from virt_handler.settings import HandlerSettings, Hypervisor, parse_args

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


async def test_heartbeat_labels_the_node_and_publishes_device_resources_once() -> None:
    clock = FakeClock()
    kube = FakeKube(clock=clock)
    kube.seed(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    settings = HandlerSettings(node_name="n1", run_dir=Path("/unused"), hypervisor=Hypervisor.TEST)
    healthy = True
    agent = NodeAgent(settings, kube, clock, lambda: healthy, kvm_works=False)

    await agent.heartbeat()

    node = kube.stored(NODES, "n1")
    assert node is not None
    assert node["metadata"]["labels"] == {"kubevirt.io/schedulable": "true", "node.kubevirt.io/hypervisor": "test",
                                          "node.kubevirt.io/kvm": "false"}
    assert node["metadata"]["annotations"]["kubevirt.io/heartbeat"] == "2024-01-01T00:00:00Z"
    assert node["status"]["capacity"]["devices.kubevirt.io/kvm"] == "1000"
    assert node["status"]["allocatable"] == node["status"]["capacity"]
    assert [(w.verb, w.subresource) for w in kube.writes_of(ref=NODES)] == [("patch", None), ("patch", "status")]

    healthy = False
    clock.advance(60)
    await agent.heartbeat()
    node = kube.stored(NODES, "n1")
    assert node is not None
    assert node["metadata"]["labels"]["kubevirt.io/schedulable"] == "false"
    assert node["metadata"]["annotations"]["kubevirt.io/heartbeat"] == "2024-01-01T00:01:00Z"
    assert len(kube.writes_of(ref=NODES)) == 3, "resources already published: no second status write"
