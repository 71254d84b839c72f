"""virt-handler's VMI reconcile shell against the in-memory API (`FakeKube`) and a fake of the node's
launchers: what a user sees on the VMI (status, conditions, events) for a start, a refused sync, a
launcher that dies, a graceful stop that runs out of time, and a VMI deleted with its domain alive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from virt_client.clock import FakeClock
from virt_client.controller import DONE, RequeueAfter
from virt_client.events import EventRecorder
from virt_client.informer import EventHandler, Informer
from virt_client.kube_fake import FakeKube
from virt_client.launcher_protocol import Command, DomainState, LauncherError, LauncherUnreachable
from virt_client.reconcile import ReconcileError
from virt_client.resources import EVENTS, PODS, VMIS
from virt_handler.launchers import LauncherPending
from virt_handler.reconcile import VMIReconciler
from virt_handler.status import DomainStatus, LauncherState, Observation

NODE = "n1"
NS = "ns"
KEY = f"{NS}/v"

Answer = Observation | Exception


@dataclass
class FakeLaunchers:
    """The node's launchers as the reconciler sees them: what `observe` and each command answer."""

    observed: dict[str, Answer] = field(default_factory=dict)
    answers: dict[Command, Answer] = field(default_factory=dict)
    sockets: set[str] = field(default_factory=set)
    sent: list[tuple[str, Command]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    def has_socket(self, uid: str) -> bool:
        return uid in self.sockets

    async def observe(self, uid: str) -> Observation:
        answer = self.observed.get(uid, Observation(LauncherState.ABSENT))
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def command(self, uid: str, cmd: Command, vmi: Mapping[str, object] | None = None) -> Observation:
        self.sent.append((uid, cmd))
        answer = self.answers[cmd]
        if isinstance(answer, Exception):
            raise answer
        self.observed[uid] = answer
        return answer

    async def forget(self, uid: str) -> None:
        self.forgotten.append(uid)


def running(reason: str = "Booted") -> Observation:
    return Observation(LauncherState.DOMAIN, DomainStatus(DomainState.RUNNING, reason))


def shut_off(reason: str) -> Observation:
    return Observation(LauncherState.DOMAIN, DomainStatus(DomainState.SHUTOFF, reason))


@dataclass
class Node:
    kube: FakeKube
    clock: FakeClock
    launchers: FakeLaunchers
    events: EventRecorder
    informer: Informer
    reconciler: VMIReconciler
    changed: asyncio.Event

    def vmi(self) -> dict[str, Any]:
        stored = self.kube.stored(VMIS, "v", NS)
        assert stored is not None
        return stored

    async def wait_cached(self, check: Callable[[Mapping[str, Any] | None], bool], what: str) -> None:
        """Wait until the handler's cache satisfies `check` (the watch delivers asynchronously)."""
        try:
            async with asyncio.timeout(5.0):
                while not check(self.informer.get(KEY)):
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def warnings(self) -> list[tuple[str, str]]:
        await self.events.flush()
        return [(e["reason"], e["message"]) for e in self.kube.objects(EVENTS, NS)
                if e["type"] == "Warning" and e["involvedObject"]["name"] == "v"
                and e["involvedObject"]["kind"] == "VirtualMachineInstance" and e["source"]["component"] == "virt-handler"]


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    clock = FakeClock()
    kube = FakeKube(clock=clock)
    informer = Informer(kube, VMIS, label_selector=f"kubevirt.io/nodeName={NODE}")
    launchers = FakeLaunchers()
    events = EventRecorder(kube, component="virt-handler", host=NODE, clock=clock)
    reconciler = VMIReconciler(node_name=NODE, client=kube, informers=(informer,), launchers=launchers,
                               events=events, clock=clock)
    changed = asyncio.Event()
    informer.add_handler(EventHandler(on_add=lambda _: changed.set(), on_update=lambda _a, _b: changed.set(),
                                      on_delete=lambda _: changed.set()))
    task = asyncio.create_task(informer.run())
    try:
        assert await informer.wait_for_synced(5.0)
        yield Node(kube, clock, launchers, events, informer, reconciler, changed)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def seed_vmi(node: Node, phase: str = "Scheduled", *, deleting: bool = False, grace: int = 30) -> str:
    meta: dict[str, Any] = {"name": "v", "namespace": NS, "labels": {"kubevirt.io/nodeName": NODE}}
    if deleting:
        meta |= {"deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["kubevirt.io/virtualMachineControllerFinalize"]}
    stored = node.kube.seed(VMIS, {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": meta,
        "spec": {"terminationGracePeriodSeconds": grace, "domain": {"devices": {}}},
        "status": {"phase": phase, "nodeName": NODE}})
    await node.wait_cached(lambda v: v is not None, "the VMI reaches the cache")
    return str(stored["metadata"]["uid"])


def seed_launcher_pod(node: Node, uid: str, compute_state: dict[str, Any], phase: str = "Running") -> None:
    node.kube.seed(PODS, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "virt-launcher-v-x1", "namespace": NS, "labels": {"kubevirt.io/created-by": uid}},
        "spec": {"containers": [{"name": "compute", "image": "registry.local/virt-launcher:v1"}]},
        "status": {"phase": phase, "podIP": "10.0.0.9",
                   "containerStatuses": [{"name": "compute", "state": compute_state}]}})


def condition(vmi: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    return next((c for c in vmi["status"].get("conditions") or () if c["type"] == ctype), None)


async def test_a_scheduled_vmi_is_synced_and_reported_running(node: Node) -> None:
    uid = await seed_vmi(node)
    seed_launcher_pod(node, uid, {"running": {}})
    node.launchers.observed[uid] = Observation(LauncherState.READY)
    node.launchers.answers[Command.SYNC] = running()

    assert await node.reconciler.reconcile(KEY) is DONE

    assert node.launchers.sent == [(uid, Command.SYNC)]
    status = node.vmi()["status"]
    assert status["phase"] == "Running"
    assert [t["phase"] for t in status["phaseTransitionTimestamps"]] == ["Running"]
    assert status["launcherContainerImageVersion"] == "registry.local/virt-launcher:v1"
    assert condition(node.vmi(), "Ready")["status"] == "True"  # type: ignore[index]
    assert [(w.verb, w.patch_type) for w in node.kube.writes_of(ref=VMIS)] == [("patch", "json")]

    # nothing changed: the next look syncs again (idempotent) but writes nothing
    assert await node.reconciler.reconcile(KEY) is DONE
    assert len(node.kube.writes_of(ref=VMIS)) == 1
    assert await node.warnings() == []


async def test_a_refused_sync_is_a_warning_and_a_synchronized_condition(node: Node) -> None:
    uid = await seed_vmi(node)
    node.launchers.observed[uid] = Observation(LauncherState.READY)
    node.launchers.answers[Command.SYNC] = LauncherError("InvalidVMI", "architecture arm64 is not supported")

    with pytest.raises(ReconcileError) as raised:
        await node.reconciler.reconcile(KEY)

    assert raised.value.reason == "InvalidVMI"
    vmi = node.vmi()
    assert vmi["status"]["phase"] == "Scheduled"
    sync = condition(vmi, "Synchronized")
    assert sync is not None and (sync["status"], sync["reason"]) == ("False", "InvalidVMI")
    assert "arm64" in sync["message"]
    assert await node.warnings() == [("InvalidVMI", "sync failed: architecture arm64 is not supported")]

    # the launcher accepts it later: the condition goes away
    node.launchers.answers[Command.SYNC] = running()
    assert await node.reconciler.reconcile(KEY) is DONE
    assert condition(node.vmi(), "Synchronized") is None
    assert node.vmi()["status"]["phase"] == "Running"


async def test_a_launcher_that_does_not_answer_is_a_warning(node: Node) -> None:
    uid = await seed_vmi(node, "Running")
    node.launchers.observed[uid] = LauncherUnreachable("launcher of VMI: TimeoutError()")

    with pytest.raises(ReconcileError) as raised:
        await node.reconciler.reconcile(KEY)

    assert raised.value.reason == "LauncherUnresponsive"
    sync = condition(node.vmi(), "Synchronized")
    assert sync is not None and (sync["status"], sync["reason"]) == ("False", "LauncherUnresponsive")
    assert [reason for reason, _ in await node.warnings()] == ["LauncherUnresponsive"]
    assert node.vmi()["status"]["phase"] == "Running"


@pytest.mark.parametrize(("phase", "observed"), [
    ("Running", LauncherPending("u")),
    ("Scheduled", Observation(LauncherState.ABSENT)),
], ids=["socket-stopped-answering", "died-before-initializing"])
async def test_a_dead_launcher_fails_its_vmi_with_the_reason(node: Node, phase: str, observed: Answer) -> None:
    uid = await seed_vmi(node, phase)
    seed_launcher_pod(node, uid, {"terminated": {"exitCode": 137, "reason": "Error"}}, phase="Failed")
    node.launchers.observed[uid] = observed

    assert await node.reconciler.reconcile(KEY) is DONE

    status = node.vmi()["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "LauncherExited")
    assert condition(node.vmi(), "Ready")["status"] == "False"  # type: ignore[index]
    assert node.launchers.sent == []
    assert await node.warnings() == [("LauncherExited", "the launcher exited (Error, exit code 137)")]


@pytest.mark.parametrize(("phase", "observed", "requeue"), [
    ("Running", LauncherPending("u"), 0.5),
    ("Scheduled", Observation(LauncherState.ABSENT), 1.0),
], ids=["unconfirmed-unreachable", "not-initialized-yet"])
async def test_a_launcher_whose_pod_still_runs_is_waited_for(node: Node, phase: str, observed: Answer,
                                                             requeue: float) -> None:
    uid = await seed_vmi(node, phase)
    seed_launcher_pod(node, uid, {"running": {}})
    node.launchers.observed[uid] = observed

    assert await node.reconciler.reconcile(KEY) == RequeueAfter(requeue)

    assert node.vmi()["status"]["phase"] == phase
    assert node.kube.writes_of(ref=VMIS) == []


async def test_a_deleted_vmi_gets_acpi_then_is_killed_after_its_grace_period(node: Node) -> None:
    uid = await seed_vmi(node, "Running", deleting=True, grace=12)
    node.launchers.observed[uid] = running()
    node.launchers.answers[Command.SHUTDOWN] = running()
    node.launchers.answers[Command.KILL] = shut_off("Destroyed")

    assert await node.reconciler.reconcile(KEY) == RequeueAfter(5.0)
    assert node.launchers.sent == [(uid, Command.SHUTDOWN)]
    node.clock.advance(5.0)
    assert await node.reconciler.reconcile(KEY) == RequeueAfter(5.0)
    node.clock.advance(5.0)
    assert await node.reconciler.reconcile(KEY) == RequeueAfter(2.0)
    assert node.launchers.sent == [(uid, Command.SHUTDOWN)], "no second ACPI request within the grace period"
    node.clock.advance(2.0)
    await node.reconciler.reconcile(KEY)

    assert node.launchers.sent == [(uid, Command.SHUTDOWN), (uid, Command.KILL)]
    status = node.vmi()["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "DomainDestroyedAfterGracePeriod")
    assert [reason for reason, _ in await node.warnings()] == ["DomainDestroyedAfterGracePeriod"]


async def test_a_vmi_gone_with_a_live_domain_is_stopped_then_forgotten(node: Node) -> None:
    uid = await seed_vmi(node, "Running", grace=30)
    node.launchers.observed[uid] = running()
    node.launchers.answers[Command.SYNC] = running()
    node.launchers.answers[Command.SHUTDOWN] = running()
    assert await node.reconciler.reconcile(KEY) is DONE
    assert node.reconciler.key_for_uid(uid) == KEY

    await node.kube.delete(VMIS, "v", NS)
    await node.wait_cached(lambda v: v is None, "the deletion reaches the cache")

    assert await node.reconciler.reconcile(KEY) == RequeueAfter(5.0)
    assert node.launchers.sent[-1] == (uid, Command.SHUTDOWN)
    node.launchers.observed[uid] = shut_off("Shutdown")
    assert await node.reconciler.reconcile(KEY) is DONE
    assert node.launchers.forgotten == [uid]
    assert node.reconciler.key_for_uid(uid) is None
    assert node.launchers.sent.count((uid, Command.SHUTDOWN)) == 1


async def test_a_final_vmi_without_a_launcher_is_forgotten(node: Node) -> None:
    uid = await seed_vmi(node, "Succeeded")
    assert await node.reconciler.reconcile(KEY) is DONE
    assert node.launchers.forgotten == [uid]
    assert node.kube.writes_of(ref=VMIS) == []
