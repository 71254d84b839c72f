"""Pod admission in the API server: the ServiceAccount plugin (token volume), the Pod IP
assignment and the Service → endpoint resolution of aggregation and webhooks."""

from __future__ import annotations

from typing import Any

import pytest

from virt_local.apiserver import errors
from virt_local.apiserver.pod_ips import PodAddresses
from virt_local.apiserver.sa_admission import MOUNT_PATH, admit_pod
from virt_local.apiserver.service_resolver import service_endpoint
from virt_local.pod_network import POD_IP_ANNOTATION, PodIpAllocator, pod_ip

SA: dict[str, Any] = {"metadata": {"name": "default", "namespace": "ns"}}


def _pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c"}], "initContainers": [{"name": "i"}], **spec}}


def test_token_volume_is_projected_and_mounted_in_every_container() -> None:
    out = admit_pod(_pod(), SA, suffix=lambda: "abcde")
    assert out["spec"]["serviceAccountName"] == "default"
    assert out["spec"]["volumes"] == [{"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]
    mount = {"name": "kube-api-access-abcde", "readOnly": True, "mountPath": MOUNT_PATH}
    assert out["spec"]["containers"][0]["volumeMounts"] == [mount]
    assert out["spec"]["initContainers"][0]["volumeMounts"] == [mount]


@pytest.mark.parametrize(("pod", "sa"), [
    (_pod(automountServiceAccountToken=False), SA),
    (_pod(), {**SA, "automountServiceAccountToken": False}),
    ({"metadata": {"name": "p", "annotations": {"kubernetes.io/config.mirror": "x"}}, "spec": {}}, None),
], ids=["pod-opts-out", "sa-opts-out", "mirror-pod"])
def test_no_token_volume(pod: dict[str, Any], sa: dict[str, Any] | None) -> None:
    assert not admit_pod(pod, sa).get("spec", {}).get("volumes")


def test_pod_setting_wins_over_service_account() -> None:
    out = admit_pod(_pod(automountServiceAccountToken=True), {**SA, "automountServiceAccountToken": False})
    assert len(out["spec"]["volumes"]) == 1


def test_container_with_its_own_mount_there_is_left_alone() -> None:
    own = {"name": "mine", "mountPath": MOUNT_PATH}
    pod = _pod(containers=[{"name": "c", "volumeMounts": [own]}], initContainers=[])
    assert admit_pod(pod, SA)["spec"]["containers"][0]["volumeMounts"] == [own]


def test_missing_service_account_is_forbidden() -> None:
    with pytest.raises(errors.ApiError) as e:
        admit_pod(_pod(serviceAccountName="nope"), None)
    assert e.value.code == 403
    assert 'serviceaccount "nope" not found' in e.value.message


@pytest.mark.parametrize("spec", ["x", {"containers": "x"}, {"containers": [{"volumeMounts": 3}]},
                                  {"volumes": {"a": 1}}, {"serviceAccountName": 5}],
                         ids=["spec", "containers", "mounts", "volumes", "sa-name"])
def test_malformed_pods_pass_through_for_validation(spec: Any) -> None:
    pod = {"metadata": {"name": "p"}, "spec": spec}
    admit_pod(pod, SA)  # no exception: validation answers with 422 later


# ---- Pod IPs --------------------------------------------------------------------------------------
def test_allocator_skips_live_addresses_and_does_not_reuse_at_once() -> None:
    a = PodIpAllocator()
    first = a.allocate()
    a.use(first, "u1")
    second = a.allocate()
    assert (first, second) == ("127.1.0.1", "127.1.0.2")
    a.release(first, "u1")
    assert a.allocate() == "127.1.0.3"


def test_pod_addresses_assign_on_create_and_keep_on_update() -> None:
    pa = PodAddresses()
    pod: dict[str, Any] = {"metadata": {"name": "p", "annotations": {POD_IP_ANNOTATION: "127.9.9.9"}}, "spec": {}}
    pa.before_write(pod, None)
    ip = pod["metadata"]["annotations"][POD_IP_ANNOTATION]
    assert ip == "127.1.0.1" and pod_ip(pod) == ip
    update: dict[str, Any] = {"metadata": {"name": "p", "annotations": {POD_IP_ANNOTATION: "127.5.5.5", "x": "y"}}, "spec": {}}
    pa.before_write(update, pod)
    assert update["metadata"]["annotations"] == {POD_IP_ANNOTATION: ip, "x": "y"}
    host: dict[str, Any] = {"metadata": {"name": "h"}, "spec": {"hostNetwork": True}}
    pa.before_write(host, None)
    assert "annotations" not in host["metadata"] and pod_ip(host) == "127.0.0.1"


@pytest.mark.parametrize("value", ["", "10.0.0.1", "127.0.0.5", "bogus"])
def test_pod_ip_outside_the_pod_range_is_the_node_address(value: str) -> None:
    assert pod_ip({"metadata": {"annotations": {POD_IP_ANNOTATION: value}}}) == "127.0.0.1"


# ---- Service → endpoint -------------------------------------------------------------------------
SVC = {"spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}
EPS = {"subsets": [{"addresses": [{"ip": "127.1.0.2"}, {"ip": "127.1.0.1"}],
                    "notReadyAddresses": [{"ip": "127.1.0.3"}], "ports": [{"name": "https", "port": 8443}]}]}


def test_service_endpoint_round_robin_over_ready_addresses() -> None:
    assert [service_endpoint(SVC, EPS, 443, turn) for turn in range(3)] == [
        "127.1.0.1:8443", "127.1.0.2:8443", "127.1.0.1:8443"]


@pytest.mark.parametrize(("eps", "port"), [(None, 443), (EPS, 80), ({"subsets": [{"ports": [{"port": 1}]}]}, 443)],
                         ids=["no-endpoints", "unknown-port", "no-ready"])
def test_service_endpoint_none(eps: dict[str, Any] | None, port: int) -> None:
    assert service_endpoint(SVC, eps, port, 0) is None
