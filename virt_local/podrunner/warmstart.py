"""Warm start of the project's own Python containers: fork a process that has already imported them.

Starting `virt-launcher` cold costs about 0.2 CPU-seconds, nearly all of it the interpreter starting and
importing asyncio, libvirt and the launcher; with a hundred VMIs created at once that is what a node
spends its CPU on. A kubelet on a cluster cannot avoid it; virt-local's pod runner, which runs these
images as local processes anyway, can: for an entry point listed in `WARM_ENTRIES` it keeps one
*template* process per entry point (`python -m virt_local.podrunner.warmstart MODULE:FUNCTION NAME`) that has imported
the program (and called its module's `preload()` when there is one), and forks it for each container.

What the container gets is what a cold start gives it: its cgroups (joined first), its own session, stdin from /dev/null, stdout
and stderr appended to its log file, a private mount namespace with the Pod's bind mounts, its working
directory, exactly its environment, `sys.argv` from the Pod's command and args, and the process name
(`comm`) of the program. Only `/proc/PID/cmdline` differs: it is the template's. A failure before the
program runs is written to the spec's `startError` and ends the process with code 128, as in
`mountexec`.

Protocol, one JSON object per line: the pod runner writes `{"id": N, "spec": SPEC, "log": PATH}` to the
template's stdin (SPEC as `mountexec` takes it); the template answers `{"id": N, "pid": PID}` or
`{"id": N, "error": MESSAGE}` on stdout, and `{"exit": PID, "code": CODE}` when a container it forked
ends (128+signal when killed). The template exits when its stdin closes; the containers it forked live on
(they are in their own sessions) and are adopted like any container after a restart of virt-local.

`WarmStarter` is the pod runner's side: it starts templates on demand, restarts one that died, and
returns None (meaning "start it cold") when a template cannot be had.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import json
import logging
import os
import selectors
import signal
import sys
import traceback
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: console scripts of this virtualenv that are started from a template process
WARM_ENTRIES = ("virt-launcher",)
VENV_BIN = Path(sys.executable).parent
PR_SET_NAME = 15
#: the directory holding the `virt_local` package, so the template imports this checkout's code
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def entry_point(name: str) -> str | None:
    """`module:function` of the console script `name` of this installation."""
    for ep in metadata.entry_points(group="console_scripts", name=name):
        module, _, func = ep.value.partition(":")
        return f"{module.strip()}:{func.strip() or 'main'}"
    return None


def default_programs() -> dict[str, str]:
    """Program path → `module:function` for the warm entry points installed here."""
    out = {}
    for name in WARM_ENTRIES:
        target = entry_point(name)
        if target is not None and (VENV_BIN / name).exists():
            out[str(VENV_BIN / name)] = target
    return out


# ---- the template process ----------------------------------------------------------------------


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _run_container(spec: dict[str, Any], log_file: str, name: str, target: Any,
                   template_fds: tuple[int, ...]) -> None:
    """In the forked child: become the container, run its program, never return."""
    from virt_local.podrunner import mountexec

    try:
        mountexec.join_cgroups(list(spec.get("cgroups") or []))
        os.setsid()
        signal.set_wakeup_fd(-1)
        # The dispositions a freshly started interpreter has: SIGINT raises KeyboardInterrupt, SIGPIPE
        # stays ignored (a write to a closed socket is an error, not death), the rest default.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        null = os.open("/dev/null", os.O_RDONLY)
        out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        for fd in (null, out, *template_fds):
            os.close(fd)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
        mountexec.private_mount_namespace(libc)
        mountexec.apply_mounts(libc, spec.get("mounts") or [], spec.get("keep"))
        os.chdir(spec.get("cwd") or "/")
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in (spec.get("env") or {}).items()})
        sys.argv = [str(a) for a in spec["argv"]]
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdio
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115 - line-buffered, as Python makes it
        if "random" in sys.modules:
            sys.modules["random"].seed()
    except BaseException as e:  # noqa: BLE001 - every failure becomes the container's StartError
        mountexec.start_error(spec, e)
    code = 0
    try:
        target()
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - as the interpreter would: print it and exit 1
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code & 0xFF)


def serve(target_name: str, name: str) -> None:
    """The template's loop: fork a container per request, report their exits. Ends on EOF of stdin.

    `target_name` is the program as `module:function`, `name` its process name."""
    module, _, func = target_name.partition(":")
    loaded = importlib.import_module(module)
    preload = getattr(loaded, "preload", None)
    if callable(preload):
        preload()
    target = getattr(loaded, func or "main")
    import gc
    gc.collect()
    gc.freeze()  # what the template holds is never collected again, so the children's copies stay shared

    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    buffer = b""

    def say(msg: Mapping[str, Any]) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            say({"exit": pid, "code": _exit_code(status)})

    say({"ready": os.getpid()})
    while True:
        for key, _ in sel.select():
            if key.fd == wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 512)
                reap()
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    req = json.loads(line)
                    spec, log_file, rid = dict(req["spec"]), str(req["log"]), req["id"]
                except (ValueError, KeyError, TypeError) as e:
                    say({"error": f"bad request: {e}"})
                    continue
                try:
                    pid = os.fork()
                except OSError as e:
                    say({"id": rid, "error": f"fork: {e}"})
                    continue
                if pid == 0:
                    _run_container(spec, log_file, name, target, (wake_r, wake_w, sel.fileno()))
                say({"id": rid, "pid": pid})
        reap()


# ---- the pod runner's side ---------------------------------------------------------------------


class _Template:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.reader: asyncio.Task[None] | None = None


class WarmStarter:
    """Templates by program; `spawn` forks a container from one, `exit_code` reports its end.

    `programs` maps a program's path to the `module:function` its template runs (default: the
    installed `WARM_ENTRIES`); `VIRT_LOCAL_WARM_START=0` in the environment turns warm starts off."""

    def __init__(self, programs: Mapping[str, str] | None = None) -> None:
        self._programs = dict(default_programs() if programs is None else programs)
        self._templates: dict[str, _Template] = {}
        self._starting: dict[str, asyncio.Lock] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        if os.environ.get("VIRT_LOCAL_WARM_START", "1") in ("0", "false", "no"):
            self._programs.clear()

    def entry_for(self, program: str) -> str | None:
        """The program a container's resolved command is, when it has a template."""
        return program if program in self._programs else None

    async def _template(self, name: str) -> _Template | None:
        lock = self._starting.setdefault(name, asyncio.Lock())
        async with lock:
            t = self._templates.get(name)
            if t is not None and t.proc.returncode is None:
                return t
            env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "PYTHONPATH": PACKAGE_ROOT,
                   "PYTHONDONTWRITEBYTECODE": "1"}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "virt_local.podrunner.warmstart", self._programs[name], Path(name).name,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, env=env, start_new_session=True, limit=1 << 20)
            assert proc.stdout is not None
            try:
                first = await asyncio.wait_for(proc.stdout.readline(), 30)
                if not json.loads(first or b"{}").get("ready"):
                    raise ValueError(f"unexpected first line {first!r}")
            except (TimeoutError, ValueError) as e:
                log.warning("warm start of %s unavailable: %s", name, e)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
                return None
            t = _Template(proc)
            t.reader = asyncio.create_task(self._read(name, t))
            self._templates[name] = t
            log.info("warm start template for %s ready (pid %d)", name, proc.pid)
            return t

    async def _read(self, name: str, t: _Template) -> None:
        assert t.proc.stdout is not None
        while line := await t.proc.stdout.readline():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "exit" in msg:
                fut = self._exits.get(int(msg["exit"]))
                if fut is None or fut.done():
                    fut = self._exits[int(msg["exit"])] = asyncio.get_running_loop().create_future()
                fut.set_result(int(msg["code"]))
            elif (fut := t.pending.pop(int(msg.get("id", -1)), None)) is not None and not fut.done():
                if "pid" in msg:
                    # A new process: its exit (reported on a later line) goes to a fresh future.
                    self._exits[int(msg["pid"])] = asyncio.get_running_loop().create_future()
                    fut.set_result(int(msg["pid"]))
                else:
                    fut.set_exception(OSError(str(msg.get("error"))))
        for fut in t.pending.values():
            if not fut.done():
                fut.set_exception(OSError(f"the warm start template of {name} exited"))
        t.pending.clear()
        log.warning("warm start template for %s (pid %d) ended", name, t.proc.pid)

    async def spawn(self, name: str, spec: Mapping[str, Any], log_file: Path) -> int | None:
        """The pid of a container forked from `name`'s template; None if no template can be had."""
        t = await self._template(name)
        if t is None or t.proc.stdin is None:
            return None
        t.next_id += 1
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        t.pending[t.next_id] = fut
        try:
            t.proc.stdin.write(json.dumps({"id": t.next_id, "spec": spec, "log": str(log_file)}).encode() + b"\n")
            await t.proc.stdin.drain()
            pid = await asyncio.wait_for(fut, 30)
        except (OSError, TimeoutError, ConnectionError) as e:
            t.pending.pop(t.next_id, None)
            log.warning("warm start of %s failed, starting it cold: %s", name, e)
            return None
        return pid

    async def exit_code(self, pid: int, timeout: float) -> int | None:  # noqa: ASYNC109
        """The exit code the template reported for `pid` (which has ended), None if it does not come."""
        fut = self._exits.get(pid)
        if fut is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            return None
        finally:
            if fut.done():
                self._exits.pop(pid, None)

    async def close(self) -> None:
        for t in self._templates.values():
            if t.proc.stdin is not None:
                t.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(t.proc.wait(), 5)
            if t.proc.returncode is None:
                t.proc.kill()
                await t.proc.wait()
            if t.reader is not None:
                t.reader.cancel()
        self._templates.clear()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
