"""The first program of every container: bind mounts, then exec of the container's command.

Run as `unshare --mount --propagation private <python> -S -m virt_local.podrunner.mountexec SPEC`, so
the mounts it makes are private to the container. SPEC is a JSON file: `mounts` (source, target,
readOnly; parents first), `keep` (directories that must stay visible over the mounts: the runtime and
the Pod's directory), `cgroups` (the `cgroup.procs` files of the container's cgroups, joined first, so
nothing the container starts is outside them), `argv`, `env`, `cwd` and `startError` (a file to
describe a failure in).
The process keeps its pid through the exec, so the pid the pod runner recorded is the container's.
A failure before the exec (missing mount source, command not found) is written to `startError` and
ends the process with code 128, as a container runtime's StartError does. Standard library only:
this runs once per container start and must start fast.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from pathlib import Path
from typing import Any

MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
CLONE_NEWNS = 0x00020000


def _mount(libc: Any, source: str | None, target: str, flags: int) -> None:
    rc = libc.mount(source.encode() if source else None, target.encode(), None, flags, None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or ''} on {target}: {os.strerror(err)}")


def bind(libc: Any, source: str, target: str, read_only: bool) -> None:
    src = Path(source)
    if not src.exists():
        raise FileNotFoundError(f"mount source {source} does not exist")
    tgt = Path(target)
    if src.is_dir():
        tgt.mkdir(parents=True, exist_ok=True)
    elif not tgt.exists():
        tgt.parent.mkdir(parents=True, exist_ok=True)
        tgt.touch()
    _mount(libc, source, target, MS_BIND | MS_REC)
    if read_only:
        _mount(libc, None, target, MS_BIND | MS_REMOUNT | MS_RDONLY)


def _under(path: str, parent: str) -> bool:
    return path.startswith(parent.rstrip("/") + "/")


def apply_mounts(libc: Any, mounts: list[dict[str, Any]], keep: list[str] | None = None) -> None:
    """Bind-mount every `mounts` entry (parents first) in the current mount namespace.

    A container here shares the machine's root file system, so a volume mounted over a directory
    (an emptyDir at /tmp) hides whatever lies below it there, and virt-local's own runtime may lie
    below it (a checkout, a virtualenv or a data dir under /tmp). Every path in `keep` that such a
    mount would hide is bound again inside the new mount, as it was: on a cluster those files are
    part of the image and no volume hides them.
    """
    # Every source is opened before the first mount, so a mount over a parent of the data dir does
    # not hide later sources.
    held = [os.open(m["source"], os.O_PATH) if os.path.exists(m["source"]) else -1 for m in mounts]
    kept = {path: os.open(path, os.O_PATH) for path in keep or () if os.path.isdir(path)}
    try:
        for m, fd in zip(mounts, held, strict=True):
            target = str(m["target"])
            bind(libc, m["source"] if fd < 0 else f"/proc/self/fd/{fd}", target, bool(m.get("readOnly")))
            for path, kfd in kept.items():
                if _under(path, target):
                    try:
                        Path(path).mkdir(parents=True, exist_ok=True)
                    except OSError as e:
                        raise OSError(e.errno, f"volume mounted at {target} hides {path}, which the container "
                                               f"needs, and it cannot be made visible again: {e.strerror}") from None
                    _mount(libc, f"/proc/self/fd/{kfd}", path, MS_BIND | MS_REC)
    finally:
        for fd in [*held, *kept.values()]:
            if fd >= 0:
                os.close(fd)


def private_mount_namespace(libc: Any) -> None:
    """What `unshare --mount --propagation private` does, for a process that is already running."""
    if libc.unshare(CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare of the mount namespace: {os.strerror(err)}")
    _mount(libc, "none", "/", MS_REC | MS_PRIVATE)


def join_cgroups(procs_files: list[str]) -> None:
    """Move this process into the container's cgroups, before anything of the container runs."""
    for path in procs_files:
        try:
            with open(path, "w") as f:
                f.write("0")
        except OSError as e:
            raise OSError(e.errno, f"joining the container's cgroup {os.path.dirname(path)}: {e.strerror}") from None


def start_error(spec: dict[str, Any], e: BaseException) -> None:
    """Describe a failure before the container's program runs, as a container runtime's StartError."""
    message = f"failed to start the container process: {e}"
    if spec.get("startError"):
        Path(spec["startError"]).write_text(message)
    print(message, file=sys.stderr, flush=True)
    os._exit(128)


def main(argv: list[str]) -> None:
    spec: dict[str, Any] = json.loads(Path(argv[1]).read_text())
    try:
        join_cgroups(list(spec.get("cgroups") or []))
        libc = ctypes.CDLL(None, use_errno=True)
        apply_mounts(libc, spec.get("mounts") or [], spec.get("keep"))
        if spec.get("cwd"):
            os.chdir(spec["cwd"])
        args = list(spec["argv"])
        env = dict(spec.get("env") or {})
        try:
            os.execvpe(args[0], args, env)
        except FileNotFoundError:
            raise RuntimeError(f'exec: "{args[0]}": executable file not found in $PATH') from None
    except Exception as e:  # noqa: BLE001 - every failure becomes the container's StartError
        start_error(spec, e)


if __name__ == "__main__":
    main(sys.argv)
