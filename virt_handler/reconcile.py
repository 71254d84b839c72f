"""The VMI sync loop's shell: observe the launcher, `plan`, send the command, write the status.

`VMIReconciler.reconcile(key)` is the one entry point the controller runner calls. It reads the
informer caches (VMIs labelled for this node, and migration targets), asks the launchers
(`launchers.Launchers`) what they see, and when the launcher does not answer, the launcher Pod
whether its compute container ended. `plan.plan` decides the actions and the status; the shell
sends the launcher command, then writes the status.

Writes: the VMI CRD has no status subresource, so the status is written with a JSON patch on the
main resource guarded by a `test` of the old status (optimistic concurrency, as upstream); a lost
race is retried after `CONFLICT_RETRY_SECONDS`.

Expected failures (a launcher that refuses a command or does not answer) raise `ReconcileError`:
the VMI gets a Warning Event and a `Synchronized=False` condition with the reason, and the runner
retries the key with its backoff.

Invariants: cached objects are never mutated; everything remembered about a VMI is one `VMIRecord`
in one dict keyed by uid, dropped once the VMI is final (or gone) and its launcher has no socket
left; a VMI that vanished from the API (or was replaced by one of the same name) with a live
domain still gets its graceful stop, driven from its record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from virt_client.api.conditions import set_condition
from virt_client.api.constants import CREATED_BY_LABEL, LAUNCHER_COMPUTE_CONTAINER, NODE_NAME_LABEL
from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.json_patch import is_test_failure
from virt_client.api.times import rfc3339
from virt_client.api.views.core import PodView
from virt_client.api.views.vmi import VirtualMachineInstanceView
from virt_client.clock import Clock
from virt_client.controller import DONE, RequeueAfter, Result
from virt_client.errors import ApiError, Conflict, Invalid, TransportError
from virt_client.events import EventRecorder
from virt_client.indexer import FrozenDict, thaw
from virt_client.informer import Informer
from virt_client.kube import patch_add, patch_replace, patch_test
from virt_client.kube_api import KubeApi
from virt_client.launcher_protocol import Command, LauncherError, LauncherUnreachable
from virt_client.reconcile import ReconcileError
from virt_client.resources import PODS, VMIS
from virt_handler.launchers import LauncherPending, Launchers
from virt_handler.metrics import SYNC_ERRORS, SYNC_SECONDS
from virt_handler.plan import Send, Snapshot, VMIRecord, plan
from virt_handler.plan import failure as why_failed
from virt_handler.status import Failure, LauncherState, Observation, Reason, VMIStatus, launcher_exit
from virt_handler.vmi_spec import grace_period

log = logging.getLogger(__name__)

#: how soon an unconfirmed unreachable launcher is looked at again
PENDING_RECHECK_SECONDS = 0.5
#: retry interval after a status write lost a race (a failed JSON-patch `test`)
CONFLICT_RETRY_SECONDS = 0.2
#: retry interval while stopping the domain of a VMI that is gone, when its launcher does not answer
GONE_RETRY_SECONDS = 5.0


class VMIReconciler:
    def __init__(self, *, node_name: str, client: KubeApi, informers: tuple[Informer, ...],
                 launchers: Launchers, events: EventRecorder, clock: Clock) -> None:
        self.node_name = node_name
        self.client = client
        self.informers = informers
        self.launchers = launchers
        self.events = events
        self.clock = clock
        self._records: dict[str, VMIRecord] = {}  # by VMI uid

    # -- reads --------------------------------------------------------------------------------

    def get(self, key: str) -> FrozenDict | None:
        """The freshest copy of a VMI: the cache, or our own last write while the cache lags behind it."""
        for informer in self.informers:
            vmi = informer.get(key)
            if vmi is not None:
                record = self._records.get(VirtualMachineInstanceView(vmi).uid)
                written = record.written if record is not None else None
                if written is not None and record is not None:
                    if VirtualMachineInstanceView(vmi).metadata.resource_version == written[0]:
                        return written[1]
                    self._records[record.uid] = replace(record, written=None)
                return vmi
        return None

    def key_for_uid(self, uid: str) -> str | None:
        record = self._records.get(uid)
        return record.key if record is not None else None

    def keys_waiting_for_launcher(self) -> list[str]:
        """VMIs still Scheduled: a launcher that just started may be theirs."""
        keys = {k for informer in self.informers for k in informer.store.keys()}
        return sorted(k for k in keys if (vmi := self.get(k)) is not None
                      and VirtualMachineInstanceView(vmi).phase is Phase.SCHEDULED)

    def is_mine(self, vmi: Mapping[str, object] | VirtualMachineInstanceView) -> bool:
        """The VMI runs on this node (not a migration target, not moved away)."""
        view = vmi if isinstance(vmi, VirtualMachineInstanceView) else VirtualMachineInstanceView(vmi)
        return view.labels.get(NODE_NAME_LABEL) == self.node_name and view.node_name in ("", self.node_name)

    # -- reconcile ----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result:
        cached = self.get(key)
        replaced = [r for r in self._records.values()
                    if r.key == key and (cached is None or r.uid != VirtualMachineInstanceView(cached).uid)]
        results = [await self._reconcile_gone(record) for record in replaced]
        if cached is not None:
            vmi = VirtualMachineInstanceView(cached)
            if self.is_mine(vmi):  # else a migration target, or moved away: nothing for this node yet
                results.append(await self._reconcile_present(key, vmi))
        delays = [r.seconds for r in results if isinstance(r, RequeueAfter)]
        return RequeueAfter(min(delays)) if delays else DONE

    async def _reconcile_present(self, key: str, vmi: VirtualMachineInstanceView) -> Result:
        record = self._records.get(vmi.uid) or VMIRecord(vmi.uid, key, grace_period(vmi.spec))
        record = self._records[vmi.uid] = replace(record, key=key, grace=grace_period(vmi.spec))
        if vmi.is_final and record.stop is None and not self.launchers.has_socket(vmi.uid):
            await self._drop(vmi.uid)
            return DONE
        try:
            return await self._sync(vmi, record)
        except ReconcileError as err:
            await self._report(key, err)
            raise

    async def _sync(self, vmi: VirtualMachineInstanceView, record: VMIRecord) -> Result:
        try:
            obs, pods = await self._observe(vmi)
        except LauncherPending:
            return RequeueAfter(PENDING_RECHECK_SECONDS)
        record = self._records[record.uid] = await self._launcher_facts(vmi, record, pods)
        now = self.clock.now()
        step = plan(Snapshot(vmi, record, obs, self.node_name), now)
        record = self._records[record.uid] = record.after(step.actions)
        after, failure = obs, None
        for action in step.actions:
            if not isinstance(action, Send):
                continue
            try:
                after = await self._command(record.uid, action.command, vmi, obs)
            except LauncherPending:
                return RequeueAfter(PENDING_RECHECK_SECONDS)
            except LauncherError as exc:
                SYNC_ERRORS.labels(exc.reason).inc()
                failure = Failure(exc.reason, f"{action.command} failed: {exc.message}")
                log.warning("VMI %s: %s failed: %s", record.key, action.command, exc)
        status, final = step.status, Snapshot(vmi, record, obs, self.node_name)
        if any(isinstance(a, Send) for a in step.actions):
            after = replace(after, sync_error=failure or after.sync_error)
            final = Snapshot(vmi, record, after, self.node_name)
            status = plan(final, now).status
        if status is not None:
            try:
                await self._write_status(record, vmi, status, why_failed(final))
            except (Conflict, Invalid) as exc:
                if isinstance(exc, Invalid) and not is_test_failure(
                        exc.status, exc.reason, ((c.reason, c.message) for c in exc.causes)):
                    raise
                log.debug("VMI %s changed while being written (%s); looking again", record.key, exc.message)
                return RequeueAfter(CONFLICT_RETRY_SECONDS)
        failure = failure or after.sync_error
        if failure is not None:
            raise ReconcileError(failure.reason, failure.message)
        return RequeueAfter(step.requeue_after) if step.requeue_after is not None else DONE

    async def _observe(self, vmi: VirtualMachineInstanceView) -> tuple[Observation, tuple[PodView, ...] | None]:
        """What the launcher says; when it does not answer, what its Pod says (the Pods, when listed).

        `LauncherPending` propagates while an unanswering launcher may still be starting or exiting
        cleanly, unless its Pod shows the launcher ended.
        """
        try:
            obs = await self.launchers.observe(vmi.uid)
        except LauncherPending:
            pods = await self._launcher_pods(vmi)
            exited = _exited(pods)
            if exited is None:
                raise
            return Observation(LauncherState.UNREACHABLE, None, exited), pods
        except LauncherUnreachable as exc:
            raise ReconcileError(Reason.LAUNCHER_UNRESPONSIVE,
                                 f"the launcher does not answer on its command socket: {exc}") from exc
        if obs.launcher in (LauncherState.ABSENT, LauncherState.UNREACHABLE) and obs.launcher_failure is None:
            pods = await self._launcher_pods(vmi)
            exited = _exited(pods)
            if exited is not None:
                return Observation(LauncherState.UNREACHABLE, obs.domain, exited), pods
            return obs, pods
        return obs, None

    async def _command(self, uid: str, cmd: Command, vmi: VirtualMachineInstanceView | None,
                       before: Observation) -> Observation:
        started = self.clock.monotonic()
        try:
            after = await self.launchers.command(uid, cmd, vmi.raw if vmi is not None else None)
        except LauncherUnreachable:
            SYNC_ERRORS.labels("LauncherUnreachable").inc()
            # it answered a moment ago: confirm through `observe` (which waits out a clean exit)
            return await self.launchers.observe(uid)
        finally:
            if cmd is Command.SYNC:
                SYNC_SECONDS.observe(max(0.0, self.clock.monotonic() - started))
        return replace(after, launcher_failure=before.launcher_failure)

    async def _reconcile_gone(self, record: VMIRecord) -> Result:
        """The VMI left the cache (deleted, relabelled or replaced): stop a domain it left behind."""
        try:
            obs = await self.launchers.observe(record.uid)
        except LauncherPending:
            return RequeueAfter(PENDING_RECHECK_SECONDS)
        except LauncherUnreachable as exc:
            log.info("VMI %s is gone; its launcher does not answer: %s", record.key, exc)
            return RequeueAfter(GONE_RETRY_SECONDS)
        step = plan(Snapshot(None, record, obs, self.node_name), self.clock.now())
        if not step.actions and step.requeue_after is None:
            await self._drop(record.uid)
            return DONE
        record = self._records[record.uid] = record.after(step.actions)
        for action in step.actions:
            if isinstance(action, Send):
                try:
                    await self._command(record.uid, action.command, None, obs)
                except (LauncherError, LauncherPending, LauncherUnreachable) as exc:
                    log.info("VMI %s is gone; stopping its domain: %s", record.key, exc)
        return RequeueAfter(step.requeue_after or PENDING_RECHECK_SECONDS)

    async def _drop(self, uid: str) -> None:
        self._records.pop(uid, None)
        await self.launchers.forget(uid)

    # -- the launcher Pod -----------------------------------------------------------------------

    async def _launcher_pods(self, vmi: VirtualMachineInstanceView) -> tuple[PodView, ...] | None:
        """The launcher Pods of the VMI (`kubevirt.io/created-by=<uid>`); None when they cannot be listed."""
        try:
            pods = await self.client.list(PODS, vmi.namespace, label_selector=f"{CREATED_BY_LABEL}={vmi.uid}")
        except (ApiError, TransportError) as exc:
            log.debug("VMI %s: cannot list its launcher Pod: %s", vmi.key, exc)
            return None
        return tuple(map(PodView, pods.get("items") or ()))

    async def _launcher_facts(self, vmi: VirtualMachineInstanceView, record: VMIRecord,
                              pods: tuple[PodView, ...] | None) -> VMIRecord:
        """The record with the compute container's image of the launcher Pod and its Pod IP.

        Looked up until known: once, or until the Pod has an IP when the VMI has networks to report.
        """
        wants_ip = bool(vmi.spec.networks) and not vmi.status.interfaces
        if record.pod_known or (vmi.status.launcher_container_image_version and not wants_ip):
            return record
        if pods is None:
            pods = await self._launcher_pods(vmi)
            if pods is None:
                return record
        image, pod_ip = "", record.pod_ip
        for pod in pods:
            for container in pod.spec.containers:
                if container.name == LAUNCHER_COMPUTE_CONTAINER:
                    image = container.image
            pod_ip = pod.status.pod_ip or ""
        # else look again: the Pod has no IP yet
        return replace(record, launcher_image=image, pod_ip=pod_ip, pod_known=not wants_ip or bool(pod_ip))

    # -- writes ---------------------------------------------------------------------------------

    async def _write_status(self, record: VMIRecord, vmi: VirtualMachineInstanceView, status: VMIStatus,
                            failed: Failure | None = None) -> None:
        has_status = "status" in vmi.raw and vmi.raw["status"] is not None
        old: VMIStatus | None = thaw(vmi.status.raw) if has_status else None
        ops = [patch_test("/status", old), patch_replace("/status", status)] if old is not None \
            else [patch_add("/status", status)]
        written = await self.client.patch(VMIS, vmi.name, ops, vmi.namespace, patch_type="json")
        current = self._records.get(record.uid, record)
        self._records[record.uid] = replace(current, written=(vmi.metadata.resource_version, FrozenDict(written)))
        old_phase = vmi.status.phase
        new_phase = status.get("phase", "")
        if new_phase != old_phase:
            reason = status.get("reason")
            log.info("VMI %s: phase %s -> %s%s", record.key, old_phase or "''", new_phase,
                     f" ({reason})" if reason and new_phase == Phase.FAILED else "")
            if new_phase == Phase.FAILED and reason:
                self._warn(vmi, str(reason), failed.message if failed is not None else f"the VMI failed: {reason}")

    def _warn(self, vmi: VirtualMachineInstanceView, reason: str, message: str) -> None:
        # cached list items carry no kind: name the involved object's kind explicitly
        involved = {"apiVersion": VMIS.api_version, "kind": VMIS.kind, "metadata": vmi.metadata.raw}
        self.events.warning(involved, reason, message)

    async def _report(self, key: str, err: ReconcileError) -> None:
        """A Warning Event on the VMI, and its Synchronized condition False with the reason (not once final)."""
        cached = self.get(key)
        if cached is None:
            return
        vmi = VirtualMachineInstanceView(cached)
        self._warn(vmi, err.reason, err.message)
        if vmi.is_final:
            return
        status = thaw(vmi.status.raw)
        conditions = set_condition(status.get("conditions") or [], Cond.SYNCHRONIZED, "False",
                                   rfc3339(self.clock.now()), err.reason, err.message)
        if conditions == status.get("conditions"):
            return
        record = self._records.get(vmi.uid)
        if record is None:
            return
        try:
            await self._write_status(record, vmi, {**status, "conditions": conditions})
        except (Conflict, Invalid) as exc:
            log.debug("VMI %s: the Synchronized condition was not written: %s", key, exc.message)


def _exited(pods: tuple[PodView, ...] | None) -> Failure | None:
    """Why the launcher ended, when every launcher Pod of the VMI shows it did (None when unknown)."""
    if not pods:
        return None
    failures = [launcher_exit(pod) for pod in pods]
    return failures[0] if all(failures) else None
