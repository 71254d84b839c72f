"""Containers forked from a warm-start template get what a cold start gives them.

The template runs `tests.support.warm_probe:main` for the program path `/opt/probe/warm-probe` (a path
that needs not exist: the pod runner only matches it). Each test starts containers through
`process.spawn`, as the pod worker does, and checks the container's view and its exit status.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.wait import wait_for_async
from virt_local.podrunner import process
from virt_local.podrunner.warmstart import WarmStarter

PROGRAM = "/opt/probe/warm-probe"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers get a private mount namespace: needs root")


@pytest.fixture
async def warm() -> AsyncIterator[WarmStarter]:
    starter = WarmStarter({PROGRAM: "tests.support.warm_probe:main"})
    yield starter
    await starter.close()


def spec(tmp_path: Path, env: dict[str, str], mounts: list[dict[str, Any]] | None = None,
         argv: list[str] | None = None) -> dict[str, Any]:
    return {"argv": argv or [PROGRAM, "one", "two words"], "env": env, "cwd": str(tmp_path), "mounts": mounts or [],
            "startError": str(tmp_path / "start-error")}


async def run(tmp_path: Path, warm: WarmStarter | None, sp: dict[str, Any],
              name: str = "c") -> tuple[process.ContainerProcess, int | None, str]:
    log = tmp_path / f"{name}.log"
    proc = await process.spawn(sp, tmp_path / f"{name}.json", log, tmp_path / f"{name}.pid", warm)
    code = await asyncio.wait_for(process.wait_for_exit(proc), 20)
    return proc, code, log.read_text()


async def test_the_container_gets_its_argv_env_cwd_session_name_and_log(tmp_path: Path, warm: WarmStarter) -> None:
    env = {"PATH": "/usr/bin:/bin", "POD_NAME": "p1", "PROBE_EXIT": "3"}
    proc, code, out = await run(tmp_path, warm, spec(tmp_path, env))
    assert proc.warm is warm and not proc.adopted
    seen = json.loads(out.splitlines()[0])
    assert seen["argv"] == [PROGRAM, "one", "two words"]
    assert seen["env"] == env  # exactly the Pod's environment, nothing of the template's
    assert seen["cwd"] == str(tmp_path)
    assert seen["comm"] == "warm-probe"
    assert seen["sid_is_pid"] is True
    assert seen["stdin"] == ""
    assert seen["mntns"] != os.readlink("/proc/self/ns/mnt")
    # as in a freshly started interpreter
    assert seen["signals"] == {"SIGINT": str(signal.default_int_handler), "SIGPIPE": str(signal.SIG_IGN),
                               "SIGTERM": str(signal.SIG_DFL)}
    assert code == 3
    assert (tmp_path / "c.pid").read_text().split()[0] == str(proc.pid)


async def test_bind_mounts_are_private_to_the_container(tmp_path: Path, warm: WarmStarter) -> None:
    src = tmp_path / "volume"
    src.mkdir()
    (src / "marker").write_text("x")
    target = tmp_path / "mnt" / "data"
    env = {"PROBE_CHECK_PATH": str(target / "marker")}
    _, code, out = await run(tmp_path, warm, spec(tmp_path, env, [{"source": str(src), "target": str(target),
                                                                   "readOnly": True}]))
    assert code == 0
    assert json.loads(out)["check"] is True
    assert not (target / "marker").exists()  # not in the pod runner's mount namespace


async def test_a_missing_mount_source_is_a_start_error_with_code_128(tmp_path: Path, warm: WarmStarter) -> None:
    sp = spec(tmp_path, {}, [{"source": str(tmp_path / "nope"), "target": str(tmp_path / "t")}])
    _, code, out = await run(tmp_path, warm, sp)
    assert code == 128
    assert "does not exist" in (tmp_path / "start-error").read_text()
    assert "failed to start the container process" in out


async def test_an_uncaught_exception_exits_1_with_the_traceback_in_the_log(tmp_path: Path,
                                                                         warm: WarmStarter) -> None:
    _, code, out = await run(tmp_path, warm, spec(tmp_path, {"PROBE_RAISE": "boom"}))
    assert code == 1
    assert "RuntimeError: boom" in out


async def test_a_killed_container_reports_128_plus_the_signal(tmp_path: Path, warm: WarmStarter) -> None:
    log = tmp_path / "k.log"
    proc = await process.spawn(spec(tmp_path, {"PROBE_SLEEP": "30"}), tmp_path / "k.json", log, tmp_path / "k.pid",
                               warm)
    await wait_for_async(lambda: log.exists() and log.read_text(), interval=0.02, message="the probe's first line")
    process.kill_group(proc)
    assert await asyncio.wait_for(process.wait_for_exit(proc), 20) == 128 + signal.SIGKILL


async def test_concurrent_starts_and_a_template_that_died_is_started_again(tmp_path: Path,
                                                                         warm: WarmStarter) -> None:
    results = await asyncio.gather(*(run(tmp_path, warm, spec(tmp_path, {"PROBE_EXIT": str(i)}), f"c{i}")
                                     for i in range(8)))
    assert [code for _, code, _ in results] == list(range(8))
    template = warm._templates[PROGRAM].proc  # noqa: SLF001 - the test kills the template on purpose
    template.kill()
    await template.wait()
    _, code, out = await run(tmp_path, warm, spec(tmp_path, {"PROBE_EXIT": "5"}), "after")
    assert code == 5 and json.loads(out)["argv"][0] == PROGRAM
    assert warm._templates[PROGRAM].proc.pid != template.pid  # noqa: SLF001


async def test_programs_without_a_template_start_cold(tmp_path: Path, warm: WarmStarter) -> None:
    proc, code, out = await run(tmp_path, warm, spec(tmp_path, {"PATH": "/usr/bin:/bin"}, argv=["sh", "-c", "echo cold; exit 4"]))
    assert proc.warm is None
    assert (code, out.strip()) == (4, "cold")


@pytest.mark.parametrize("warm_start", [True, False], ids=["warm", "cold"])
async def test_a_volume_over_a_parent_of_the_runtime_does_not_hide_it(tmp_path: Path, warm: WarmStarter,
                                                                       warm_start: bool) -> None:
    """An emptyDir at /tmp must not hide a checkout, virtualenv or data dir under /tmp: kept directories
    are bound again inside the mount, and the volume itself is what the container sees elsewhere."""
    base = tmp_path / "base"
    runtime = base / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "marker").write_text("kept")
    (base / "other").write_text("hidden by the volume")
    volume = tmp_path / "empty-dir"
    volume.mkdir()
    mounts = [{"source": str(volume), "target": str(base)}]
    check = f"test -f {runtime}/marker && ! test -e {base}/other && echo visible"
    sp = spec(tmp_path, {"PATH": "/usr/bin:/bin", "PROBE_CHECK_PATH": str(runtime / "marker")}, mounts,
              argv=None if warm_start else ["sh", "-c", check])
    sp["keep"] = [str(runtime)]
    _, code, out = await run(tmp_path, warm if warm_start else None, sp)
    assert code == 0, out
    assert (json.loads(out)["check"] is True) if warm_start else (out.strip() == "visible")
    sp["keep"] = []
    _, code, out = await run(tmp_path, warm if warm_start else None, sp, "without")
    assert (json.loads(out)["check"] is False) if warm_start else (code == 1)
