"""`manifests/virt-api.yaml`, rendered from code so it cannot drift from the routes and the roles.

Contents: ServiceAccount, RBAC (`rbac.py`), Deployment and Service `virt-api` in `kubevirt`, the
APIServices `v1.subresources.kubevirt.io` and `v1alpha3.subresources.kubevirt.io`, and the webhook
configurations `virt-api-mutator` / `virt-api-validator` with upstream's names, paths and rules.
`caBundle` fields are left empty; `virt-api certs apply` fills them (`with_ca_bundle` does the same
on the documents). Run `python -m virt_api.manifests > manifests/virt-api.yaml` to regenerate.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

import yaml

from virt_client.api.constants import INSTALL_NAMESPACE

from . import rbac
from .wire import JsonObject, JsonValue

NAMESPACE = INSTALL_NAMESPACE
SERVICE_ACCOUNT = "kubevirt-apiserver"
IMAGE = "kubevirt-py/virt-api:v0.1.0"
CERT_SECRET = "kubevirt-virt-api-certs"
HANDLER_CLIENT_SECRET = "kubevirt-virt-handler-certs"
VERSIONS = ("v1", "v1alpha3")


def _svc(path: str) -> JsonObject:
    return {"service": {"name": "virt-api", "namespace": NAMESPACE, "path": path, "port": 443}, "caBundle": ""}


def _webhook(name: str, path: str, resources: list[str], operations: list[str], *,
             groups: list[str] | None = None) -> JsonObject:
    return {"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
            "timeoutSeconds": 10, "clientConfig": _svc(path),
            "rules": [{"operations": operations, "apiGroups": groups or ["kubevirt.io"],
                       "apiVersions": list(VERSIONS), "resources": resources}]}


def webhook_configurations() -> list[JsonObject]:
    cu = ["CREATE", "UPDATE"]
    validating = [
        _webhook("virtualmachineinstances-create-validator.kubevirt.io", "/virtualmachineinstances-validate-create",
                 ["virtualmachineinstances"], ["CREATE"]),
        _webhook("virtualmachineinstances-update-validator.kubevirt.io", "/virtualmachineinstances-validate-update",
                 ["virtualmachineinstances"], ["UPDATE"]),
        _webhook("virtualmachine-validator.kubevirt.io", "/virtualmachines-validate", ["virtualmachines"], cu),
        _webhook("virtualmachinereplicaset-validator.kubevirt.io", "/virtualmachinereplicaset-validate",
                 ["virtualmachineinstancereplicasets"], cu),
        _webhook("migration-create-validator.kubevirt.io", "/migration-validate-create",
                 ["virtualmachineinstancemigrations"], ["CREATE"]),
        _webhook("migration-update-validator.kubevirt.io", "/migration-validate-update",
                 ["virtualmachineinstancemigrations"], ["UPDATE"]),
        _webhook("kubevirt-crd-status-validator.kubevirt.io", "/status-validate",
                 ["virtualmachines/status", "virtualmachineinstancereplicasets/status",
                  "virtualmachineinstancemigrations/status"], cu),
    ]
    mutating = [
        _webhook("virtualmachines-mutator.kubevirt.io", "/virtualmachines-mutate", ["virtualmachines"], cu),
        _webhook("virtualmachineinstances-mutator.kubevirt.io", "/virtualmachineinstances-mutate",
                 ["virtualmachineinstances"], cu),
        _webhook("migrations-mutator.kubevirt.io", "/migration-mutate-create",
                 ["virtualmachineinstancemigrations"], ["CREATE"]),
    ]
    labels = {"kubevirt.io": "virt-api-aggregator"}
    return [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "virt-api-mutator", "labels": labels}, "webhooks": mutating},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": "virt-api-validator", "labels": labels}, "webhooks": validating},
    ]


def api_services() -> list[JsonObject]:
    return [{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
             "metadata": {"name": f"{v}.subresources.kubevirt.io", "labels": {"kubevirt.io": "virt-api-aggregator"}},
             "spec": {"group": "subresources.kubevirt.io", "version": v, "groupPriorityMinimum": 1000,
                      "versionPriority": 15, "caBundle": "",
                      "service": {"name": "virt-api", "namespace": NAMESPACE, "port": 443}}} for v in VERSIONS]


def deployment() -> JsonObject:
    probe: JsonObject = {"httpGet": {"scheme": "HTTPS", "port": 8443, "path": "/apis/subresources.kubevirt.io/v1/healthz"},
             "initialDelaySeconds": 5, "periodSeconds": 10}
    args = ["--port", "8443", "--tls-cert", "/etc/virt-api/certificates/tls.crt",
            "--tls-key", "/etc/virt-api/certificates/tls.key",
            "--handler-client-cert", "/etc/virt-handler/clientcertificates/tls.crt",
            "--handler-client-key", "/etc/virt-handler/clientcertificates/tls.key",
            "--handler-ca", "/etc/virt-handler/clientcertificates/ca.crt", "--address", "$(POD_IP)"]
    mounts: list[JsonObject] = [{"name": "certs", "mountPath": "/etc/virt-api/certificates", "readOnly": True},
              {"name": "handler-certs", "mountPath": "/etc/virt-handler/clientcertificates", "readOnly": True}]
    labels = {"kubevirt.io": "virt-api"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "virt-api", "namespace": NAMESPACE, "labels": labels},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"serviceAccountName": SERVICE_ACCOUNT,
                                           "containers": [{"name": "virt-api", "image": IMAGE,
                                                           "command": ["virt-api"], "args": args,
                                                           "env": [{"name": "POD_IP", "valueFrom": {
                                                               "fieldRef": {"fieldPath": "status.podIP"}}}],
                                                           "ports": [{"name": "virt-api", "containerPort": 8443,
                                                                      "protocol": "TCP"}],
                                                           "readinessProbe": probe, "volumeMounts": mounts}],
                                           "volumes": [{"name": "certs", "secret": {"secretName": CERT_SECRET}},
                                                       {"name": "handler-certs",
                                                        "secret": {"secretName": HANDLER_CLIENT_SECRET}}]}}}}


def service() -> JsonObject:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "virt-api", "namespace": NAMESPACE, "labels": {"kubevirt.io": "virt-api"}},
            "spec": {"selector": {"kubevirt.io": "virt-api"},
                     "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}]}}


def documents() -> list[JsonObject]:
    """Every object of `manifests/virt-api.yaml`, in apply order."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE}},
        *rbac.cluster_roles(), rbac.virt_api_role(), *rbac.virt_api_bindings(NAMESPACE, SERVICE_ACCOUNT),
        service(), deployment(), *api_services(), *webhook_configurations(),
    ]


def _trusting(doc: JsonObject, bundle: str) -> JsonObject:
    spec, webhooks = doc.get("spec"), doc.get("webhooks")
    if doc.get("kind") == "APIService" and isinstance(spec, Mapping):
        return {**doc, "spec": {**spec, "caBundle": bundle}}
    if isinstance(webhooks, Sequence):
        return {**doc, "webhooks": [_webhook_trusting(wh, bundle) for wh in webhooks]}
    return doc


def _webhook_trusting(webhook: JsonValue, bundle: str) -> JsonValue:
    if not isinstance(webhook, Mapping) or not isinstance(client := webhook.get("clientConfig"), Mapping):
        return webhook
    return {**webhook, "clientConfig": {**client, "caBundle": bundle}}


def with_ca_bundle(docs: Sequence[JsonObject], ca_pem: bytes) -> list[JsonObject]:
    """A copy of `docs` whose APIServices and webhooks trust `ca_pem`."""
    bundle = base64.b64encode(ca_pem).decode()
    return [_trusting(doc, bundle) for doc in docs]


def render(docs: Sequence[JsonObject] | None = None) -> str:
    header = "# Generated by `python -m virt_api.manifests`; do not edit by hand.\n"
    return header + yaml.safe_dump_all(docs if docs is not None else documents(), sort_keys=False)


if __name__ == "__main__":
    print(render(), end="")
