"""`expose`: the Service built for a VMI, VM or VMIRS and the flags."""

from __future__ import annotations

import argparse
import hashlib
from typing import Any

import pytest

from virtctl import expose, main
from virtctl.errors import CommandError

VMI_SPEC: dict[str, Any] = {
    "networks": [{"name": "default", "pod": {}}],
    "domain": {"devices": {"interfaces": [{"name": "default", "masquerade": {},
                                            "ports": [{"port": 22}, {"port": 53, "protocol": "UDP"}]}]}},
}


def args(*extra: str) -> argparse.Namespace:
    return main.build_parser().parse_args(["expose", "vm", "x", "--name", "svc", *extra])


def test_vmi_selected_by_id_label_with_explicit_port() -> None:
    vmi = {"metadata": {"name": "vmi1", "labels": {"app": "a"}}, "spec": VMI_SPEC}
    svc = expose.service_for("vmi", vmi, args("--port", "2222", "--target-port", "22", "--type", "NodePort"), "demo")
    assert svc == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "demo"},
                   "spec": {"ports": [{"protocol": "TCP", "port": 2222, "targetPort": 22}],
                            "selector": {"vmi.kubevirt.io/id": "vmi1"}, "type": "NodePort"}}


def test_vm_without_port_reuses_interface_ports() -> None:
    vm = {"metadata": {"name": "vm1"}, "spec": {"template": {"spec": VMI_SPEC}}}
    svc = expose.service_for("vm", vm, args(), "demo")
    assert svc["spec"]["ports"] == [{"name": "port-1", "protocol": "TCP", "port": 22},
                                    {"name": "port-2", "protocol": "UDP", "port": 53}]
    assert svc["spec"]["selector"] == {"vmi.kubevirt.io/id": "vm1"}


def test_vmirs_selected_by_match_labels() -> None:
    rs = {"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {}}}}
    svc = expose.service_for("vmirs", rs, args("--port", "80", "--target-port", "http", "--port-name", "web"), "d")
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"] == [{"name": "web", "protocol": "TCP", "port": 80, "targetPort": "http"}]


@pytest.mark.parametrize(("kind", "obj", "extra", "message"), [
    ("vmirs", {"metadata": {"name": "rs"}, "spec": {"selector": {"matchExpressions": [{"key": "a"}]}}}, ["--port", "1"],
     "without any selector labels"),
    ("vmirs", {"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"a": "b"},
                                                                 "matchExpressions": [{"key": "a"}]}}},
     ["--port", "1"], "with match expressions"),
    ("vm", {"metadata": {"name": "vm1"}, "spec": {"template": {"spec": {}}}}, [], "couldn't find port"),
    ("vm", {"metadata": {"name": "vm1"}, "spec": {}}, ["--port", "1", "--type", "ExternalName"], "not supported"),
    ("vm", {"metadata": {"name": "vm1"}, "spec": {}}, ["--port", "1", "--type", "Fancy"], "unknown service type"),
    ("vm", {"metadata": {"name": "vm1"}, "spec": {}}, ["--port", "1", "--protocol", "SCTP"], "unknown protocol"),
], ids=["no-match-labels", "match-expressions", "no-port", "external-name", "bad-type", "bad-protocol"])
def test_refusals(kind: str, obj: dict[str, Any], extra: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        expose.service_for(kind, obj, args(*extra), "demo")


def test_dual_stack_defaults_policy() -> None:
    vm = {"metadata": {"name": "vm1"}, "spec": {}}
    spec = expose.service_for("vm", vm, args("--port", "1", "--ip-family", "IPv4,IPv6"), "d")["spec"]
    assert spec["ipFamilies"] == ["IPv4", "IPv6"] and spec["ipFamilyPolicy"] == "PreferDualStack"


@pytest.mark.parametrize("name", ["short", "x" * 63, "y" * 70], ids=["short", "63", "long"])
def test_vmi_id_matches_upstream(name: str) -> None:
    got = expose.vmi_id(name)
    if len(name) <= 63:
        assert got == name
    else:
        assert got == name[:54] + "-" + hashlib.sha1(name.encode()).hexdigest()[:8] and len(got) == 63


def test_kinds() -> None:
    assert [expose.resource_kind(k) for k in ("VMI", "virtualmachines", "vmirs")] == ["vmi", "vm", "vmirs"]
    with pytest.raises(CommandError, match="unsupported resource type"):
        expose.resource_kind("pod")
