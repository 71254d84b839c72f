"""Container processes: start, adopt after a restart, signal, and wait for exit.

A container whose program has a warm-start template (`warmstart`) is forked from it. Any other is
started with `posix_spawn` as `unshare --mount --propagation private python -S -m
virt_local.podrunner.mountexec SPEC`, in its own session (so its process group can be killed as a
whole), stdout and stderr appended to its log file. Its pid and kernel start time go to a pid file;
after a restart of virt-local, `adopt` accepts a pid file only if that pid still has that start time,
so a recycled pid is never mistaken for the container.

Exits are observed through a pidfd. For our own children the exit status is reaped with `waitpid`; a
warm-started container's comes from its template; an adopted process is not our child, so its exit
status is unknown (`None`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .warmstart import WarmStarter

UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
#: the directory holding the `virt_local` package, where the mount helper is imported from
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
#: what the project's containers run from (this checkout, the virtualenv, the interpreter's installation):
#: no volume may hide them (`mountexec.apply_mounts`)
RUNTIME_DIRS = tuple(sorted({PACKAGE_ROOT, sys.prefix, sys.base_prefix}))


@dataclass(frozen=True)
class ContainerProcess:
    pid: int
    start_ticks: int
    adopted: bool = False
    #: forked from a warm-start template, which reports its exit status
    warm: WarmStarter | None = None


def start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields and fields[0] == "Z":
        return None
    return int(fields[19])


def _resolve(program: str, env: dict[str, str]) -> str | None:
    if "/" in program:
        return program
    return shutil.which(program, path=env.get("PATH") or os.defpath)


async def spawn(spec: dict[str, Any], spec_file: Path, log_file: Path, pid_file: Path,
                warm: WarmStarter | None = None) -> ContainerProcess:
    """Start a container: forked from a warm-start template when its program has one, else cold.

    File work runs in a thread: the node's event loop serves every Pod (and the scheduler)."""
    await asyncio.to_thread(_write_spec, spec, spec_file, log_file)
    program = _resolve(str(spec["argv"][0]), dict(spec.get("env") or {})) if spec.get("argv") else None
    name = warm.entry_for(program) if warm is not None and program else None
    if warm is not None and name is not None:
        pid = await warm.spawn(name, spec, log_file)
        if pid is not None:
            return await asyncio.to_thread(_record, ContainerProcess(pid, start_ticks(pid) or 0, warm=warm), pid_file)
    return await asyncio.to_thread(spawn_cold, spec_file, log_file, pid_file)


def _write_spec(spec: dict[str, Any], spec_file: Path, log_file: Path) -> None:
    spec_file.write_text(json.dumps(spec))
    log_file.parent.mkdir(parents=True, exist_ok=True)


def _record(proc: ContainerProcess, pid_file: Path) -> ContainerProcess:
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{proc.pid} {proc.start_ticks}\n")
    tmp.replace(pid_file)
    return proc


def spawn_cold(spec_file: Path, log_file: Path, pid_file: Path) -> ContainerProcess:
    # `-S`: the helper needs only the standard library and its own package (found through PYTHONPATH),
    # so the interpreter skips `site` and the path hooks of the installation, about a fifth of its start.
    argv = [UNSHARE, "--mount", "--propagation", "private", sys.executable, "-S", "-m",
            "virt_local.podrunner.mountexec", str(spec_file)]
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": PACKAGE_ROOT}
    pid = os.posix_spawn(UNSHARE, argv, env, file_actions=actions, setsid=True)
    return _record(ContainerProcess(pid, start_ticks(pid) or 0), pid_file)


def adopt(pid_file: Path) -> ContainerProcess | None:
    """The process a pid file names, if it is still the same process."""
    try:
        pid_s, ticks_s = pid_file.read_text().split()
        pid, ticks = int(pid_s), int(ticks_s)
    except (OSError, ValueError):
        return None
    if start_ticks(pid) != ticks or ticks == 0:
        return None
    return ContainerProcess(pid, ticks, adopted=True)


def is_alive(proc: ContainerProcess) -> bool:
    return start_ticks(proc.pid) == proc.start_ticks


def send(proc: ContainerProcess, sig: int) -> None:
    if is_alive(proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def kill_group(proc: ContainerProcess) -> None:
    """SIGKILL the container's whole session/process group (its children too)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    send(proc, signal.SIGKILL)


def _reap(pid: int) -> int | None:
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if got == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


async def wait_for_exit(proc: ContainerProcess) -> int | None:
    """Wait until the process ends; its exit code (128+signal when killed), None if unknown."""
    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(proc.pid)
    except ProcessLookupError:
        if proc.warm is not None:
            return await proc.warm.exit_code(proc.pid, 5.0)
        return None if proc.adopted else _reap(proc.pid)
    done: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not done.done():
            done.set_result(None)
    loop.add_reader(fd, ready)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    if proc.adopted:
        return None
    if proc.warm is not None:
        return await proc.warm.exit_code(proc.pid, 5.0)
    for _ in range(100):
        code = _reap(proc.pid)
        if code is not None:
            return code
        await asyncio.sleep(0.01)
    return None
