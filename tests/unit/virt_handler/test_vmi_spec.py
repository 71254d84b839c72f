"""Facts derived from a VMI spec: LiveMigratable, migration method, QoS class, grace period."""

from __future__ import annotations

from typing import Any

import pytest

from virt_client.api.views.vmi import VirtualMachineInstanceSpecView as Spec
from virt_handler.vmi_spec import grace_period, live_migratable, migration_method, qos_class


def spec(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"domain": {"devices": {}}, "volumes": []}
    base.update(kw)
    return base


def devices(**kw: Any) -> dict[str, Any]:
    return {"domain": {"devices": kw}}


MIGRATABLE = [
    ("plain", spec(), None, (True, "")),
    ("container-disk", spec(volumes=[{"name": "r", "containerDisk": {"image": "x"}}]), None, (True, "")),
    ("host-disk", spec(volumes=[{"name": "h", "hostDisk": {"path": "/x"}}]), None, (False, "DisksNotLiveMigratable")),
    ("pod-bridge", {**devices(interfaces=[{"name": "default", "bridge": {}}]), "networks": [{"name": "default", "pod": {}}]},
     None, (False, "InterfaceNotLiveMigratable")),
    ("pod-bridge-allowed", {**devices(interfaces=[{"name": "default", "bridge": {}}]),
                            "networks": [{"name": "default", "pod": {}}]},
     {"kubevirt.io/allow-pod-bridge-network-live-migration": ""}, (True, "")),
    ("pod-masquerade", {**devices(interfaces=[{"name": "default", "masquerade": {}}]),
                        "networks": [{"name": "default", "pod": {}}]}, None, (True, "")),
    ("gpu", devices(gpus=[{"name": "g", "deviceName": "nvidia"}]), None, (False, "HostDeviceNotLiveMigratable")),
    ("virtiofs", devices(filesystems=[{"name": "f", "virtiofs": {}}]), None, (False, "VirtIOFSNotLiveMigratable")),
    ("host-passthrough", {"domain": {"cpu": {"model": "host-passthrough"}}}, None, (False, "CPUModeLiveMigratable")),
    ("sev", {"domain": {"launchSecurity": {"sev": {}}}}, None, (False, "SEVNotLiveMigratable")),
    ("lun-reservation", devices(disks=[{"name": "d", "lun": {"reservation": True}}]), None,
     (False, "PersistentReservationNotLiveMigratable")),
]


@pytest.mark.parametrize(("the_spec", "annotations", "expected"), [c[1:] for c in MIGRATABLE],
                         ids=[c[0] for c in MIGRATABLE])
def test_live_migratable(the_spec: dict[str, Any], annotations: dict[str, str] | None,
                         expected: tuple[bool, str]) -> None:
    ok, reason, message = live_migratable(Spec(the_spec), annotations)
    assert (ok, reason) == expected
    assert bool(message) == (not ok)


@pytest.mark.parametrize(("volumes", "method"), [
    ([], "LiveMigration"),
    ([{"name": "p", "persistentVolumeClaim": {"claimName": "c"}}], "LiveMigration"),
    ([{"name": "c", "containerDisk": {"image": "x"}}], "BlockMigration"),
    ([{"name": "e", "emptyDisk": {"capacity": "1Gi"}}], "BlockMigration"),
], ids=["none", "pvc", "container-disk", "empty-disk"])
def test_migration_method(volumes: list[dict[str, Any]], method: str) -> None:
    assert migration_method(Spec(spec(volumes=volumes))) == method


@pytest.mark.parametrize(("resources", "qos"), [
    ({}, "Burstable"),
    ({"requests": {"memory": "1Gi"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ({"limits": {"memory": "1Gi"}}, "Burstable"),
], ids=["none", "requests", "limits", "equal", "cpu-differs", "memory-only"])
def test_qos_class(resources: dict[str, Any], qos: str) -> None:
    assert qos_class(Spec({"domain": {"resources": resources}})) == qos


@pytest.mark.parametrize(("value", "seconds"), [(None, 30), (0, 0), (5, 5), (-3, 0), ("x", 30)],
                         ids=["default", "zero", "five", "negative", "garbage"])
def test_grace_period(value: Any, seconds: int) -> None:
    s = {} if value is None else {"terminationGracePeriodSeconds": value}
    assert grace_period(Spec(s)) == seconds
