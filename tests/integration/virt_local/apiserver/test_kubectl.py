"""The real kubectl against `virt-local apiserver`: CRDs, custom resources, printer columns,
short names, watch, patches, delete --wait, scale, auth can-i, api-resources, explain."""

from __future__ import annotations

import json
import ssl
import subprocess

import httpx
import pytest

from tests.support.apiserver import RunningApiServer

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wdg], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Ready, type: string, jsonPath: ".status.conditions[?(@.type=='Ready')].status"}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [color]
            properties:
              color: {type: string, enum: [red, green, blue], description: The widget's color.}
              replicas: {type: integer, default: 1}
              size: {x-kubernetes-int-or-string: true}
          status:
            type: object
            properties:
              replicas: {type: integer}
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
"""

WIDGET = """
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  labels: {tier: front}
spec:
  color: red
"""


@pytest.fixture
def widgets(apiserver: RunningApiServer) -> RunningApiServer:
    apiserver.kubectl("apply", "-f", "-", input=CRD)
    apiserver.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s")
    return apiserver


def test_get_nodes_namespaces_and_api_resources(apiserver: RunningApiServer) -> None:
    out = apiserver.kubectl("get", "ns").stdout
    assert "default" in out and "kube-system" in out
    res = apiserver.kubectl("api-resources").stdout
    assert "pods" in res and "po" in res and "customresourcedefinitions" in res


def test_apply_crd_and_resources_idempotent(widgets: RunningApiServer) -> None:
    first = widgets.kubectl("apply", "-f", "-", input=WIDGET).stdout
    assert "widget.example.com/w1 created" in first
    second = widgets.kubectl("apply", "-f", "-", input=WIDGET).stdout
    assert "unchanged" in second
    changed = widgets.kubectl("apply", "-f", "-", input=WIDGET.replace("red", "blue")).stdout
    assert "configured" in changed
    obj = json.loads(widgets.kubectl("get", "wdg", "w1", "-o", "json").stdout)
    assert obj["spec"] == {"color": "blue", "replicas": 1}  # defaulted
    assert obj["metadata"]["generation"] == 2


def test_printer_columns_and_short_names(widgets: RunningApiServer) -> None:
    widgets.kubectl("apply", "-f", "-", input=WIDGET)
    widgets.kubectl("patch", "widget", "w1", "--subresource=status", "--type=merge",
                    "-p", '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}')
    out = widgets.kubectl("get", "wdg").stdout.splitlines()
    assert out[0].split() == ["NAME", "COLOR", "READY"]
    assert out[1].split() == ["w1", "red", "True"]
    assert "w1" in widgets.kubectl("get", "all").stdout


def test_schema_violation_is_422_with_field(widgets: RunningApiServer) -> None:
    res = widgets.kubectl("apply", "-f", "-", input=WIDGET.replace("red", "purple"), check=False)
    assert res.returncode != 0
    assert 'spec.color: Unsupported value: "purple"' in res.stderr
    res = widgets.kubectl("apply", "-f", "-", input=WIDGET.replace("color: red", "shade: red"), check=False)
    assert res.returncode != 0 and 'strict decoding error: unknown field "spec.shade"' in res.stderr
    res = widgets.kubectl("apply", "-f", "-", input=WIDGET.replace("color: red", "size: 3"), check=False)
    assert res.returncode != 0 and "spec.color: Required value" in res.stderr


def test_patch_merge_and_json(widgets: RunningApiServer) -> None:
    widgets.kubectl("apply", "-f", "-", input=WIDGET)
    widgets.kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"color":"green"}}')
    widgets.kubectl("patch", "widget", "w1", "--type=json", "-p",
                    '[{"op":"test","path":"/spec/color","value":"green"},'
                    '{"op":"replace","path":"/spec/color","value":"blue"}]')
    assert widgets.kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.color}").stdout == "blue"
    res = widgets.kubectl("patch", "widget", "w1", "--type=json", "-p",
                          '[{"op":"test","path":"/spec/color","value":"red"}]', check=False)
    assert res.returncode != 0
    assert widgets.kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.color}").stdout == "blue"


def test_watch_sees_update(widgets: RunningApiServer) -> None:
    widgets.kubectl("apply", "-f", "-", input=WIDGET)
    # The context manager closes the pipes and reaps kubectl after the terminate.
    with subprocess.Popen(["kubectl", "--kubeconfig", str(widgets.kubeconfig), "get", "widgets", "-w",
                           "--output-watch-events"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            header = proc.stdout.readline()
            assert header.split() == ["EVENT", "NAME", "COLOR", "READY"]
            first = proc.stdout.readline()
            assert first.split()[:3] == ["ADDED", "w1", "red"]
            widgets.kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"color":"green"}}')
            line = proc.stdout.readline()
            assert "MODIFIED" in line and "green" in line
        finally:
            proc.terminate()


def test_delete_wait_and_scale(widgets: RunningApiServer) -> None:
    widgets.kubectl("apply", "-f", "-", input=WIDGET)
    widgets.kubectl("scale", "widget", "w1", "--replicas=3")
    assert widgets.kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    widgets.kubectl("delete", "widget", "w1", "--wait=true", "--timeout=20s")
    res = widgets.kubectl("get", "widget", "w1", check=False)
    assert res.returncode != 0 and "NotFound" in res.stderr


def test_auth_can_i_and_service_account_token(apiserver: RunningApiServer) -> None:
    assert apiserver.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    apiserver.kubectl("create", "serviceaccount", "robot")
    token = apiserver.kubectl("create", "token", "robot").stdout.strip()
    as_robot = ["--token", token, "--kubeconfig", str(apiserver.kubeconfig)]
    res = subprocess.run(["kubectl", *as_robot, "get", "pods"], capture_output=True, text=True, timeout=30)
    assert res.returncode != 0 and "forbidden" in res.stderr
    assert 'User "system:serviceaccount:default:robot" cannot list resource "pods"' in res.stderr
    apiserver.kubectl("create", "rolebinding", "robot-view", "--clusterrole=view",
                      "--serviceaccount=default:robot")
    res = subprocess.run(["kubectl", *as_robot, "get", "pods"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert apiserver.kubectl("auth", "can-i", "list", "pods", "--as",
                             "system:serviceaccount:default:robot").stdout.strip() == "yes"
    assert apiserver.kubectl("auth", "can-i", "delete", "pods", "--as",
                             "system:serviceaccount:default:robot", check=False).stdout.strip() == "no"


def test_anonymous_and_bad_tokens_are_401(apiserver: RunningApiServer) -> None:
    res = subprocess.run(["kubectl", "--server", apiserver.url, "--certificate-authority", str(apiserver.ca_file),
                          "--token", "not-a-token", "get", "pods"], capture_output=True, text=True, timeout=30,
                         env={"HOME": str(apiserver.data_dir), "PATH": "/usr/bin:/bin"})
    assert res.returncode != 0 and "provide credentials" in res.stderr
    ctx = ssl.create_default_context(cafile=str(apiserver.ca_file))
    resp = httpx.get(apiserver.url + "/api/v1/pods", verify=ctx)
    assert resp.status_code == 401 and resp.json()["reason"] == "Unauthorized"


def test_explain_custom_resource(widgets: RunningApiServer) -> None:
    out = widgets.kubectl("explain", "widgets.spec.color").stdout
    assert "The widget's color." in out
