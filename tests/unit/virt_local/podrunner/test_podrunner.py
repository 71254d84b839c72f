"""Pure parts of the pod runner: image map, environment and expansion, Pod status and phase,
volume mounts; and the local image store on a temporary directory."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import pytest

from virt_local.errors import VolumeError
from virt_local.images import ImageStore, normalize
from virt_local.podrunner.env import EnvInputs, container_env, expand
from virt_local.podrunner.imagemap import ImageMap, container_argv, parse_entry
from virt_local.podrunner.status import ContainerRecord, Reason, State, phase, pod_status
from virt_local.podrunner.volumes import PreparedVolume, container_mounts


@pytest.mark.parametrize("image,found", [
    ("kubevirt-py/virt-launcher:v0.1.0", ("virt-launcher",)), ("kubevirt-py/virt-handler:latest", ("virt-handler",)),
    ("test/sleeper", ("sleep", "infinity")), ("test/sleeper:v2", ("sleep", "infinity")), ("quay.io/x/y:1", None),
], ids=["launcher", "handler", "mapped-untagged", "mapped-any-tag", "unknown"])
def test_image_map(image: str, found: tuple[str, ...] | None) -> None:
    m = ImageMap.default((parse_entry("test/sleeper=sleep infinity"),))
    entry = m.lookup(image)
    assert (entry.entrypoint if entry else None) == found


def test_image_map_entry_needs_a_command() -> None:
    with pytest.raises(ValueError, match="NAME=COMMAND"):
        parse_entry("test/sleeper=")


def test_command_replaces_entrypoint_and_args_follow() -> None:
    entry = parse_entry("x=run --flag")
    assert container_argv(entry, [], ["a"]) == ["run", "--flag", "a"]
    assert container_argv(entry, ["other"], ["b"]) == ["other", "b"]


@pytest.mark.parametrize("value,want", [
    ("$(A)-$(B)", "1-$(B)"), ("$$(A)", "$(A)"), ("plain", "plain"), ("$(A)$(A)", "11"),
], ids=["defined-and-undefined", "escaped", "plain", "twice"])
def test_expand(value: str, want: str) -> None:
    assert expand(value, {"A": "1"}) == want


POD: dict[str, Any] = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "x"},
                                    "annotations": {"a": "b"}},
                       "spec": {"nodeName": "node-1"}}


def inputs(configmaps: dict[str, dict[str, str]] | None = None) -> EnvInputs:
    cms = configmaps or {}
    return EnvInputs(pod=POD, path="/bin", api_host="127.0.0.1", api_port=6443,
                     configmaps=lambda kind, name: cms.get(name), secrets=lambda kind, name: None)


def test_container_env_downward_api_config_and_order() -> None:
    c = {"envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
         "env": [{"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                 {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                 {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                 {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                 {"name": "KEY", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
                 {"name": "COMBINED", "value": "$(NAME).$(NS)"}, {"name": "NS", "value": "late"}],
         "resources": {"limits": {"memory": "64Mi"}}}
    env = container_env(inputs({"cm": {"k": "v"}}), c, {})
    assert {k: env[k] for k in ("NAME", "UID", "APP", "NODE", "IP", "MEM", "KEY", "CM_k", "COMBINED")} == {
        "NAME": "p", "UID": "u-1", "APP": "x", "NODE": "node-1", "IP": "127.0.0.1", "MEM": "64", "KEY": "v",
        "CM_k": "v", "COMBINED": "p.$(NS)"}
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"


def test_missing_configmap_is_a_config_error_unless_optional() -> None:
    c = {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]}
    with pytest.raises(VolumeError) as e:
        container_env(inputs(), c, {})
    assert e.value.reason == "CreateContainerConfigError"
    c["env"][0]["valueFrom"]["configMapKeyRef"]["optional"] = True
    assert "X" not in container_env(inputs(), c, {})


def rec(state: State, code: int | None = None, *, restarted: bool = False) -> ContainerRecord:
    r = ContainerRecord("c", "img", state=state, exit_code=code)
    if restarted:
        r.last_terminated = {"exitCode": 1}
    return r


@pytest.mark.parametrize("records,policy,want", [
    ([rec(State.WAITING)], "Always", "Pending"),
    ([rec(State.RUNNING)], "Never", "Running"),
    ([rec(State.TERMINATED, 0)], "Never", "Succeeded"),
    ([rec(State.TERMINATED, 1)], "Never", "Failed"),
    ([rec(State.TERMINATED, 1)], "OnFailure", "Running"),
    ([rec(State.TERMINATED, 0)], "Always", "Running"),
    ([rec(State.WAITING, restarted=True)], "Always", "Running"),
    ([rec(State.RUNNING), rec(State.TERMINATED, 0)], "Never", "Running"),
], ids=["waiting", "running", "succeeded", "failed", "on-failure-restarts", "always-restarts", "crash-loop",
        "one-running"])
def test_phase(records: list[ContainerRecord], policy: str, want: str) -> None:
    assert phase(records, policy) == want


def test_pod_status_running_and_ready() -> None:
    r = ContainerRecord("c", "img", state=State.RUNNING, started_at="2024-01-01T00:00:00Z", pid=42)
    pod = {**POD, "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}
    status = pod_status(pod, [r], start_time="t", sandbox_ready=True, transitions={})
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert status["phase"] == "Running" and status["podIP"] == "127.0.0.1"
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                     "ContainersReady": "True", "PodScheduled": "True"}
    cs = status["containerStatuses"][0]
    assert cs["ready"] and cs["containerID"] == "virt-local://42" and cs["state"] == {
        "running": {"startedAt": "2024-01-01T00:00:00Z"}}


def test_pod_status_err_image_pull() -> None:
    r = ContainerRecord("c", "bad", reason=Reason.ERR_IMAGE_PULL, message="nope")
    status = pod_status(POD, [r], start_time="t", sandbox_ready=False, transitions={})
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ErrImagePull", "message": "nope"}}


def test_container_mounts_sub_path_read_only_and_order(tmp_path: Path) -> None:
    vols = {"a": PreparedVolume(tmp_path / "a"), "img": PreparedVolume(tmp_path / "img", read_only=True)}
    c = {"name": "c", "volumeMounts": [{"name": "img", "mountPath": "/x/y/z"}, {"name": "a", "mountPath": "/x",
                                                                                 "subPath": "sub"}]}
    mounts = container_mounts(c, vols)
    assert [(m.target, m.read_only) for m in mounts] == [("/x", False), ("/x/y/z", True)]
    assert mounts[0].source == str(tmp_path / "a" / "sub") and (tmp_path / "a" / "sub").is_dir()
    with pytest.raises(VolumeError, match="names no volume"):
        container_mounts({"name": "c", "volumeMounts": [{"name": "missing", "mountPath": "/m"}]}, vols)


@pytest.mark.parametrize("ref,want", [
    ("disk", "disk:latest"), ("docker.io/library/disk:1", "disk:1"), ("registry:5000/a/b", "registry:5000/a/b:latest"),
    ("localhost/x:2", "x:2"),
], ids=["untagged", "docker-hub", "registry-port", "localhost"])
def test_normalize(ref: str, want: str) -> None:
    assert normalize(ref) == want


def test_image_store_import_list_resolve_unpack(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    disk = tmp_path / "d.qcow2"
    disk.write_bytes(b"QFI\xfb" + b"\0" * 100)
    image = store.import_file("example/disk:v1", disk)
    kernel = tmp_path / "kb" / "boot"
    kernel.mkdir(parents=True)
    (kernel / "vmlinuz").write_bytes(b"kernel")
    store.import_dir("example/kernel", tmp_path / "kb")
    assert [i.name for i in store.list()] == ["example/disk:v1", "example/kernel:latest"]
    assert store.resolve("docker.io/example/disk:v1") == image
    assert store.resolve(f"example/disk@{image.digest}") == image
    assert store.resolve("example/other") is None
    root = store.unpacked(image)
    assert (root / "disk" / "d.qcow2").read_bytes() == disk.read_bytes()
    assert store.unpacked(image) == root
    with tarfile.open(store.blob(image.layers[0])) as tar:
        member = tar.getmember("disk/d.qcow2")
    assert (member.uid, member.gid) == (107, 107)
    # Re-importing a name replaces it.
    store.import_file("example/disk:v1", disk)
    assert len(store.list()) == 2
