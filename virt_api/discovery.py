"""Discovery documents of the aggregated group, exactly as upstream virt-api serves them (§1.2).

Pure data. Quirks kept on purpose: the APIGroup `name` is `subresource.kubevirt.io` (singular) while
its group versions say `subresources.kubevirt.io/...`, and the resource list carries names only
(namespaced, no verbs and no kind), which is what kubectl's discovery expects from virt-api.
"""

from __future__ import annotations

from virt_client.api.constants import SUBRESOURCE_GROUP

from .wire import JsonObject

VERSIONS = ("v1", "v1alpha3")
PREFERRED = "v1"
GROUP_PATH = f"/apis/{SUBRESOURCE_GROUP}"
PUBLIC_PATHS = frozenset(
    ["/", "/apis", "/healthz", "/metrics", GROUP_PATH, GROUP_PATH + "/"]
    + [f"{GROUP_PATH}/{v}{s}" for v in VERSIONS for s in ("", "/", "/version", "/healthz", "/guestfs")]
)
PUBLIC_PREFIXES = ("/openapi/",)

VMI_SUBRESOURCES = (
    "vnc", "vnc/screenshot", "console", "portforward", "backup", "redefine-checkpoint", "pause", "unpause",
    "freeze", "unfreeze", "reset", "softreboot", "guestosinfo", "userlist", "filesystemlist", "addvolume",
    "removevolume", "objectgraph", "sev/fetchcertchain", "sev/querylaunchmeasurement", "sev/setupsession",
    "sev/injectlaunchsecret", "evacuate/cancel",
)
VM_SUBRESOURCES = ("start", "stop", "restart", "migrate", "expand-spec", "objectgraph", "evacuate/cancel")


def is_public(path: str) -> bool:
    """Paths served without authentication (upstream's allow-list)."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def root_paths() -> JsonObject:
    paths = ["/apis", "/openapi/v2", GROUP_PATH] + [f"{GROUP_PATH}/{v}" for v in VERSIONS]
    return {"paths": paths}


def _group_version(version: str) -> dict[str, str]:
    return {"groupVersion": f"{SUBRESOURCE_GROUP}/{version}", "version": version}


def api_group() -> JsonObject:
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "subresource.kubevirt.io",
        "versions": [_group_version(v) for v in VERSIONS],
        "preferredVersion": _group_version(PREFERRED),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def api_group_list() -> JsonObject:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group()]}


def api_resource_list(version: str) -> JsonObject:
    names = ["expand-vm-spec"]
    names += [f"virtualmachineinstances/{s}" for s in VMI_SUBRESOURCES]
    names += [f"virtualmachines/{s}" for s in VM_SUBRESOURCES]
    resources = [{"name": n, "singularName": "", "namespaced": True, "kind": "", "verbs": None} for n in names]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{SUBRESOURCE_GROUP}/{version}",
            "resources": resources}


def version_info(git_version: str) -> dict[str, str]:
    import platform
    import sys

    return {"gitVersion": git_version, "gitCommit": "", "gitTreeState": "clean", "buildDate": "",
            "goVersion": f"python{sys.version.split()[0]}", "compiler": platform.python_implementation().lower(),
            "platform": f"{platform.system().lower()}/{platform.machine()}"}
