"""The whole cluster install (`kubectl apply -k manifests/`) against the embedded API server.

What it proves: every object is accepted by an API server (admission, validation, RBAC escalation
checks on the roles), a second apply and a server-side dry run change nothing, each component's
ServiceAccount may do what its code calls and not more (`kubectl auth can-i --as`), and
`hack/gen-certs.py apply` publishes the Secrets the workloads mount and the caBundles.

Running the images is `virt-local up`'s business; this file checks acceptance and authorization.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.apiserver import RunningApiServer, start_apiserver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "manifests"
NS = "kubevirt"
USER_NS = "tenant-a"  # any namespace a VM may live in


def _sa(name: str) -> str:
    return f"system:serviceaccount:{NS}:{name}"


CONTROLLER, HANDLER, API = _sa("kubevirt-controller"), _sa("kubevirt-handler"), _sa("kubevirt-apiserver")

# (verb, resource[/name], subresource, namespace) the component's code performs; see
# hack/gen_manifests.py (controller, handler) and virt_api/rbac.py (virt-api) for where each comes from.
Check = tuple[str, str, str, str]
NEEDED: dict[str, list[Check]] = {
    CONTROLLER: [
        *[(v, "virtualmachines.kubevirt.io", "", USER_NS) for v in ("get", "list", "watch", "patch")],
        ("update", "virtualmachines.kubevirt.io", "status", USER_NS),
        *[(v, "virtualmachineinstances.kubevirt.io", "", USER_NS)
          for v in ("get", "list", "watch", "create", "update", "delete")],
        *[(v, "virtualmachineinstancereplicasets.kubevirt.io", "", USER_NS) for v in ("list", "watch")],
        ("update", "virtualmachineinstancereplicasets.kubevirt.io", "status", USER_NS),
        ("update", "virtualmachines.kubevirt.io", "finalizers", USER_NS),
        ("update", "virtualmachineinstances.kubevirt.io", "finalizers", USER_NS),
        ("update", "virtualmachineinstancereplicasets.kubevirt.io", "finalizers", USER_NS),
        *[(v, "virtualmachineinstancemigrations.kubevirt.io", "", USER_NS) for v in ("list", "watch")],
        *[(v, "datavolumes.cdi.kubevirt.io", "", USER_NS) for v in ("list", "watch")],
        *[(v, "persistentvolumeclaims", "", USER_NS) for v in ("list", "watch")],
        *[(v, "pods", "", USER_NS) for v in ("list", "watch", "create", "delete")],
        ("create", "events", "", USER_NS), ("patch", "events", "", USER_NS),
        ("create", "leases.coordination.k8s.io", "", NS),
        ("get", "leases.coordination.k8s.io/virt-controller", "", NS),
        ("update", "leases.coordination.k8s.io/virt-controller", "", NS),
    ],
    HANDLER: [
        *[(v, "virtualmachineinstances.kubevirt.io", "", USER_NS) for v in ("get", "list", "watch", "patch")],
        ("list", "pods", "", USER_NS),
        ("get", "nodes/node01", "", ""), ("patch", "nodes/node01", "", ""),
        ("patch", "nodes/node01", "status", ""),
        ("create", "events", "", USER_NS), ("patch", "events", "", USER_NS),
    ],
    API: [
        ("create", "subjectaccessreviews.authorization.k8s.io", "", ""),
        ("create", "tokenreviews.authentication.k8s.io", "", ""),  # system:auth-delegator
        ("get", "configmaps/extension-apiserver-authentication", "", "kube-system"),
        ("watch", "configmaps/extension-apiserver-authentication", "", "kube-system"),
        *[(v, "virtualmachines.kubevirt.io", "", USER_NS) for v in ("get", "patch")],
        ("patch", "virtualmachines.kubevirt.io", "status", USER_NS),
        *[(v, "virtualmachineinstances.kubevirt.io", "", USER_NS) for v in ("get", "patch")],
        *[(v, "virtualmachineinstancemigrations.kubevirt.io", "", USER_NS) for v in ("list", "create")],
        *[(v, "pods", "", USER_NS) for v in ("list", "delete")],
        ("list", "pods", "", NS),  # finding the virt-handler of a node
        ("get", "nodes/node01", "", ""),
    ],
}

FORBIDDEN: dict[str, list[Check]] = {
    CONTROLLER: [
        ("get", "secrets", "", USER_NS), ("get", "secrets", "", NS),
        ("patch", "nodes/node01", "", ""),
        ("delete", "virtualmachines.kubevirt.io", "", USER_NS),
        ("create", "virtualmachineinstancemigrations.kubevirt.io", "", USER_NS),
        ("create", "leases.coordination.k8s.io", "", USER_NS),
        ("update", "leases.coordination.k8s.io/kube-scheduler", "", NS),
        ("update", "pods", "", USER_NS),
        ("create", "clusterroles.rbac.authorization.k8s.io", "", ""),
    ],
    HANDLER: [
        ("create", "pods", "", USER_NS), ("delete", "pods", "", USER_NS),
        ("get", "secrets", "", NS),
        ("delete", "virtualmachineinstances.kubevirt.io", "", USER_NS),
        ("update", "virtualmachineinstances.kubevirt.io", "", USER_NS),
        ("get", "virtualmachines.kubevirt.io", "", USER_NS),
        ("delete", "nodes/node01", "", ""),
        ("create", "leases.coordination.k8s.io", "", NS),
    ],
    API: [
        ("get", "secrets", "", NS),
        ("get", "configmaps/kube-proxy", "", "kube-system"),
        ("create", "pods", "", USER_NS),
        ("delete", "virtualmachines.kubevirt.io", "", USER_NS),
        ("create", "virtualmachineinstances.kubevirt.io", "", USER_NS),
    ],
}


def _rendered_objects() -> list[tuple[str, str, str]]:
    out = subprocess.run(["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    return [(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
            for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApiServer]:
    srv = start_apiserver(tmp_path_factory.mktemp("install") / "apiserver")
    try:
        srv.kubectl("apply", "-k", str(MANIFESTS))
        srv.kubectl("create", "namespace", USER_NS)
        yield srv
    finally:
        srv.stop()


def test_every_object_is_accepted_and_stored(installed: RunningApiServer) -> None:
    objects = _rendered_objects()
    assert len(objects) > 30
    for kind, namespace, name in objects:
        args = ["get", kind, name, "-o", "name"] + (["-n", namespace] if namespace else [])
        res = installed.kubectl(*args, check=False)
        assert res.returncode == 0, f"{kind} {namespace}/{name} was not stored: {res.stderr}"


def test_reapplying_changes_nothing(installed: RunningApiServer) -> None:
    for extra in ((), ("--dry-run=server",)):
        res = installed.kubectl("apply", *extra, "-k", str(MANIFESTS))
        changed = [line for line in res.stdout.splitlines() if "unchanged" not in line]
        assert not changed, f"apply {' '.join(extra)} changed: {changed}"


def _can_i(srv: RunningApiServer, user: str, check: Check) -> bool:
    verb, resource, subresource, namespace = check
    args = ["auth", "can-i", verb, resource, "--as", user]
    args += ["--subresource", subresource] if subresource else []
    args += ["-n", namespace] if namespace else []
    res = srv.kubectl(*args, check=False)
    answer = res.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl {' '.join(args)}: {res.stdout}{res.stderr}"
    return answer == "yes"


def _ids(table: dict[str, list[Check]]) -> list[tuple[str, Check]]:
    return [(user, check) for user, checks in table.items() for check in checks]


def _id(case: tuple[str, Check]) -> str:
    user, (verb, resource, sub, ns) = case
    return f"{user.rsplit(':', 1)[1]}:{verb}:{resource}{'/' + sub if sub else ''}@{ns or 'cluster'}"


@pytest.mark.parametrize("case", _ids(NEEDED), ids=_id)
def test_service_account_may(installed: RunningApiServer, case: tuple[str, Check]) -> None:
    user, check = case
    assert _can_i(installed, user, check), f"{user} is missing {check}"


@pytest.mark.parametrize("case", _ids(FORBIDDEN), ids=_id)
def test_service_account_may_not(installed: RunningApiServer, case: tuple[str, Check]) -> None:
    user, check = case
    assert not _can_i(installed, user, check), f"{user} is granted more than it needs: {check}"


def test_gen_certs_publishes_what_the_workloads_mount(installed: RunningApiServer, tmp_path: Path) -> None:
    script = str(ROOT / "hack" / "gen-certs.py")
    certs = tmp_path / "certs"
    for args in (["generate", "--dir", str(certs)],
                 ["apply", "--dir", str(certs), "--kubeconfig", str(installed.kubeconfig)]):
        res = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
    mounted = set()
    for kind, name in (("deployment", "virt-api"), ("daemonset", "virt-handler")):
        spec = json.loads(installed.kubectl("get", kind, name, "-n", NS, "-o", "json").stdout)["spec"]
        mounted |= {v["secret"]["secretName"] for v in spec["template"]["spec"]["volumes"] if "secret" in v}
    assert mounted == {"kubevirt-virt-api-certs", "kubevirt-virt-handler-certs", "kubevirt-virt-handler-server-certs"}
    ca = (certs / "ca.crt").read_bytes()
    for secret in sorted(mounted):
        data = json.loads(installed.kubectl("get", "secret", secret, "-n", NS, "-o", "json").stdout)["data"]
        assert set(data) == {"tls.crt", "tls.key", "ca.crt"}, secret
        assert base64.b64decode(data["ca.crt"]) == ca, secret
    apiservice = json.loads(installed.kubectl("get", "apiservice", "v1.subresources.kubevirt.io", "-o", "json").stdout)
    assert base64.b64decode(apiservice["spec"]["caBundle"]) == ca
