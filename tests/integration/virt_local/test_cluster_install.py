"""The cluster install of docs/operations.md, run by virt-local itself.

`virt-local up --no-kubevirt --nodes 2 --hypervisor test` starts only the Kubernetes side; then, as a
cluster admin would: `kubectl apply -k` of an overlay of `manifests/` that switches the hypervisor to
`test` (the documented patch of the `--hypervisor` argument), `hack/gen-certs.py generate` and `apply`.
virt-local's workload controllers and pod runners then run virt-api (2 replicas), virt-controller
(2 replicas, one leader) and one virt-handler per node from the Deployments and the DaemonSet; the
test waits for `kubectl rollout status`, the APIService Available, a VMI Running through that stack
(webhooks and aggregation reach virt-api through the Service's Endpoints), and a clean stop.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.virtlocal import VirtLocal, virt_local_up
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
NS = "kubevirt"
IMAGE = "kubevirt-py/tiny-guest-kernel:latest"
VMI = """
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: through-install}
spec:
  domain:
    firmware:
      kernelBoot:
        container: {image: kubevirt-py/tiny-guest-kernel:latest, kernelPath: /boot/vmlinuz, initrdPath: /boot/initrd.gz}
    resources: {requests: {memory: 64Mi}}
"""


def _overlay(directory: Path) -> Path:
    """docs/operations.md's "Hypervisor mode" patch, for the test driver."""
    directory.mkdir(parents=True)
    patch = "- {op: replace, path: /spec/template/spec/containers/0/args/5, value: test}"
    (directory / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n- {os.path.relpath(REPO / 'manifests', directory)}\n"
        "patches:\n"
        f"- target: {{kind: Deployment, name: virt-controller}}\n  patch: |-\n    {patch}\n"
        f"- target: {{kind: DaemonSet, name: virt-handler}}\n  patch: |-\n    {patch}\n")
    return directory


def _diagnose(vl: VirtLocal) -> str:
    """Pods, workloads and the last lines of every component's log, for a failure message."""
    out = [vl.kubectl("-n", NS, "get", "deploy,rs,ds,pods,endpoints", "-o", "wide", check=False).stdout,
           vl.kubectl("get", "apiservices", check=False).stdout]
    for pod in json.loads(vl.kubectl("-n", NS, "get", "pods", "-o", "json", check=False).stdout or '{"items":[]}')["items"]:
        name = pod["metadata"]["name"]
        out.append(f"--- {name}: {json.dumps(pod.get('status', {}).get('containerStatuses'))}")
        out.append(vl.kubectl("-n", NS, "logs", name, "--tail", "15", check=False).stdout)
    return "\n".join(out)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtLocal]:
    root = tmp_path_factory.mktemp("install")
    with virt_local_up(root / "d", "test", "--no-kubevirt", "--nodes", "2") as vl:
        image = root / "kernel-boot"
        (image / "boot").mkdir(parents=True)
        (image / "boot" / "vmlinuz").write_bytes(b"not a kernel: the test driver boots nothing\n")
        (image / "boot" / "initrd.gz").write_bytes(b"")
        vl.images_import(IMAGE, image, directory=True)
        vl.kubectl("apply", "-k", str(_overlay(root / "overlay")))
        certs = root / "kubevirt-certs"
        for step in (["generate"], ["apply", "--kubeconfig", str(vl.kubeconfig)]):
            res = subprocess.run([sys.executable, str(REPO / "hack" / "gen-certs.py"), *step, "--dir", str(certs)],
                                 capture_output=True, text=True, timeout=60)
            assert res.returncode == 0, f"gen-certs.py {step[0]}: {res.stdout}{res.stderr}"
        yield vl


def test_install_comes_up_and_runs_a_vmi(cluster: VirtLocal) -> None:
    res = cluster.kubectl("-n", NS, "rollout", "status", "deployment/virt-api", "deployment/virt-controller",
                          "daemonset/virt-handler", "--timeout=60s", check=False)
    assert res.returncode == 0, f"the install did not roll out: {res.stdout}{res.stderr}\n{_diagnose(cluster)}"

    pods = cluster.list("pods", "-n", NS)
    by_component: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        by_component.setdefault(pod["metadata"]["labels"]["kubevirt.io"], []).append(pod)
    assert {k: len(v) for k, v in by_component.items()} == {"virt-api": 2, "virt-controller": 2,
                                                            "virt-handler": 2}, _diagnose(cluster)
    assert sorted(p["spec"]["nodeName"] for p in by_component["virt-handler"]) == ["node-1", "node-2"]
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == len(ips), f"Pod IPs are not unique: {ips}"
    for pod in pods:
        assert pod["status"]["phase"] == "Running", _diagnose(cluster)

    # A virt-controller that loses its Lease under load exits on purpose and is restarted, so the
    # workloads may be briefly short of a replica after the rollout; they must come back.
    def workload_status(kind: str, name: str) -> dict[str, Any]:
        return dict(json.loads(cluster.kubectl("-n", NS, "get", kind, name, "-o", "json").stdout)["status"])

    def deployment_ready(name: str) -> dict[str, Any] | None:
        st = workload_status("deployment", name)
        return st if st.get("readyReplicas") == st.get("availableReplicas") == 2 else None

    for name in ("virt-api", "virt-controller"):
        try:
            status = wait_for(functools.partial(deployment_ready, name), timeout=60, message=f"deployment {name} ready")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{_diagnose(cluster)}") from None
        assert {c["type"]: c["status"] for c in status["conditions"]} == {"Available": "True", "Progressing": "True"}
    ds = workload_status("daemonset", "virt-handler")
    assert ds["desiredNumberScheduled"] == 2, ds
    wait_for(lambda: workload_status("daemonset", "virt-handler")["numberReady"] == 2, timeout=60, message="daemonset virt-handler ready")

    controllers = {p["metadata"]["name"] for p in by_component["virt-controller"]}
    try:
        holder = wait_for(lambda: cluster.kubectl(
            "-n", NS, "get", "lease", "virt-controller", "-o", "jsonpath={.spec.holderIdentity}", check=False).stdout, timeout=30, message="a virt-controller leader")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{_diagnose(cluster)}") from None
    assert holder in controllers

    wait_for(lambda: cluster.kubectl(
        "get", "apiservice", "v1.subresources.kubevirt.io", "-o",
        "jsonpath={.status.conditions[?(@.type=='Available')].status}").stdout == "True", timeout=30, message="APIService v1.subresources.kubevirt.io Available")

    cluster.kubectl("apply", "-f", "-", input=VMI)
    try:
        wait_for(lambda: cluster.phase("vmi", "through-install") == "Running", timeout=60, message="VMI through-install Running")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{_diagnose(cluster)}") from None
    vmi = cluster.get("vmi", "through-install")
    assert vmi is not None and vmi["status"]["nodeName"] in ("node-1", "node-2")
    cluster.kubectl("delete", "vmi", "through-install", "--wait=true", "--timeout=60s")
