"""Fuzzing the REST surface of `virt-local apiserver`: client mistakes never get a 5xx, and every
error is a Kubernetes Status."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.apiserver import RunningApiServer, start_apiserver

PATHS = [
    "/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/configmaps/{name}",
    "/api/v1/namespaces/default/pods/{name}/status", "/api/v1/namespaces/default/pods/{name}/binding",
    "/api/v1/namespaces/default/pods/{name}/log", "/api/v1/namespaces/default/pods/{name}/eviction",
    "/api/v1/namespaces/{name}", "/api/v1/namespaces/{name}/finalize", "/api/v1/nodes/{name}",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "/apis/authentication.k8s.io/v1/tokenreviews",
    "/api/v1/namespaces/default/serviceaccounts/default/token", "/apis/{name}/v1/things",
    "/api/v1/namespaces/default/{name}", "/apis/coordination.k8s.io/v1/namespaces/default/leases/{name}",
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
    "/apis/apiregistration.k8s.io/v1/apiservices",
]
QUERY = st.dictionaries(
    st.sampled_from(["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch",
                     "timeoutSeconds", "dryRun", "fieldValidation", "propagationPolicy", "gracePeriodSeconds",
                     "container", "tailLines"]),
    st.one_of(st.text(max_size=12), st.sampled_from(["1", "0", "true", "All", "Strict", "x=y", "a in (b)"])),
    max_size=3)
JSONISH = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=8)),
                       lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c,
                                                                                    max_size=3)), max_leaves=8)
BODY = st.one_of(
    st.binary(max_size=64),
    JSONISH.map(orjson.dumps),
    st.fixed_dictionaries({"apiVersion": st.sampled_from(["v1", "x/v1", "apiextensions.k8s.io/v1"]),
                           "kind": st.sampled_from(["ConfigMap", "Pod", "CustomResourceDefinition", "Foo"]),
                           "metadata": st.one_of(JSONISH, st.fixed_dictionaries(
                               {"name": st.text(max_size=10)}, optional={"labels": JSONISH,
                                                                         "resourceVersion": st.text(max_size=4)})),
                           "spec": JSONISH, "data": JSONISH, "target": JSONISH, "deleteOptions": JSONISH,
                           "rules": JSONISH, "webhooks": JSONISH, "subjects": JSONISH,
                           "roleRef": JSONISH}).map(orjson.dumps),
)
CTYPES = st.sampled_from(["application/json", "application/yaml", "application/merge-patch+json",
                          "application/json-patch+json", "application/strategic-merge-patch+json",
                          "application/apply-patch+yaml", "application/vnd.kubernetes.protobuf", "text/plain", ""])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApiServer]:
    srv = start_apiserver(Path(tmp_path_factory.mktemp("fuzz")) / "api")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def http(server: RunningApiServer) -> Iterator[httpx.Client]:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    with httpx.Client(base_url=server.url, verify=ctx, timeout=10,
                      headers={"Authorization": f"Bearer {server.token}"}) as c:
        yield c


# Derandomized so that a CI run is reproducible; run with FUZZ_EXAMPLES=5000 (and without
# derandomization via --hypothesis-seed) to search wider.
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "600")), deadline=None,
          derandomize=os.environ.get("FUZZ_RANDOM") != "1",
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=st.sampled_from(PATHS),
       name=st.text(alphabet="abcXYZ019-._~%", min_size=1, max_size=10), query=QUERY, body=BODY, ctype=CTYPES)
def test_no_server_errors(http: httpx.Client, method: str, path: str, name: str, query: dict[str, str],
                          body: bytes, ctype: str) -> None:
    if query.get("watch") in ("1", "true") or query.get("follow"):
        query["timeoutSeconds"] = "1"
    headers = {"Content-Type": ctype} if ctype else {}
    resp = http.request(method, path.replace("{name}", name), params=query,
                        content=body if method in ("POST", "PUT", "PATCH", "DELETE") else None, headers=headers)
    assert resp.status_code < 500, (resp.status_code, resp.text[:500])
    if resp.status_code >= 400 and resp.headers.get("content-type", "").startswith("application/json"):
        status = resp.json()
        assert status.get("kind") == "Status" and status.get("code") == resp.status_code, status
