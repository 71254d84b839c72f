"""One Pod on one node: from binding to deletion (the kubelet's pod worker).

Lifecycle: restore what an earlier run left in the Pod directory (records, and processes still alive,
which are adopted; what is left of containers that ended meanwhile is killed) → resolve images (unknown
→ `ErrImagePull`, retried every 10 s) → prepare volumes (failures retried with backoff, the reason in
the waiting message) → wait until no other Pod's processes hold one of its PersistentVolumeClaims
(`volume_users`) → one loop per container (start in the container's cgroup, wait for exit, kill what
is left in the cgroup, restart per `restartPolicy` with CrashLoopBackOff) → on `deletionTimestamp`:
SIGTERM to every container, SIGKILL to their cgroups when the grace period (`termination`) runs out,
the final status, then delete the Pod with `gracePeriodSeconds=0` → kill what is left in the Pod's
cgroup, remove it and the Pod directory once the Pod is gone.

A container's end is reported only once nothing of it runs any more, so whoever reacts to it (the
launcher's QEMU gone, a replacement started) never races the leftovers. Status writes are coalesced
and skipped when nothing changed, so a Pod that starts cleanly costs one write. Failures are Warning
events on the Pod (`pod_events`). `stop()` (virt-local shutting down) terminates the containers the
same way (grace capped by the shutdown grace period), posts their final status and leaves the Pod in
place; `kill_now()` ends the grace period at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virt_client.api.times import now_rfc3339
from virt_client.errors import ApiError, Conflict, NotFound, TransportError
from virt_client.events import EventRecorder
from virt_client.kube import KubeClient
from virt_client.resources import PODS

from ..errors import ImagePullError, VolumeError
from ..images import ImageStore
from . import pod_events, process
from .cgroups import Cgroup, CgroupRoot
from .containment import KILL_WAIT_SECONDS, PodContainment
from .env import EnvInputs, container_env, expand, secret_data
from .imagemap import OWN_IMAGES, ImageEntry, ImageMap, container_argv, hold_entry
from .pod_events import EventReason
from .status import ContainerRecord, Reason, State, pod_status
from .termination import DEFAULT_SHUTDOWN_GRACE_SECONDS, exit_reason, grace_period
from .volume_users import Use, VolumeUsers, claims
from .volumes import PreparedVolume, VolumeBackend, container_mounts, prepare_volume
from .warmstart import WarmStarter

log = logging.getLogger("virt_local.podrunner")

IMAGE_RETRY_SECONDS = 10.0
BACKOFF_RESET_SECONDS = 600.0


@dataclass(frozen=True)
class NodeContext:
    """Everything a worker needs from its node (one frozen object, shared by the node's workers)."""

    client: KubeClient
    backend: VolumeBackend
    node_name: str
    node_root: Path
    pods_dir: Path
    images: ImageStore
    image_map: ImageMap
    api_host: str = "127.0.0.1"
    api_port: int = 443
    allocatable: Mapping[str, str] = field(default_factory=dict)
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    volume_retry_max: float = 30.0
    #: forks containers of the project's own Python images from warm templates (None: always cold)
    warm: WarmStarter | None = None
    #: where Pod cgroups go (no directories: process groups only)
    cgroups: CgroupRoot = field(default_factory=lambda: CgroupRoot(Cgroup()))
    #: PersistentVolumeClaims held by Pods with processes, shared by every node of the process
    volume_users: VolumeUsers = field(default_factory=VolumeUsers)
    #: the node's Warning events (None: none written)
    events: EventRecorder | None = None
    #: the longest a Pod's containers are given when virt-local stops
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE_SECONDS


def _should_restart(policy: str, exit_code: int | None) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class PodWorker:
    def __init__(self, ctx: NodeContext, pod: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.pod: Mapping[str, Any] = pod
        md = pod["metadata"]
        self.uid = str(md["uid"])
        self.name = str(md["name"])
        self.namespace = str(md.get("namespace") or "default")
        self.dir = ctx.pods_dir / self.uid
        spec = pod.get("spec") or {}
        self.containers: list[Mapping[str, Any]] = list(spec.get("containers") or [])
        self.policy = str(spec.get("restartPolicy") or "Always")
        self.records = {c["name"]: ContainerRecord(c["name"], str(c.get("image") or "")) for c in self.containers}
        self.procs: dict[str, process.ContainerProcess] = {}
        self.entries: dict[str, ImageEntry] = {}
        self.volumes: dict[str, PreparedVolume] = {}
        self.transitions: dict[str, str] = {}
        self.start_time = now_rfc3339()
        self.containment = PodContainment(ctx.cgroups.pod(self.uid), self.dir, f"pod {self.namespace}/{self.name}")
        self.claims = claims(pod)
        self.sandbox_ready = False
        self.gone = False
        self.stopping = False
        self._holds_claims = False
        self._ended_unseen = False
        self._terminate = asyncio.Event()
        self._force = asyncio.Event()
        self._dirty = asyncio.Event()
        self._exited = asyncio.Event()
        self._last_status: dict[str, Any] | None = None
        self._status_task: asyncio.Task[None] | None = None

    # ---- inputs --------------------------------------------------------------------------------
    def update(self, pod: Mapping[str, Any] | None) -> None:
        """A newer version of the Pod, or None when it left the API."""
        if pod is None:
            self.gone = True
            self._terminate.set()
            return
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self._terminate.set()

    def stop(self) -> None:
        """virt-local is stopping: end the containers, report them, keep the Pod."""
        self.stopping = True
        self._terminate.set()

    def kill_now(self) -> None:
        """End the grace period now: whatever still runs is killed."""
        self._force.set()

    @property
    def terminating(self) -> bool:
        return self._terminate.is_set()

    def _grace(self) -> float:
        return grace_period(self.pod, gone=self.gone, stopping=self.stopping, shutdown_grace=self.ctx.shutdown_grace)

    def _warn(self, reason: EventReason, message: str) -> None:
        if self.ctx.events is not None:
            self.ctx.events.warning({"apiVersion": "v1", "kind": "Pod", "metadata": self.pod["metadata"]},
                                    reason, message)

    def has_processes(self) -> bool:
        """Whether this Pod still holds its claims: it started (or is about to start) containers, and
        not everything of them has ended."""
        return self._holds_claims

    # ---- persistence ---------------------------------------------------------------------------
    def _cdir(self, name: str) -> Path:
        return self.dir / "containers" / name

    async def _persist(self, rec: ContainerRecord) -> None:
        """Save the record (serialized here, written in a thread: the event loop serves the whole node)."""
        await asyncio.to_thread(self._write_state, rec.name, json.dumps(rec.to_json()))

    def _write_state(self, name: str, data: str) -> None:
        d = self._cdir(name)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / "state.json.tmp"
        tmp.write_text(data)
        tmp.replace(d / "state.json")

    def _restore(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        self.containment.restore()
        meta = self.dir / "pod.json"
        if meta.exists():
            saved = json.loads(meta.read_text())
            self.start_time = saved.get("startTime") or self.start_time
            self.transitions = dict(saved.get("transitions") or {})
        self._write_start_meta()
        for name, rec in list(self.records.items()):
            state_file = self._cdir(name) / "state.json"
            if not state_file.exists():
                continue
            saved_rec = ContainerRecord.from_json(json.loads(state_file.read_text()))
            saved_rec.image = rec.image
            proc = process.adopt(self._cdir(name) / "pid")
            if proc is not None and saved_rec.state == State.RUNNING:
                self.procs[name] = proc
                log.info("pod %s/%s: adopted container %s (pid %d)", self.namespace, self.name, name, proc.pid)
            elif saved_rec.state == State.RUNNING:
                saved_rec.state = State.TERMINATED
                saved_rec.reason = Reason.UNKNOWN
                saved_rec.exit_code = 137
                saved_rec.message = "the container's process ended while virt-local was not running"
                saved_rec.finished_at = now_rfc3339()
                self._ended_unseen = True
            self.records[name] = saved_rec

    def _write_start_meta(self) -> None:
        (self.dir / "pod.json").write_text(json.dumps({
            "node": self.ctx.node_name, "namespace": self.namespace, "name": self.name,
            "startTime": self.start_time, "transitions": self.transitions}))

    # ---- main ----------------------------------------------------------------------------------
    async def run(self) -> None:
        await asyncio.to_thread(self._restore)
        try:
            await self.containment.kill_leftovers(n for n in self.records if n not in self.procs)
            terminal = (self.pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            if not (terminal and not self.procs):
                async with asyncio.TaskGroup() as tg:
                    self._status_task = tg.create_task(self._status_loop())
                    if self._ended_unseen:
                        self._dirty.set()  # report the containers that ended while virt-local was down
                    if await self._setup():
                        for c in self.containers:
                            tg.create_task(self._container_loop(c))
                    await self._terminate.wait()
                    await self._terminate_containers()
                    self._status_task.cancel()
                await self.containment.end_pod()
                self._holds_claims = False
                if not self.gone:
                    self._write_start_meta()
                    await self._write_status()
        finally:
            self.ctx.volume_users.release(self.uid)
        if self.stopping:
            return
        await self._terminate.wait()
        if not self.gone:
            await self._delete_now()
        await asyncio.to_thread(shutil.rmtree, self.dir, True)

    async def _delete_now(self) -> None:
        try:
            await self.ctx.client.delete(PODS, self.name, self.namespace, grace_period_seconds=0, uid=self.uid)
            log.info("pod %s/%s: deleted", self.namespace, self.name)
        except (NotFound, Conflict):
            pass
        except (ApiError, TransportError) as e:
            log.warning("pod %s/%s: final deletion failed: %s", self.namespace, self.name, e)

    async def _wait_terminating(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if the Pod started terminating meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._terminate.wait()
        return self.terminating

    # ---- setup ---------------------------------------------------------------------------------
    def _resolve_images(self) -> list[str]:
        missing = []
        for c in self.containers:
            image = str(c.get("image") or "")
            entry = self.ctx.image_map.lookup(image)
            if entry is None and self.ctx.images.resolve(image) is not None:
                entry = hold_entry(image)
            if entry is None:
                missing.append(c["name"])
                rec = self.records[c["name"]]
                rec.reason = Reason.ERR_IMAGE_PULL
                rec.message = (f'failed to pull image "{image}": virt-local runs only the project\'s images '
                               f"({', '.join('kubevirt-py/' + i for i in OWN_IMAGES)}), images mapped with "
                               f"--image-map, and images imported with `virt-local images import`")
            else:
                self.entries[c["name"]] = entry
        return missing

    def _pull_failed(self, message: str) -> None:
        self._warn(EventReason.FAILED, pod_events.failed_pull(message))
        self._warn(EventReason.FAILED, pod_events.error(Reason.ERR_IMAGE_PULL))

    async def _setup(self) -> bool:
        while missing := self._resolve_images():
            self._dirty.set()
            for name in missing:
                self._pull_failed(self.records[name].message)
            log.info("pod %s/%s: unknown image: %s", self.namespace, self.name, self.records[missing[0]].message)
            if await self._wait_terminating(IMAGE_RETRY_SECONDS):
                return False
        delay = 1.0
        while True:
            volume = ""
            try:
                for vol in (self.pod.get("spec") or {}).get("volumes") or []:
                    volume = vol["name"]
                    self.volumes[volume] = await prepare_volume(
                        self.ctx.backend, self.pod, vol, self.dir, self.ctx.node_root, self.ctx.allocatable)
                self.sandbox_ready = True
                return await self._wait_for_claims()
            except (VolumeError, ImagePullError) as e:
                pull = isinstance(e, ImagePullError)
                message = str(e) if pull else pod_events.failed_mount(volume, str(e))
                for rec in self.records.values():
                    if rec.state == State.WAITING:
                        rec.reason = Reason.ERR_IMAGE_PULL if pull else Reason.CONTAINER_CREATING
                        rec.message = message
                if pull:
                    self._pull_failed(message)
                else:
                    self._warn(EventReason.FAILED_MOUNT, message)
                log.info("pod %s/%s: volumes not ready: %s", self.namespace, self.name, e)
                self._dirty.set()
            except (ApiError, TransportError) as e:
                log.warning("pod %s/%s: preparing volumes: %s", self.namespace, self.name, e)
            if await self._wait_terminating(delay):
                return False
            delay = min(delay * 2, self.ctx.volume_retry_max)

    async def _wait_for_claims(self) -> bool:
        """Wait until no other Pod's processes hold one of this Pod's claims, then hold them; False if the
        Pod started terminating meanwhile. Adopted containers already run: they hold their claims."""
        users = self.ctx.volume_users
        users.register(Use(self.uid, f"{self.namespace}/{self.name}", self.claims, self.has_processes))
        while not self.procs and (held := users.blockers(self.uid, self.claims)):
            shared = sorted(self.claims & held[0].claims)[0].split("/", 1)[1]
            message = (f'persistentvolumeclaim "{shared}" is still used by pod {held[0].pod}, whose processes '
                       f"have not ended yet; waiting for them")
            for rec in self.records.values():
                if rec.state == State.WAITING and rec.message != message:
                    rec.reason, rec.message = Reason.CONTAINER_CREATING, message
                    self._dirty.set()
                    log.info("pod %s/%s: %s", self.namespace, self.name, message)
            await users.wait_for_change()
            if self.terminating:
                return False
        # No await since the check: no other Pod can have taken the claims in between.
        self._holds_claims = True
        return True

    async def _env_inputs(self, c: Mapping[str, Any]) -> EnvInputs:
        wanted: set[tuple[str, str]] = set()
        for src in c.get("envFrom") or []:
            if src.get("configMapRef"):
                wanted.add(("configmap", src["configMapRef"].get("name", "")))
            if src.get("secretRef"):
                wanted.add(("secret", src["secretRef"].get("name", "")))
        for item in c.get("env") or []:
            vf = item.get("valueFrom") or {}
            if vf.get("configMapKeyRef"):
                wanted.add(("configmap", vf["configMapKeyRef"].get("name", "")))
            if vf.get("secretKeyRef"):
                wanted.add(("secret", vf["secretKeyRef"].get("name", "")))
        data: dict[tuple[str, str], Mapping[str, str] | None] = {}
        for kind, name in wanted:
            if kind == "configmap":
                cm = await self.ctx.backend.configmap(self.namespace, name)
                data[(kind, name)] = None if cm is None else dict(cm.get("data") or {})
            else:
                secret = await self.ctx.backend.secret(self.namespace, name)
                data[(kind, name)] = None if secret is None else secret_data(secret)

        def lookup(kind: str, name: str) -> Mapping[str, str] | None:
            return data.get((kind, name))
        entry = self.entries[c["name"]]
        return EnvInputs(pod=self.pod, path=entry.path, api_host=self.ctx.api_host, api_port=self.ctx.api_port,
                         configmaps=lookup, secrets=lookup)

    # ---- containers ----------------------------------------------------------------------------
    async def _spawn(self, c: Mapping[str, Any], env: dict[str, str]) -> process.ContainerProcess:
        name = c["name"]
        argv = [expand(str(a), env) for a in container_argv(self.entries[name], list(c.get("command") or []),
                                                               list(c.get("args") or []))]
        mounts = container_mounts(c, self.volumes)
        cdir = self._cdir(name)
        cdir.mkdir(parents=True, exist_ok=True)
        (cdir / "start-error").unlink(missing_ok=True)
        cg = await asyncio.to_thread(self.containment.make, self.pod, c)
        spec = {"mounts": [m.as_dict() for m in mounts], "argv": argv, "env": env,
                "cwd": c.get("workingDir") or "/", "startError": str(cdir / "start-error"),
                "keep": [*process.RUNTIME_DIRS, str(self.dir)],
                "cgroups": cg.procs_files() if cg.enabled else []}
        return await process.spawn(spec, cdir / "spec.json", self.dir / "logs" / f"{name}.log", cdir / "pid",
                                   self.ctx.warm)

    async def _start(self, c: Mapping[str, Any], rec: ContainerRecord) -> bool:
        try:
            env = container_env(await self._env_inputs(c), c, self.ctx.allocatable)
            proc = await self._spawn(c, env)
        except VolumeError as e:
            if rec.message != str(e):
                self._warn(EventReason.FAILED, pod_events.error(str(e)))
            rec.state, rec.reason, rec.message = State.WAITING, e.reason, str(e)
            self._dirty.set()
            return False
        except (ApiError, TransportError) as e:
            log.warning("pod %s/%s: container %s: %s", self.namespace, self.name, c["name"], e)
            return False
        except OSError as e:
            message = f"failed to create the container's cgroup: {e}"
            if rec.message != message:
                self._warn(EventReason.FAILED, pod_events.error(message))
                log.warning("pod %s/%s: container %s: %s", self.namespace, self.name, c["name"], message)
            rec.state, rec.reason, rec.message = State.WAITING, Reason.CREATE_CONFIG_ERROR, message
            self._dirty.set()
            return False
        self.procs[rec.name] = proc
        rec.state, rec.reason, rec.message = State.RUNNING, "", ""
        rec.exit_code, rec.finished_at = None, None
        rec.started_at, rec.pid = now_rfc3339(), proc.pid
        await self._persist(rec)
        self._dirty.set()
        log.info("pod %s/%s: started container %s (pid %d)", self.namespace, self.name, rec.name, proc.pid)
        return True

    def _start_error(self, name: str) -> str | None:
        try:
            return (self._cdir(name) / "start-error").read_text()
        except FileNotFoundError:
            return None

    async def _record_exit(self, rec: ContainerRecord, code: int | None, oom_kills: int) -> None:
        start_error = await asyncio.to_thread(self._start_error, rec.name)
        rec.state, rec.finished_at = State.TERMINATED, now_rfc3339()
        if start_error is not None:
            rec.exit_code, rec.reason, rec.message = 128, Reason.START_ERROR, start_error
            self._warn(EventReason.FAILED, pod_events.error(start_error))
        elif code is None:
            rec.exit_code, rec.reason = 137, Reason.UNKNOWN
            rec.message = "the process was adopted after a restart of virt-local; its exit status is unknown"
            if oom_kills > 0:
                rec.reason, rec.message = Reason.OOM_KILLED, ""
        else:
            rec.exit_code, rec.message = code, ""
            rec.reason = exit_reason(code, oom_kills)
        await self._persist(rec)

    async def _container_loop(self, c: Mapping[str, Any]) -> None:
        rec = self.records[c["name"]]
        backoff = self.ctx.backoff_initial
        retry = 1.0
        loop = asyncio.get_running_loop()
        while True:
            if rec.state == State.TERMINATED:
                if self.terminating or not _should_restart(self.policy, rec.exit_code):
                    return
                rec.last_terminated = rec.terminated_dict()
                rec.state, rec.reason = State.WAITING, Reason.CRASH_LOOP
                rec.message = (f"back-off {int(backoff)}s restarting failed container={rec.name} "
                               f"pod={self.name}_{self.namespace}({self.uid})")
                self._warn(EventReason.BACK_OFF, pod_events.back_off(rec.name, self.name, self.namespace, self.uid))
                self._dirty.set()
                if await self._wait_terminating(backoff):
                    return
                backoff = min(backoff * 2, self.ctx.backoff_max)
                rec.restart_count += 1
            if rec.name not in self.procs:
                if self.terminating:
                    return
                if not await self._start(c, rec):
                    if await self._wait_terminating(retry):
                        return
                    retry = min(retry * 2, self.ctx.volume_retry_max)
                    continue
            started = loop.time()
            proc = self.procs[rec.name]
            code = await process.wait_for_exit(proc)
            oom_kills = await self.containment.end_container(rec.name, proc)
            del self.procs[rec.name]
            await self._record_exit(rec, code, oom_kills)
            self._exited.set()
            log.info("pod %s/%s: container %s exited (%s, code %s)", self.namespace, self.name, rec.name,
                     rec.reason, rec.exit_code)
            if not self.procs and not any(_should_restart(self.policy, r.exit_code) for r in self.records.values()):
                self._holds_claims = False  # the Pod is done: nothing of it runs, nothing will
                self.ctx.volume_users.notify()
            self._dirty.set()
            if loop.time() - started > BACKOFF_RESET_SECONDS:
                backoff = self.ctx.backoff_initial

    async def _terminate_containers(self) -> None:
        procs = dict(self.procs)
        if not procs:
            return
        grace = self._grace()
        log.info("pod %s/%s: stopping %d container(s), grace period %ss", self.namespace, self.name,
                 len(procs), grace)
        for proc in procs.values():
            process.send(proc, signal.SIGTERM)
        await self._wait_for_exits(grace, until_forced=True)
        for name, proc in procs.items():
            if name in self.procs:
                log.info("pod %s/%s: container %s did not stop in %ss: SIGKILL", self.namespace, self.name,
                         name, grace)
                await self.containment.kill_container(name, proc)
        await self._wait_for_exits(KILL_WAIT_SECONDS, until_forced=False)

    async def _wait_for_exits(self, seconds: float, *, until_forced: bool) -> None:  # noqa: ASYNC109
        """Wait until every container's main process ended, `seconds` passed or (`until_forced`)
        `kill_now()` was called."""
        async def all_exited() -> None:
            while self.procs:
                self._exited.clear()
                await self._exited.wait()
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(all_exited())]
        if until_forced:
            waits.append(asyncio.ensure_future(self._force.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    # ---- status --------------------------------------------------------------------------------
    def _status(self) -> dict[str, Any]:
        return pod_status(self.pod, [self.records[c["name"]] for c in self.containers], start_time=self.start_time,
                          sandbox_ready=self.sandbox_ready, transitions=self.transitions)

    async def _write_status(self) -> None:
        if self.gone:
            return
        status = self._status()
        if status == self._last_status:
            return
        try:
            await self.ctx.client.patch(PODS, self.name, {"status": status}, self.namespace, subresource="status")
            self._last_status = status
        except NotFound:
            self.gone = True
        except (ApiError, TransportError) as e:
            log.warning("pod %s/%s: status update failed: %s", self.namespace, self.name, e)
            self._dirty.set()
            await asyncio.sleep(1)

    async def _status_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.02)  # coalesce the changes of one moment into one write
            self._dirty.clear()
            await self._write_status()
