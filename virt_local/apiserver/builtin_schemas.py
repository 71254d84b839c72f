"""Shape schemas for the built-in kinds: the fields the server and its controllers read must have
the right JSON types, so a malformed object is refused with 422 when written instead of breaking
later requests. Everything else is preserved as sent (these are not full Kubernetes schemas).
"""

from __future__ import annotations

from typing import Any

S: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
B: dict[str, Any] = {"type": "boolean"}
STRS: dict[str, Any] = {"type": "array", "items": S}
STR_MAP: dict[str, Any] = {"type": "object", "additionalProperties": S}


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": props}


def arr(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


SELECTOR = obj(matchLabels=STR_MAP, matchExpressions=arr(obj(key=S, operator=S, values=STRS)))
CONDITIONS = arr(obj(type=S, status=S, reason=S, message=S))
RULE = obj(verbs=STRS, apiGroups=STRS, resources=STRS, resourceNames=STRS, nonResourceURLs=STRS)
ROLE = obj(rules=arr(RULE), aggregationRule=obj(clusterRoleSelectors=arr(SELECTOR)))
BINDING = obj(subjects=arr(obj(kind=S, name=S, namespace=S, apiGroup=S)),
              roleRef=obj(apiGroup=S, kind=S, name=S))
BINDING["required"] = ["roleRef"]
WEBHOOKS = obj(webhooks=arr(obj(
    name=S, failurePolicy=S, sideEffects=S, timeoutSeconds=INT, matchPolicy=S,
    admissionReviewVersions=STRS, namespaceSelector=SELECTOR, objectSelector=SELECTOR,
    clientConfig=obj(url=S, caBundle=S, service=obj(namespace=S, name=S, path=S, port=INT)),
    rules=arr(obj(operations=STRS, apiGroups=STRS, apiVersions=STRS, resources=STRS, scope=S)))))
CONTAINER = obj(name=S, image=S, command=STRS, args=STRS,
                env=arr(obj(name=S, value=S, valueFrom=obj())),
                volumeMounts=arr(obj(name=S, mountPath=S, readOnly=B, subPath=S)),
                resources=obj(requests=obj(), limits=obj()))

BUILTIN_SCHEMAS: dict[str, dict[str, Any]] = {
    "Pod": obj(spec=obj(containers=arr(CONTAINER), initContainers=arr(CONTAINER), nodeName=S,
                        nodeSelector=STR_MAP, schedulerName=S, serviceAccountName=S, restartPolicy=S,
                        terminationGracePeriodSeconds=INT, volumes=arr(obj(name=S)),
                        tolerations=arr(obj(key=S, operator=S, value=S, effect=S)), affinity=obj()),
               status=obj(phase=S, conditions=CONDITIONS, podIP=S, containerStatuses=arr(obj(name=S)))),
    "Namespace": obj(spec=obj(finalizers=STRS), status=obj(phase=S)),
    "Node": obj(spec=obj(unschedulable=B, taints=arr(obj(key=S, value=S, effect=S))),
                status=obj(conditions=CONDITIONS, capacity=obj(), allocatable=obj())),
    "ConfigMap": obj(data=STR_MAP, binaryData=STR_MAP, immutable=B),
    "Secret": obj(data=STR_MAP, stringData=STR_MAP, type=S, immutable=B),
    "Event": obj(involvedObject=obj(kind=S, name=S, namespace=S, uid=S), reason=S, message=S, type=S,
                 count=INT),
    "Lease": obj(spec=obj(holderIdentity=S, leaseDurationSeconds=INT, leaseTransitions=INT)),
    "Service": obj(spec=obj(selector=STR_MAP, ports=arr(obj(name=S, protocol=S)), type=S, clusterIP=S)),
    "ServiceAccount": obj(secrets=arr(obj()), automountServiceAccountToken=B),
    "PersistentVolumeClaim": obj(spec=obj(accessModes=STRS, storageClassName=S, volumeName=S, volumeMode=S,
                                          resources=obj(requests=obj())),
                                 status=obj(phase=S, capacity=obj())),
    "PersistentVolume": obj(spec=obj(capacity=obj(), claimRef=obj(name=S, namespace=S, uid=S),
                                     storageClassName=S, hostPath=obj(path=S)), status=obj(phase=S)),
    "StorageClass": obj(provisioner=S, volumeBindingMode=S, reclaimPolicy=S),
    "APIService": obj(spec=obj(group=S, version=S, caBundle=S, insecureSkipTLSVerify=B,
                               groupPriorityMinimum=INT, versionPriority=INT,
                               service=obj(namespace=S, name=S, port=INT)),
                      status=obj(conditions=CONDITIONS)),
    "MutatingWebhookConfiguration": WEBHOOKS,
    "ValidatingWebhookConfiguration": WEBHOOKS,
    "Role": ROLE,
    "ClusterRole": ROLE,
    "RoleBinding": BINDING,
    "ClusterRoleBinding": BINDING,
}
GENERIC: dict[str, Any] = obj(spec=obj(), status=obj())
