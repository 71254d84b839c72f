"""The API resources the workload controllers read and write."""

from __future__ import annotations

from virt_client.resources import ResourceRef

DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", True, "Deployment")
REPLICASETS = ResourceRef("apps", "v1", "replicasets", True, "ReplicaSet")
DAEMONSETS = ResourceRef("apps", "v1", "daemonsets", True, "DaemonSet")
ENDPOINTS = ResourceRef("", "v1", "endpoints", True, "Endpoints")
APPS_V1 = "apps/v1"
