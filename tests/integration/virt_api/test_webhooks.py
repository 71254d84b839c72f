"""Admission webhooks registered on the embedded API server: kubectl apply sees virt-api's decisions."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.process import REPO as ROOT
from tests.support.virt_api import VirtApiStack, virt_api_stack, vm

BASE = "/apis/subresources.kubevirt.io/v1/namespaces/demo"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtApiStack]:
    with virt_api_stack(tmp_path_factory.mktemp("virtapi-webhooks"), webhooks=True) as s:
        yield s


def test_bad_vm_is_refused_naming_the_field(stack: VirtApiStack) -> None:
    bad = vm("bad1", run_strategy="Sometimes")
    res = stack.apply(bad, check=False)
    assert res.returncode != 0
    assert "spec.runStrategy" in res.stderr and "Invalid RunStrategy (Sometimes)" in res.stderr


def test_unsupported_feature_is_refused_not_dropped(stack: VirtApiStack) -> None:
    bad = vm("gpu1")
    bad["spec"]["template"]["spec"]["domain"]["devices"]["gpus"] = [{"name": "g", "deviceName": "nvidia/x"}]
    res = stack.apply(bad, check=False)
    assert res.returncode != 0 and "spec.template.spec.domain.devices.gpus" in res.stderr


def test_example_vm_is_admitted_and_defaulted(stack: VirtApiStack) -> None:
    stack.api.kubectl("apply", "-n", "demo", "-f", str(ROOT / "examples" / "vm-cirros.yaml"))
    items = stack.get_json("vm", "-n", "demo")["items"]
    assert items
    machine = items[0]["spec"]["template"]["spec"]["domain"]["machine"]["type"]
    assert machine == "q35"


def test_vmi_is_defaulted_and_its_spec_protected(stack: VirtApiStack) -> None:
    stack.api.kubectl("apply", "-n", "demo", "-f", str(ROOT / "examples" / "vmi-ephemeral.yaml"))
    vmi = stack.get_json("vmi", "-n", "demo")["items"][0]
    assert vmi["status"]["phase"] == "Pending"
    assert "kubevirt.io/foregroundDeleteVirtualMachine" in vmi["metadata"]["finalizers"]
    assert vmi["spec"]["domain"]["cpu"]["model"] == "host-model"
    name = vmi["metadata"]["name"]
    res = stack.api.kubectl("patch", "vmi", name, "-n", "demo", "--type", "merge", "-p",
                            '{"spec":{"terminationGracePeriodSeconds":7}}', check=False)
    assert res.returncode != 0 and "update of VMI object is restricted" in res.stderr


def test_migration_of_a_missing_vmi_is_refused(stack: VirtApiStack) -> None:
    vmim = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"name": "mig1", "namespace": "demo"}, "spec": {"vmiName": "ghost"}}
    res = stack.apply(vmim, check=False)
    assert res.returncode != 0 and 'the VMI "ghost" does not exist' in res.stderr


def _client(stack: VirtApiStack) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(stack.cert_dir / "ca.crt"))
    pki = stack.api.data_dir / "pki"
    ctx.load_cert_chain(str(pki / "front-proxy-client.crt"), str(pki / "front-proxy-client.key"))
    headers = {"X-Remote-User": "kubernetes-admin", "X-Remote-Group": "system:masters"}
    return httpx.Client(base_url=f"https://127.0.0.1:{stack.port}", verify=ctx, trust_env=False, headers=headers)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=10)
bodies = st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode()),
                   st.fixed_dictionaries({"dryRun": json_values, "gracePeriod": json_values,
                                          "paused": json_values}).map(lambda v: json.dumps(v).encode()))
reviews = st.fixed_dictionaries({"request": st.fixed_dictionaries(
    {"uid": st.text(max_size=5), "operation": st.sampled_from(["CREATE", "UPDATE", "DELETE", "X"]),
     "object": json_values, "oldObject": json_values,
     "userInfo": st.fixed_dictionaries({"username": st.text(max_size=8)})})})
PATHS = ["/virtualmachineinstances-mutate", "/virtualmachines-mutate", "/migration-mutate-create",
         "/virtualmachineinstances-validate-create", "/virtualmachineinstances-validate-update",
         "/virtualmachines-validate", "/virtualmachinereplicaset-validate", "/migration-validate-create",
         "/migration-validate-update", "/status-validate"]


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, action=st.sampled_from(["virtualmachines/fuzz1/start", "virtualmachines/fuzz1/stop",
                                            "virtualmachines/fuzz1/restart", "virtualmachines/fuzz1/migrate",
                                            "virtualmachineinstances/fuzz1/pause"]))
def test_fuzz_subresource_bodies_never_5xx(stack: VirtApiStack, body: bytes, action: str) -> None:
    with _client(stack) as client:
        resp = client.put(f"{BASE}/{action}", content=body)
    assert resp.status_code < 500, resp.text


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(review=st.one_of(reviews, json_values), path=st.sampled_from(PATHS))
def test_fuzz_admission_reviews_never_5xx(stack: VirtApiStack, review: object, path: str) -> None:
    with _client(stack) as client:
        resp = client.post(path, content=json.dumps(review).encode())
    assert resp.status_code < 500, resp.text


def test_examples_dir_exists() -> None:
    assert Path(ROOT / "examples").is_dir()
