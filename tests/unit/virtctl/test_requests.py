"""Arguments → the request upstream virtctl sends: method, path and JSON body (options in the body)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from virtctl import main, migrate, pause, reset, restart, soft_reboot, start, stop
from virtctl.calls import Call
from virtctl.errors import CommandError

SUB = "/apis/subresources.kubevirt.io/v1/namespaces/demo"


def parse(*argv: str) -> argparse.Namespace:
    return main.build_parser().parse_args(list(argv))


CASES: list[tuple[str, Any, list[str], Call]] = [
    ("start", start, ["start", "vm1"], Call("PUT", f"{SUB}/virtualmachines/vm1/start", {})),
    ("start-paused", start, ["start", "vm1", "--paused"],
     Call("PUT", f"{SUB}/virtualmachines/vm1/start", {"paused": True})),
    ("start-dry-run", start, ["start", "--dry-run", "vm1"],
     Call("PUT", f"{SUB}/virtualmachines/vm1/start", {"dryRun": ["All"]})),
    ("stop", stop, ["stop", "vm1"], Call("PUT", f"{SUB}/virtualmachines/vm1/stop", {})),
    ("stop-force", stop, ["stop", "vm1", "--force", "--grace-period", "0"],
     Call("PUT", f"{SUB}/virtualmachines/vm1/stop", {"gracePeriod": 0})),
    ("stop-force-dry-run", stop, ["stop", "vm1", "--force", "--grace-period=0", "--dry-run"],
     Call("PUT", f"{SUB}/virtualmachines/vm1/stop", {"gracePeriod": 0, "dryRun": ["All"]})),
    ("restart", restart, ["restart", "vm1"], Call("PUT", f"{SUB}/virtualmachines/vm1/restart", {})),
    ("restart-force", restart, ["restart", "vm1", "--force", "--grace-period", "0"],
     Call("PUT", f"{SUB}/virtualmachines/vm1/restart", {"gracePeriodSeconds": 0})),
    ("migrate", migrate, ["migrate", "vm1"], Call("PUT", f"{SUB}/virtualmachines/vm1/migrate", {})),
    ("migrate-selector", migrate, ["migrate", "vm1", "--addedNodeSelector", "zone=a,disk=ssd"],
     Call("PUT", f"{SUB}/virtualmachines/vm1/migrate", {"addedNodeSelector": {"zone": "a", "disk": "ssd"}})),
    ("soft-reboot-no-body", soft_reboot, ["soft-reboot", "vmi1"],
     Call("PUT", f"{SUB}/virtualmachineinstances/vmi1/softreboot", None)),
    ("reset-no-body", reset, ["reset", "vmi1"], Call("PUT", f"{SUB}/virtualmachineinstances/vmi1/reset", None)),
]


@pytest.mark.parametrize(("module", "argv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_arguments_map_to_the_upstream_request(module: Any, argv: list[str], expected: Call) -> None:
    assert module.request(parse(*argv), "demo") == expected


@pytest.mark.parametrize(("action", "dry_run", "body"), [
    ("pause", False, {}), ("pause", True, {"dryRun": ["All"]}), ("unpause", False, {}),
], ids=["pause", "pause-dry-run", "unpause"])
def test_pause_and_unpause_put_options_on_the_vmi(action: str, dry_run: bool, body: dict[str, Any]) -> None:
    assert pause.request(action, "demo", "vmi1", dry_run) == Call(
        "PUT", f"{SUB}/virtualmachineinstances/vmi1/{action}", body)


@pytest.mark.parametrize("argv", [
    ["stop", "vm1", "--force"], ["stop", "vm1", "--grace-period", "0"], ["restart", "vm1", "--grace-period", "0"],
], ids=["force-without-grace", "grace-without-force", "restart-grace-without-force"])
def test_force_and_grace_period_go_together(argv: list[str]) -> None:
    module = stop if argv[0] == "stop" else restart
    with pytest.raises(CommandError, match=r"Must both use --force=true and set --grace-period\."):
        module.request(parse(*argv), "demo")


def test_names_are_path_escaped() -> None:
    assert start.request(parse("start", "a b"), "ns/x").path == (
        "/apis/subresources.kubevirt.io/v1/namespaces/ns%2Fx/virtualmachines/a%20b/start")


@pytest.mark.parametrize(("text", "error"), [("zone", "key=value"), ("=a", "key=value")], ids=["no-equals", "no-key"])
def test_bad_node_selector_is_refused(text: str, error: str) -> None:
    with pytest.raises(CommandError, match=error):
        migrate.parse_selector(text)


@pytest.mark.parametrize(("vm", "expected"), [
    ({"metadata": {"name": "vm1"}, "spec": {}}, "vm1"),
    ({"metadata": {"name": "vm1"}, "spec": {"template": {"metadata": {"name": "other"}}}}, "other"),
], ids=["vm-name", "template-name"])
def test_pause_vm_targets_the_vmi_it_creates(vm: dict[str, Any], expected: str) -> None:
    assert pause.vmi_name_of(vm) == expected


@pytest.mark.parametrize(("text", "kind"), [("VM", "vm"), ("virtualmachineinstances", "vmi"), ("vmi", "vmi")],
                         ids=["upper", "plural-long", "short"])
def test_pause_resource_kinds(text: str, kind: str) -> None:
    assert pause.resource_kind(text) == kind


def test_pause_unknown_kind() -> None:
    with pytest.raises(CommandError, match="unsupported resource type: pod"):
        pause.resource_kind("pod")


@pytest.mark.parametrize("argv", [
    ["start", "vm1"], ["stop", "vm1"], ["restart", "vm1"], ["migrate", "vm1"], ["migrate-cancel", "vm1"],
    ["pause", "vm", "x"], ["unpause", "vmi", "x"], ["soft-reboot", "x"], ["reset", "x"], ["console", "x"],
    ["vnc", "x"], ["guestosinfo", "x"], ["expose", "vm", "x", "--name", "s"], ["create", "vm"], ["version"],
], ids=lambda a: a[0] if a[0] != "create" else "create-vm")
def test_global_flags_are_accepted_after_the_command(argv: list[str]) -> None:
    args = parse(*argv, "-n", "other", "--context", "ctx", "--kubeconfig", "/k")
    assert (args.namespace, args.context, args.kubeconfig) == ("other", "ctx", "/k")
    before = parse("-n", "first", *argv)
    assert before.namespace == "first" and before.context is None


@pytest.mark.parametrize("command", ["start", "stop", "restart", "migrate", "migrate-cancel", "pause", "unpause",
                                     "soft-reboot", "reset", "console", "vnc", "guestosinfo", "expose", "version"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        parse(command, "--help")
    assert done.value.code == 0
    assert f"usage: virtctl {command}" in capsys.readouterr().out
