"""The VMI sync loop's shell: observe the launcher, `plan`, send the command, write the status.

`VMIReconciler.reconcile(key)` is the one entry point the controller runner calls. It reads the
informer caches (VMIs labelled for this node, and migration targets), asks `LauncherRegistry` what
the launcher sees, lets `plan.plan` decide the command, performs it, computes the status with
`status.compute_status` and writes it when it changed.

Writes: the VMI CRD has no status subresource, so the status is written with a JSON patch on the
main resource guarded by a `test` of the old status (optimistic concurrency, as upstream); a lost
race raises `Conflict` and the key is retried.

Invariants: cached objects are never mutated; graceful-stop bookkeeping lives only here (per uid) and
is dropped once the VMI is final or gone; a VMI that vanished with a live domain still gets its
graceful stop, driven from the last uid and grace period seen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from virt_client.api.constants import CREATED_BY_LABEL, LAUNCHER_COMPUTE_CONTAINER, NODE_NAME_LABEL
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.json_patch import is_test_failure
from virt_client.api.objects import is_final
from virt_client.api.times import rfc3339
from virt_client.api.views import PodView, VirtualMachineInstanceView
from virt_client.clock import Clock
from virt_client.controller import DONE, RequeueAfter, Result
from virt_client.errors import ApiError, Conflict, Invalid, TransportError
from virt_client.indexer import FrozenDict, thaw
from virt_client.informer import Informer
from virt_client.kube import KubeClient, patch_add, patch_replace, patch_test
from virt_client.launcher_protocol import Command, LauncherError, LauncherUnreachable
from virt_client.resources import PODS, VMIS
from virt_handler.launchers import LauncherPending, LauncherRegistry
from virt_handler.metrics import SYNC_ERRORS, SYNC_SECONDS
from virt_handler.plan import ShutdownState, plan
from virt_handler.status import Failure, Observation, compute_status
from virt_handler.vmi_spec import grace_period

log = logging.getLogger(__name__)

#: how soon an unconfirmed unreachable launcher is looked at again
PENDING_RECHECK_SECONDS = 0.5
#: retry interval after a status write lost a race (a failed JSON-patch `test`)
CONFLICT_RETRY_SECONDS = 0.2
#: retry interval after a failed sync (the Synchronized condition says why)
SYNC_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class _Tracked:
    uid: str
    grace: int


def _resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def now_rfc3339(clock: Clock) -> str:
    return rfc3339(clock.now())


class VMIReconciler:
    def __init__(self, *, node_name: str, client: KubeClient, informers: tuple[Informer, ...],
                 launchers: LauncherRegistry, clock: Clock) -> None:
        self.node_name = node_name
        self.client = client
        self.informers = informers
        self.launchers = launchers
        self.clock = clock
        self._tracked: dict[str, _Tracked] = {}
        self._uid_keys: dict[str, str] = {}
        self._shutdowns: dict[str, ShutdownState] = {}
        self._killed_after_grace: set[str] = set()
        self._images: dict[str, str] = {}
        self._pod_ips: dict[str, str] = {}
        # key → (resourceVersion we wrote over, the object our write returned): used until the cache catches up
        self._written: dict[str, tuple[str, FrozenDict]] = {}

    def get(self, key: str) -> FrozenDict | None:
        """The freshest copy of a VMI: the cache, or our own last write while the cache lags behind it."""
        for informer in self.informers:
            vmi = informer.get(key)
            if vmi is not None:
                written = self._written.get(key)
                if written is not None:
                    if _resource_version(vmi) == written[0]:
                        return written[1]
                    del self._written[key]
                return vmi
        self._written.pop(key, None)
        return None

    def key_for_uid(self, uid: str) -> str | None:
        return self._uid_keys.get(uid)

    def keys_waiting_for_launcher(self) -> list[str]:
        """VMIs still Scheduled: a launcher that just started may be theirs."""
        keys = {k for informer in self.informers for k in informer.store.keys()}
        return sorted(k for k in keys if (vmi := self.get(k)) is not None
                      and (vmi.get("status") or {}).get("phase") == Phase.SCHEDULED)

    def is_mine(self, vmi: Mapping[str, Any]) -> bool:
        view = VirtualMachineInstanceView(vmi)
        return view.labels.get(NODE_NAME_LABEL) == self.node_name and view.node_name in ("", self.node_name)

    async def reconcile(self, key: str) -> Result:
        vmi = self.get(key)
        if vmi is None:
            return await self._reconcile_gone(key)
        if not self.is_mine(vmi):
            return DONE  # a migration target, or moved away: nothing for this node yet
        meta = vmi.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        self._tracked[key] = _Tracked(uid, grace_period(vmi.get("spec") or {}))
        self._uid_keys[uid] = key
        if is_final(vmi) and uid not in self._shutdowns and not self.launchers.settings.launcher_socket(uid).exists():
            await self._drop(key, uid)
            return DONE
        try:
            obs = await self.launchers.observe(uid)
        except LauncherPending:
            return RequeueAfter(PENDING_RECHECK_SECONDS)
        step = plan(vmi, obs, self._shutdowns.get(uid), self.clock.monotonic())
        if step.start_shutdown is not None:
            self._shutdowns[uid] = step.start_shutdown
        if step.killed_after_grace:
            self._killed_after_grace.add(uid)
        sync_error: Failure | None = None
        if step.command is not None:
            try:
                obs = await self._command(uid, step.command, vmi, obs)
            except LauncherPending:
                return RequeueAfter(PENDING_RECHECK_SECONDS)
            except LauncherError as exc:
                SYNC_ERRORS.labels(exc.reason).inc()
                sync_error = Failure(exc.reason, f"{step.command} failed: {exc.message}")
                log.warning("VMI %s: %s failed: %s", key, step.command, exc)
        obs = replace(obs, sync_error=sync_error or obs.sync_error,
                      killed_after_grace=uid in self._killed_after_grace,
                      launcher_image=await self._launcher_image(vmi, uid), pod_ip=self._pod_ips.get(uid, ""))
        try:
            await self._write_status(key, vmi, compute_status(vmi, obs, node_name=self.node_name,
                                                              now=now_rfc3339(self.clock)))
        except (Conflict, Invalid) as exc:
            if isinstance(exc, Invalid) and not is_test_failure(
                    exc.status, exc.reason, ((c.reason, c.message) for c in exc.causes)):
                raise
            log.debug("VMI %s changed while being written (%s); looking again", key, exc.message)
            return RequeueAfter(CONFLICT_RETRY_SECONDS)
        if sync_error is not None:
            return RequeueAfter(SYNC_RETRY_SECONDS)
        return RequeueAfter(step.requeue_after) if step.requeue_after is not None else DONE

    async def _command(self, uid: str, cmd: Command, vmi: Mapping[str, Any], before: Observation) -> Observation:
        started = self.clock.monotonic()
        try:
            after = await self.launchers.command(uid, cmd, vmi)
        except LauncherUnreachable:
            SYNC_ERRORS.labels("LauncherUnreachable").inc()
            # it answered a moment ago: confirm through `observe` (which waits out a clean exit)
            return await self.launchers.observe(uid)
        finally:
            if cmd is Command.SYNC:
                SYNC_SECONDS.observe(max(0.0, self.clock.monotonic() - started))
        return replace(after, launcher_failure=before.launcher_failure)

    async def _reconcile_gone(self, key: str) -> Result:
        """The VMI left the cache (deleted, or relabelled): stop a domain it left behind."""
        tracked = self._tracked.get(key)
        if tracked is None:
            return DONE
        synthetic = {"metadata": {"uid": tracked.uid, "deletionTimestamp": "gone"},
                     "spec": {"terminationGracePeriodSeconds": tracked.grace}, "status": {"phase": "Running"}}
        try:
            obs = await self.launchers.observe(tracked.uid)
        except LauncherPending:
            return RequeueAfter(PENDING_RECHECK_SECONDS)
        step = plan(synthetic, obs, self._shutdowns.get(tracked.uid), self.clock.monotonic())
        if step.command is None and step.requeue_after is None:
            await self._drop(key, tracked.uid)
            return DONE
        if step.start_shutdown is not None:
            self._shutdowns[tracked.uid] = step.start_shutdown
        if step.command is not None:
            try:
                await self._command(tracked.uid, step.command, synthetic, obs)
            except (LauncherError, LauncherPending) as exc:
                log.info("VMI %s is gone; stopping its domain: %s", key, exc)
        return RequeueAfter(step.requeue_after or PENDING_RECHECK_SECONDS)

    async def _drop(self, key: str, uid: str) -> None:
        self._tracked.pop(key, None)
        self._written.pop(key, None)
        self._uid_keys.pop(uid, None)
        self._shutdowns.pop(uid, None)
        self._killed_after_grace.discard(uid)
        self._images.pop(uid, None)
        self._pod_ips.pop(uid, None)
        await self.launchers.forget(uid)

    async def _launcher_image(self, vmi: Mapping[str, Any], uid: str) -> str:
        """The compute container's image of the launcher Pod, and its Pod IP (looked up once per VMI)."""
        view = VirtualMachineInstanceView(vmi)
        wants_ip = bool(view.spec.networks) and not view.status.interfaces
        if uid in self._images or (view.status.launcher_container_image_version and not wants_ip):
            return self._images.get(uid, "")
        image = ""
        namespace = view.namespace
        try:
            pods = await self.client.list(PODS, namespace, label_selector=f"{CREATED_BY_LABEL}={uid}")
        except (ApiError, TransportError) as exc:
            log.debug("VMI %s: cannot list its launcher Pod: %s", uid, exc)
            return ""
        for pod in map(PodView, pods.get("items") or ()):
            for container in pod.spec.containers:
                if container.name == LAUNCHER_COMPUTE_CONTAINER:
                    image = container.image
            self._pod_ips[uid] = pod.status.pod_ip or ""
        if not wants_ip or self._pod_ips.get(uid):  # else look again: the Pod has no IP yet
            self._images[uid] = image
        return image

    async def _write_status(self, key: str, vmi: Mapping[str, Any], status: dict[str, Any]) -> None:
        old = vmi.get("status")
        old_plain = thaw(old) if old is not None else None
        if old_plain == status or (old_plain is None and not status):
            return
        meta = vmi.get("metadata") or {}
        ops = [patch_test("/status", old_plain), patch_replace("/status", status)] if old_plain is not None \
            else [patch_add("/status", status)]
        written = await self.client.patch(VMIS, str(meta.get("name")), ops, str(meta.get("namespace")),
                                          patch_type="json")
        self._written[key] = (_resource_version(vmi), FrozenDict(written))
        old_phase = (old_plain or {}).get("phase")
        if status.get("phase") != old_phase:
            log.info("VMI %s: phase %s -> %s%s", key, old_phase or "''", status.get("phase"),
                     f" ({status['reason']})" if status.get("reason") and status.get("phase") == "Failed" else "")
